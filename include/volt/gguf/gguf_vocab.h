// The tokenizer of a model directory as llama.cpp reads it from GGUF metadata (tokenizer.ggml.*):
//   model       "gpt2" for byte-level BPE (GPT-2, Llama 3, Qwen: tokens, merges and `pre`, the
//               name of the pre-tokenizer regex llama.cpp implements), "llama" for
//               SentencePiece-style BPE with byte fallback (Llama 2, Mistral, Gemma: tokens with
//               U+2581 for spaces, scores that order the merges, <0xXX> byte tokens)
//   token_type  1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
//   special ids bos/eos/unknown/padding, add_bos_token / add_eos_token (what volt's own encode
//               with special tokens does), and tokenizer.chat_template.
// Read from tokenizer.json (+ tokenizer_config.json) or a SentencePiece tokenizer.model. A
// tokenizer llama.cpp cannot reproduce is an error naming what does not fit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "volt/gguf/gguf_writer.h"

namespace volt::gguf {

struct Vocab {
  std::string model;  // "gpt2" | "llama"
  std::string pre;    // tokenizer.ggml.pre: "gpt-2", "llama-bpe", "qwen2", "default"
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<float> scores;        // "llama" only
  std::vector<std::string> merges;  // "gpt2" only: "a b"
  std::optional<int64_t> bos, eos, unk, pad;
  bool add_bos = false, add_eos = false;
  std::optional<bool> add_space_prefix;  // "llama": SentencePiece's dummy prefix
  bool normalizer_nfc = false;
  std::string chat_template;  // empty: none
};

/// The vocabulary of the tokenizer saved in dir, padded with [PAD<i>] (unused) up to vocab_size
/// (the model's embedding rows). `fallback_eos` is config.json's first eos_token_id, used when the
/// tokenizer names no EOS.
Vocab read_vocab(const std::string& dir, int64_t vocab_size, std::optional<int64_t> fallback_eos);

/// Writes tokenizer.ggml.* and tokenizer.chat_template.
void add_vocab(Writer& w, const Vocab& v);

}  // namespace volt::gguf

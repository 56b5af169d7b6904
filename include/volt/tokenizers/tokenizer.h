// One interface for every tokenizer volt knows: Hugging Face tokenizer.json (byte-level BPE,
// SentencePiece-style BPE, WordPiece), GPT-2's vocab.json + merges.txt, tiktoken ranks,
// SentencePiece .model files and character level. Whatever the format, encode() must give the
// ids the format's reference implementation gives: one wrong id silently ruins a fine-tune.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace volt {

/// A token outside the model's vocabulary proper: special tokens (<|endoftext|>, <s>) and tokens a
/// user added. Matched in the text before the model sees it, as Hugging Face does.
struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool special = false;
  bool lstrip = false;       // swallow whitespace on the left
  bool rstrip = false;       // swallow whitespace on the right
  bool single_word = false;  // match only as a whole word
  bool normalized = false;   // match against the normalized text (else the raw text)
};

struct EncodeOptions {
  /// The ids start with bos_id(): prepended unless add_special_tokens already put it there. An
  /// error naming the tokenizer if it has no BOS (Qwen, GPT-2 without a tokenizer_config.json).
  bool add_bos = false;
  /// The ids end with eos_id(): appended unless add_special_tokens already put it there. An error
  /// if the tokenizer has no EOS.
  bool add_eos = false;
  /// Put special_tokens_template() around the text's ids: what Hugging Face's
  /// add_special_tokens=True does (Llama 3.1 and Gemma 3 prepend their BOS, Qwen3 adds nothing).
  /// Off by default: the text's own ids only.
  bool add_special_tokens = false;
  /// Recognise added/special tokens written in the text ("<|endoftext|>" -> its id), as Hugging
  /// Face does. Off: they are ordinary text (tiktoken's encode_ordinary).
  bool parse_special = true;
};

/// The bytes [start, end) of a text.
struct ByteSpan {
  size_t start = 0;
  size_t end = 0;
  bool empty() const { return start == end; }
  bool operator==(const ByteSpan& o) const { return start == o.start && end == o.end; }
  bool operator!=(const ByteSpan& o) const { return !(*this == o); }
};

/// Ids and, for each, the bytes of the input text it came from (Tokenizer::encode_with_offsets).
struct Encoding {
  std::vector<int64_t> ids;
  std::vector<ByteSpan> offsets;  // offsets[i]: the bytes behind ids[i]
};

/// The ids add_special_tokens puts before and after a text's own ids.
struct SpecialTokensTemplate {
  std::vector<int64_t> prefix;
  std::vector<int64_t> suffix;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Text (UTF-8; invalid UTF-8 is an error naming the byte offset) to ids.
  std::vector<int64_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  /// encode()'s ids (the same ids, always) with the byte offsets in `text` each came from, like
  /// Hugging Face's return_offsets_mapping but in bytes:
  ///   - a token from the text covers the input bytes it was made of; consecutive tokens are
  ///     contiguous except where the tokenizer drops input (whitespace a pre-tokenizer removes,
  ///     characters a normalizer deletes, SentencePiece's collapsed extra spaces);
  ///   - a byte-level token holding part of a multi-byte character covers just those bytes (its
  ///     slice of the text is then not valid UTF-8 on its own);
  ///   - where a normalizer rewrites a character into several (NFD, "▁" for " ") and they end up
  ///     in different tokens, each of those tokens covers the whole input character; where it
  ///     rewrites a run of characters as a whole (NFC composing "e" + U+0301, or jamo), the tokens
  ///     made of the result cover the whole run;
  ///   - an added or special token matched in the text covers the bytes it matched, with the
  ///     whitespace its lstrip/rstrip swallowed;
  ///   - what the tokenizer inserts covers no input: SentencePiece's dummy-prefix "▁", Metaspace's
  ///     and Prepend's "▁", ByteLevel's prefix space add nothing to the token they start, and a
  ///     token made of only such bytes is an empty span where they were inserted; BOS, EOS and
  ///     template tokens are empty spans at 0 (before the text) or text.size() (after it).
  /// Starts and ends never decrease from one token to the next: in the rare places where the
  /// alignment would step back (an inserted "▁" between two tokens sharing a rewritten character),
  /// the token takes the bytes of the one before it.
  Encoding encode_with_offsets(std::string_view text, const EncodeOptions& options = {}) const;
  /// Encodes many texts on `threads` threads (0: every core); results in input order.
  std::vector<std::vector<int64_t>> encode_batch(const std::vector<std::string>& texts,
                                                 const EncodeOptions& options = {},
                                                 int threads = 0) const;
  /// Ids to text. Ids out of range are an error naming them.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
  virtual std::string id_to_token(int64_t id) const = 0;
  /// The end-of-sequence token as the tokenizer names it (tokenizer_config.json's eos_token for a
  /// Hugging Face tokenizer: the end of a turn for chat models, e.g. Qwen3's <|im_end|>). The
  /// several eos_token_id of a generation_config.json are the model's, not the tokenizer's.
  virtual std::optional<int64_t> eos_id() const { return std::nullopt; }
  /// The beginning-of-sequence token: tokenizer_config.json's bos_token, else the first token of
  /// the post-processor's template, else none (never guessed from token names).
  virtual std::optional<int64_t> bos_id() const { return std::nullopt; }
  virtual std::optional<int64_t> pad_id() const { return std::nullopt; }
  /// What add_special_tokens puts around the text (Hugging Face's add_special_tokens=True).
  virtual SpecialTokensTemplate special_tokens_template() const { return {}; }
  /// True when add_special_tokens starts the ids with bos_id(): whether a model trained through
  /// transformers saw BOS at the start of each text.
  bool adds_bos_by_default() const;
  /// True when add_special_tokens ends the ids with eos_id().
  bool adds_eos_by_default() const;
  /// Special and user-added tokens, in id order.
  virtual std::vector<AddedToken> added_tokens() const { return {}; }
  /// Writes the tokenizer's files into dir (a Hugging Face tokenizer.json where possible).
  virtual void save(const std::string& dir) const = 0;
  /// The format and model, e.g. "char", "hf-bpe", "hf-wordpiece", "tiktoken", "sentencepiece-bpe".
  virtual std::string kind() const = 0;
  /// Which tokenizer this is, for messages: the file it was loaded from (or how it was made).
  virtual std::string source() const = 0;

 protected:
  /// Appends the ids of text (already checked to be valid UTF-8): everything but BOS, EOS and
  /// the special-tokens template.
  virtual void encode_into(std::string_view text, const EncodeOptions& options,
                           std::vector<int64_t>& out) const = 0;
  /// encode_into with, for each id, its bytes in text (see encode_with_offsets).
  virtual void encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                        Encoding& out) const = 0;
};

/// Loads a tokenizer from a file or a directory holding one. Files: tokenizer.json (Hugging Face),
/// vocab.json + merges.txt (GPT-2), *.tiktoken (tiktoken ranks), *.model (SentencePiece).
/// A directory is searched in that order; tokenizer_config.json beside it names BOS/EOS.
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path);

/// Throws a volt::Error naming `context` and the byte offset of the first invalid UTF-8 sequence.
void check_utf8(std::string_view text, const std::string& context = "text");

}  // namespace volt

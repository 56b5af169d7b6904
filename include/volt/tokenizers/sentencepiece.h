// SentencePiece .model files (Llama 2, TinyLlama, Mistral v1, T5, ALBERT): the ModelProto read
// by hand (no protobuf library) and encoded exactly as Google's sentencepiece encodes it:
// normalization (whitespace rules and the precompiled nmt_nfkc charsmap), user-defined symbols,
// the BPE merge loop or the unigram Viterbi search, byte fallback, and sentencepiece's decoder.
// One wrong id silently ruins a fine-tune, so every rule follows sentencepiece's source, and a
// model feature we do not implement is an error rather than an approximation.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "volt/tokenizers/tokenizer.h"

namespace volt {

namespace spm {

// The parts of sentencepiece_model.proto that encoding and decoding read; everything else in the
// file (training options, self-test samples) is skipped.

enum class PieceType : int {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class ModelType : int { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

struct Piece {
  std::string text;
  float score = 0.0f;
  PieceType type = PieceType::kNormal;
};

/// TrainerSpec fields that change encoding or decoding (defaults as in the .proto).
struct TrainerSpec {
  ModelType model_type = ModelType::kUnigram;
  bool treat_whitespace_as_suffix = false;
  bool allow_whitespace_only_pieces = false;
  bool byte_fallback = false;
  int32_t unk_id = 0;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t pad_id = -1;
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  std::string pad_piece = "<pad>";
  std::string unk_surface = " \xE2\x81\x87 ";  // what decode() writes for <unk>: " ⁇ "
};

struct NormalizerSpec {
  std::string name;
  std::string precompiled_charsmap;  // a serialized double-array trie + replacement strings
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

struct ModelProto {
  std::vector<Piece> pieces;
  TrainerSpec trainer_spec;
  NormalizerSpec normalizer_spec;
  bool has_denormalizer_spec = false;
  NormalizerSpec denormalizer_spec;
};

/// Parses a serialized ModelProto. Truncated or malformed bytes are a volt::Error naming `file`
/// and the byte offset of the problem.
ModelProto parse_model_proto(std::string_view bytes, const std::string& file);

/// A normalizer's precompiled_charsmap (sentencepiece's nmt_nfkc, or a custom rule TSV compiled by
/// the trainer): a Darts double-array trie over input byte strings whose values index
/// NUL-terminated replacements. Also the rule table behind Hugging Face's `Precompiled`.
class PrecompiledCharsMap {
 public:
  /// Checks the blob's framing; `file` names the model in errors.
  PrecompiledCharsMap(std::string_view blob, const std::string& file);
  /// A blob whose framing the caller has checked (with its own messages): `trie_units` 32-bit
  /// units after the size word, then the replacements.
  static PrecompiledCharsMap from_checked(std::string_view blob, size_t trie_units);
  /// The longest rule matching a prefix of s: {bytes matched, replacement}, or {0, ""}.
  std::pair<size_t, std::string_view> longest_match(std::string_view s) const;
  /// The first (shortest) rule matching a prefix of s, which is the one the `tokenizers` crate's
  /// Precompiled normalizer (spm_precompiled) applies; nullopt when none matches.
  std::optional<std::string_view> first_match(std::string_view s) const;

 private:
  PrecompiledCharsMap() = default;
  void read(std::string_view blob, size_t trie_units);
  // Darts-clone's commonPrefixSearch: hit(bytes matched, value) for each rule that prefixes s,
  // shortest first, while hit returns true. Bounds-checked: a corrupt trie ends the search.
  template <typename Hit>
  void prefix_search(std::string_view s, Hit hit) const;
  std::vector<uint32_t> units_;
  std::string normalized_;
};

}  // namespace spm

/// A SentencePiece model: BPE (Llama 2, TinyLlama), unigram (T5, ALBERT, XLNet) or char.
///
/// encode() with parse_special=false gives exactly sentencepiece's EncodeAsIds. With
/// parse_special=true (the default) the text of CONTROL and UNKNOWN pieces ("<s>", "</s>",
/// "<unk>") is first split out and mapped to its id, as the Hugging Face conversion of these
/// models (LlamaTokenizer, legacy mode) and llama.cpp do; each stretch of text between them is
/// then encoded as sentencepiece encodes a whole text, dummy-prefix space included.
///
/// Special tokens as transformers' LlamaTokenizer has them, from tokenizer_config.json beside the
/// .model when there is one: bos_token/eos_token (else the model's own <s> and </s> control
/// pieces); add_special_tokens prepends BOS unless add_bos_token is false and appends EOS only if
/// add_eos_token is true. save() writes that config (the loaded one unchanged, else Llama 2's).
///
/// encode_with_offsets: each piece covers the input bytes its normalized text came from; the
/// dummy-prefix "▁" comes from none (a lone "▁" piece is an empty span where the text starts),
/// and spaces the normalizer removed belong to no piece.
///
/// decode() is sentencepiece's DecodeIds: control pieces decode to nothing, <unk> to the unk
/// surface " ⁇ ", byte pieces are reassembled into UTF-8 (a bad byte becomes U+FFFD), and the
/// dummy-prefix space is dropped. skip_special=true also drops <unk>.
class SentencePieceTokenizer : public Tokenizer {
 public:
  /// Reads a .model file (load_tokenizer's entry point for *.model).
  static std::shared_ptr<SentencePieceTokenizer> load(const std::string& path);
  /// From the bytes of a .model file; `file` names it in errors. tokenizer_config: the
  /// tokenizer_config.json that goes with it (null: none).
  SentencePieceTokenizer(std::string model_bytes, const std::string& file,
                         nlohmann::json tokenizer_config = nullptr);
  ~SentencePieceTokenizer() override;

  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  std::optional<int64_t> eos_id() const override;
  std::optional<int64_t> bos_id() const override;
  std::optional<int64_t> pad_id() const override;
  std::optional<int64_t> unk_id() const;
  SpecialTokensTemplate special_tokens_template() const override;
  /// CONTROL, UNKNOWN and USER_DEFINED pieces, in id order (special: the first two kinds).
  std::vector<AddedToken> added_tokens() const override;
  /// Writes the original model bytes to dir/tokenizer.model and tokenizer_config() beside them,
  /// so that transformers' AutoTokenizer loads the directory.
  void save(const std::string& dir) const override;
  /// The loaded tokenizer_config.json, else one for transformers' LlamaTokenizer naming the
  /// model's bos/eos/unk/pad pieces, add_bos_token true (as Llama 2's) and legacy true.
  nlohmann::json tokenizer_config() const;
  /// "sentencepiece-bpe", "sentencepiece-unigram", "sentencepiece-word" or "sentencepiece-char".
  std::string kind() const override;
  std::string source() const override;

  /// The pieces sentencepiece's EncodeAsPieces gives (no special-token splitting).
  std::vector<std::string> encode_as_pieces(std::string_view text) const;
  /// The text after sentencepiece's normalizer (spaces as U+2581, dummy prefix added).
  std::string normalize(std::string_view text) const;
  const spm::ModelProto& model() const;

 protected:
  void encode_into(std::string_view text, const EncodeOptions& options,
                   std::vector<int64_t>& out) const override;
  void encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                Encoding& out) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volt

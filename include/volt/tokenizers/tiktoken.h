// tiktoken's format: a .tiktoken file of "base64(token bytes) rank" lines. Encoding is tiktoken's
// own byte-pair merge (the adjacent pair whose concatenation has the lowest rank merges first;
// a word that is itself a token is emitted whole), after the encoding's regex split.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "volt/tokenizers/pattern.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

class TiktokenTokenizer : public Tokenizer {
 public:
  /// The encoding (pattern and special tokens) comes from the file name (r50k_base, p50k_base,
  /// cl100k_base, o200k_base) or, failing that, the number of ranks (Llama 3's 128,000).
  static std::shared_ptr<TiktokenTokenizer> load(const std::string& path);

  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  std::optional<int64_t> bos_id() const override { return bos_; }
  std::optional<int64_t> eos_id() const override { return eos_; }
  std::vector<AddedToken> added_tokens() const override;
  /// Writes the .tiktoken file under its own name.
  void save(const std::string& dir) const override;
  std::string kind() const override { return "tiktoken:" + encoding_; }
  std::string source() const override { return file_path_; }
  /// Nothing, but Llama 3's BOS for its ranks (Meta's tokenizer.encode(bos=True)).
  SpecialTokensTemplate special_tokens_template() const override;
  const std::string& encoding() const { return encoding_; }

 protected:
  void encode_into(std::string_view text, const EncodeOptions& options,
                   std::vector<int64_t>& out) const override;
  void encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                Encoding& out) const override;

 private:
  TiktokenTokenizer() = default;
  // Splits out special tokens (unless !parse_special): on_text(offset, length), on_special(id,
  // offset, length).
  template <typename OnText, typename OnSpecial>
  void split_special(std::string_view text, bool parse_special, OnText on_text,
                     OnSpecial on_special) const;
  void encode_ordinary(std::string_view text, std::vector<int64_t>& out) const;
  void byte_pair_merge(std::string_view piece, std::vector<int32_t>& out) const;
  int32_t rank_of(std::string_view bytes) const;

  std::string file_path_, file_name_, file_bytes_, encoding_;
  std::vector<std::string> tokens_;  // rank -> bytes (holes are empty)
  std::unordered_map<std::string_view, int32_t> ranks_;
  std::vector<std::pair<std::string, int64_t>> specials_;  // longest first
  std::array<bool, 256> special_first_byte_{};             // bytes a special token can start with
  std::unique_ptr<hf::Pattern> pattern_;
  std::optional<int64_t> bos_, eos_;
  uint64_t uid_ = 0;
};

}  // namespace volt

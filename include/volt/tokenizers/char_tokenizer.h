// Character-level tokenizer (nanoGPT's shakespeare_char): the vocabulary is the sorted set of
// Unicode code points in the training text, one id each.
// Saved as a Hugging Face tokenizer.json (a BPE model with single-character tokens and no merges,
// a Fuse decoder) so transformers/tokenizers load it and encode identically.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "volt/tokenizers/tokenizer.h"

namespace volt {

class CharTokenizer : public Tokenizer {
 public:
  /// The vocabulary of `text`: every distinct code point, sorted.
  static CharTokenizer from_text(const std::string& text);
  /// Tokens in id order, each one UTF-8 encoded code point.
  explicit CharTokenizer(std::vector<std::string> tokens);
  /// Reads a tokenizer.json written by save(); returns nullptr if it is not a char tokenizer.
  static std::shared_ptr<CharTokenizer> try_load(const std::string& tokenizer_json_path);

  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  void save(const std::string& dir) const override;
  std::string kind() const override { return "char"; }
  std::string source() const override;

 protected:
  void encode_into(std::string_view text, const EncodeOptions& options,
                   std::vector<int64_t>& ids) const override;
  void encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                Encoding& out) const override;

 private:
  std::vector<std::string> tokens_;
  std::map<std::string, int64_t> ids_;
  std::array<int64_t, 128> ascii_{};  // id of each ASCII character, -1 when absent
};

/// Splits UTF-8 text into code points (each as its UTF-8 bytes); invalid UTF-8 is an error
/// naming the byte offset.
std::vector<std::string> utf8_chars(const std::string& text, const std::string& context = "text");

}  // namespace volt

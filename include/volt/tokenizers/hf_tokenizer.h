// A Hugging Face tokenizer.json pipeline (added tokens, normalizer, pre-tokenizer, BPE or
// WordPiece model, post-processor, decoder) behind volt's Tokenizer interface. GPT-2's
// vocab.json + merges.txt load into the same pipeline.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

class HfTokenizer : public Tokenizer {
 public:
  /// Builds the pipeline from a parsed tokenizer.json; `where` names the file in errors.
  /// tokenizer_config (tokenizer_config.json, may be null) names BOS/EOS/PAD.
  /// raw_text: the file's bytes, written back verbatim by save() (else the JSON is re-serialized).
  HfTokenizer(const nlohmann::json& tokenizer_json, const std::string& where,
              nlohmann::json tokenizer_config = nullptr, std::string raw_text = "");
  /// tokenizer.json, with tokenizer_config.json from the same directory when there is one.
  static std::shared_ptr<HfTokenizer> load(const std::string& tokenizer_json_path);
  /// GPT-2's original files: vocab.json (token -> id) and merges.txt (one "a b" merge per line).
  static std::shared_ptr<HfTokenizer> load_gpt2_files(const std::string& vocab_json,
                                                      const std::string& merges_txt);

  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  std::optional<int64_t> bos_id() const override { return bos_; }
  std::optional<int64_t> eos_id() const override { return eos_; }
  std::optional<int64_t> pad_id() const override { return pad_; }
  std::vector<AddedToken> added_tokens() const override { return added_; }
  /// tokenizer.json (as loaded, or as built) and tokenizer_config.json naming BOS/EOS/PAD.
  void save(const std::string& dir) const override;
  std::string kind() const override { return kind_; }
  /// The tokenizer.json text this pipeline was built from.
  const std::string& json_text() const { return json_text_; }

 protected:
  void encode_into(std::string_view text, const EncodeOptions& options,
                   std::vector<int64_t>& out) const override;

 private:
  // Added tokens of one kind (matched on the raw or on the normalized text).
  struct AddedSet {
    std::vector<std::pair<std::string, size_t>> patterns;  // (content to match, index in added_)
    std::array<bool, 256> first_byte{};
    bool empty() const { return patterns.empty(); }
  };
  // Splits text into plain pieces and added tokens (AddedVocabulary::find_matches).
  template <typename OnText, typename OnToken>
  void split_added(std::string_view text, const AddedSet& set, bool parse_special, OnText on_text,
                   OnToken on_token) const;
  void encode_plain(std::string_view piece, bool first, std::vector<int64_t>& out) const;
  std::optional<int64_t> id_of(const std::string& token) const;

  std::string json_text_;
  nlohmann::json config_;
  std::string kind_;
  std::unique_ptr<hf::Normalizer> normalizer_;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<hf::Model> model_;
  std::unique_ptr<hf::Decoder> decoder_;
  bool byte_level_ = false;
  std::vector<AddedToken> added_;
  std::unordered_map<int64_t, size_t> added_by_id_;
  std::unordered_map<std::string, size_t> added_by_content_;
  AddedSet raw_set_, normalized_set_;
  // The post-processor for one sequence, reduced to the ids around it.
  std::vector<int64_t> template_prefix_, template_suffix_;
  std::optional<int64_t> bos_, eos_, pad_;
};

}  // namespace volt

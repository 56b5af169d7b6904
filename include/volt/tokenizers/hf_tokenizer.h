// A Hugging Face tokenizer.json pipeline (added tokens, normalizer, pre-tokenizer, BPE or
// WordPiece model, post-processor, decoder) behind volt's Tokenizer interface. GPT-2's
// vocab.json + merges.txt load into the same pipeline.
//
// Special tokens follow transformers, with tokenizer_config.json beside the file:
//   - bos_id/eos_id/pad_id: the config's bos_token/eos_token/pad_token when the key is there
//     (null: none, as Qwen3's bos_token); else BOS is the first token the post-processor's
//     template puts before the text and EOS the last it puts after it; else (no config key and
//     no template token) EOS is the special added token <|endoftext|>, </s> or <|end_of_text|>
//     (the defaults of GPT-2's and Llama's tokenizer classes, for a bare tokenizer.json) and
//     there is no BOS. PAD without a config key is <pad>, [PAD] or <|pad|> when one exists.
//   - special_tokens_template (add_special_tokens): the post-processor's (TemplateProcessing,
//     Bert/RobertaProcessing, ByteLevel, Sequence), unless the config sets add_bos_token or
//     add_eos_token: then BOS and EOS as those say, as transformers 4.x's update_post_processor
//     rebuilds the template (DeepSeek-V3: add_bos_token true, post-processor ByteLevel: BOS).
//     transformers 5.x ignores those two keys when a tokenizer.json exists; see
//     scripts/tokenizer-goldens/README.md for where that changes the ids (DeepSeek-V3 only).
#pragma once

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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
  SpecialTokensTemplate special_tokens_template() const override { return template_; }
  std::vector<AddedToken> added_tokens() const override { return added_; }
  /// tokenizer.json (as loaded, or as built) and tokenizer_config.json: the loaded one with every
  /// key kept as it was (bos_token, add_bos_token, chat_template, ...), plus bos_token,
  /// eos_token and pad_token where it did not have them and the tokenizer has them.
  void save(const std::string& dir) const override;
  std::string kind() const override { return kind_; }
  std::string source() const override { return where_; }
  /// The tokenizer.json text this pipeline was built from.
  const std::string& json_text() const { return json_text_; }

 protected:
  void encode_into(std::string_view text, const EncodeOptions& options,
                   std::vector<int64_t>& out) const override;
  void encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                Encoding& out) const override;

 private:
  // Added tokens of one kind (matched on the raw or on the normalized text), in a byte trie:
  // the longest one starting at a position is found in one walk.
  struct AddedSet {
    std::unordered_map<uint64_t, uint32_t> next;  // (node << 8 | byte) -> child node
    std::vector<int32_t> value{-1};               // node -> index in added_ ending there, or -1
    std::array<bool, 256> first_byte{};
    bool empty() const { return value.size() == 1; }
    void insert(std::string_view content, int32_t index);
    /// The longest content starting at text[i]: {its length, index in added_}, or {0, -1}.
    std::pair<size_t, int32_t> longest(std::string_view text, size_t i) const;
  };
  // Splits text into plain pieces and added tokens (AddedVocabulary::find_matches):
  // on_text(piece, offset), on_token(id, begin, end) with the bytes the token took.
  template <typename OnText, typename OnToken>
  void split_added(std::string_view text, const AddedSet& set, bool parse_special, OnText on_text,
                   OnToken on_token) const;
  void encode_plain(std::string_view piece, bool first, std::vector<int64_t>& out) const;
  // Appends the tokens of a piece of normalized text; from[i]: where its byte i came from in the
  // input text (input_end: where the input ends).
  void encode_plain_aligned(std::string_view piece, const hf::Span* from, uint32_t input_end,
                            bool first, Encoding& out) const;
  std::optional<int64_t> id_of(const std::string& token) const;
  void resolve_special_tokens(const nlohmann::json& post_processor);

  std::string where_;
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
  SpecialTokensTemplate template_;  // what add_special_tokens puts around the text
  std::optional<int64_t> bos_, eos_, pad_;
};

}  // namespace volt

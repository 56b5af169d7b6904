#include "volt/tokenizers/char_tokenizer.h"

#include <filesystem>
#include <set>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/unicode.h"

namespace volt {

using unicode::utf8_length;

std::vector<std::string> utf8_chars(const std::string& text, const std::string& context) {
  std::vector<std::string> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_length(c);
    VOLT_CHECK(n > 0 && i + n <= text.size(), "[tokenizer] ", context, ": invalid UTF-8 at byte ",
               i);
    for (size_t k = 1; k < n; ++k) {
      VOLT_CHECK((static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80, "[tokenizer] ", context,
                 ": invalid UTF-8 at byte ", i + k);
    }
    out.emplace_back(text, i, n);
    i += n;
  }
  return out;
}

CharTokenizer CharTokenizer::from_text(const std::string& text) {
  auto chars = utf8_chars(text);
  std::set<std::string> unique(chars.begin(), chars.end());
  return CharTokenizer(std::vector<std::string>(unique.begin(), unique.end()));
}

CharTokenizer::CharTokenizer(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  VOLT_CHECK(!tokens_.empty(), "[tokenizer] a character vocabulary needs at least one character");
  for (size_t i = 0; i < tokens_.size(); ++i) {
    VOLT_CHECK(ids_.emplace(tokens_[i], static_cast<int64_t>(i)).second,
               "[tokenizer] duplicate character in the vocabulary at id ", i);
  }
  ascii_.fill(-1);
  for (const auto& [tok, id] : ids_) {
    if (tok.size() == 1 && static_cast<unsigned char>(tok[0]) < 128) ascii_[tok[0]] = id;
  }
}

void CharTokenizer::encode_into(std::string_view text, const EncodeOptions&,
                                std::vector<int64_t>& ids) const {
  // Tokenizer::encode has checked the UTF-8; ASCII goes through a table, the rest through the map.
  ids.reserve(ids.size() + text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 128) {
      VOLT_CHECK(ascii_[c] >= 0, "[tokenizer] character ", static_cast<int>(c),
                 " is not in the vocabulary");
      ids.push_back(ascii_[c]);
      ++i;
      continue;
    }
    const size_t n = utf8_length(c);
    auto it = ids_.find(std::string(text.substr(i, n)));
    VOLT_CHECK(it != ids_.end(), "[tokenizer] character '", text.substr(i, n),
               "' is not in the vocabulary");
    ids.push_back(it->second);
    i += n;
  }
}

// One id per character: each covers its character's bytes.
void CharTokenizer::encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                             Encoding& out) const {
  encode_into(text, options, out.ids);
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(static_cast<unsigned char>(text[i]));
    out.offsets.push_back({i, i + n});
    i += n;
  }
}

std::string CharTokenizer::source() const {
  return "a character tokenizer of " + std::to_string(tokens_.size()) + " characters";
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids, bool) const {
  std::string out;
  for (auto id : ids) out += id_to_token(id);
  return out;
}

std::optional<int64_t> CharTokenizer::token_to_id(const std::string& token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string CharTokenizer::id_to_token(int64_t id) const {
  VOLT_CHECK(id >= 0 && id < vocab_size(), "[tokenizer] token id ", id, " is out of range [0, ",
             vocab_size(), ")");
  return tokens_[static_cast<size_t>(id)];
}

void CharTokenizer::save(const std::string& dir) const {
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < tokens_.size(); ++i) vocab[tokens_[i]] = i;
  nlohmann::json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", nlohmann::json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer", nullptr},
      {"post_processor", nullptr},
      {"decoder", {{"type", "Fuse"}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", nlohmann::json::array()}}},
  };
  io::write_json((std::filesystem::path(dir) / "tokenizer.json").string(), j);
  io::write_json((std::filesystem::path(dir) / "tokenizer_config.json").string(),
                 {{"tokenizer_class", "PreTrainedTokenizerFast"},
                  {"model_max_length", 1000000},
                  {"clean_up_tokenization_spaces", false}});
}

std::shared_ptr<CharTokenizer> CharTokenizer::try_load(const std::string& path) {
  const auto j = io::read_json(path);
  if (!j.contains("model") || j["model"].value("type", "") != "BPE") return nullptr;
  // Only the plain form save() writes: anything with a pipeline around it is a general BPE.
  for (const char* stage : {"normalizer", "pre_tokenizer", "post_processor"}) {
    if (j.contains(stage) && !j[stage].is_null()) return nullptr;
  }
  if (j.contains("added_tokens") && !j["added_tokens"].empty()) return nullptr;
  const auto& m = j["model"];
  if (!m.contains("merges") || !m["merges"].empty() || !m.contains("vocab")) return nullptr;
  std::vector<std::string> tokens(m["vocab"].size());
  for (const auto& [tok, id] : m["vocab"].items()) {
    const auto i = id.get<int64_t>();
    VOLT_CHECK(i >= 0 && i < static_cast<int64_t>(tokens.size()), "[tokenizer] ", path,
               ": token id ", i, " out of range");
    if (utf8_chars(tok, path).size() != 1) return nullptr;
    tokens[static_cast<size_t>(i)] = tok;
  }
  return std::make_shared<CharTokenizer>(std::move(tokens));
}

}  // namespace volt

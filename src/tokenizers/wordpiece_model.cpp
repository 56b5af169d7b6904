// The WordPiece model of Hugging Face tokenizer.json (tokenizers/src/models/wordpiece/mod.rs,
// serialization.rs): greedy longest-match-first. From the start of the word, the longest vocabulary
// entry that prefixes the rest is taken (with the continuing-subword prefix, "##", after the
// first piece); when nothing matches, or the word has more than max_input_chars_per_word chars,
// the whole word is the unknown token.
//
// Speed: the crate builds "##" + candidate for every candidate. Here continuation pieces live in a
// second map keyed without the prefix, both maps are keyed by string_view into the token list (no
// allocation per lookup), and candidates longer than the longest entry are never tried.
#include <algorithm>
#include <climits>
#include <unordered_map>

#include "volt/core/check.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

class WordPieceModel : public Model {
 public:
  WordPieceModel(const json& j, const std::string& where) : where_(where) {
    auto opt_string = [&](const char* key, const char* dflt) {
      return j.contains(key) && !j.at(key).is_null() ? j.at(key).get<std::string>()
                                                     : std::string(dflt);
    };
    // WordPieceBuilder's defaults fill in what the file leaves out.
    unk_token_ = opt_string("unk_token", "[UNK]");
    prefix_ = opt_string("continuing_subword_prefix", "##");
    if (j.contains("max_input_chars_per_word") && !j.at("max_input_chars_per_word").is_null()) {
      const auto& v = j.at("max_input_chars_per_word");
      VOLT_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0, "[tokenizer.json] ", where,
                 ": WordPiece max_input_chars_per_word must be a non-negative integer, got ",
                 v.dump());
      max_chars_ = v.get<uint64_t>();
    }

    VOLT_CHECK(j.contains("vocab") && j.at("vocab").is_object(), "[tokenizer.json] ", where,
               ": WordPiece model has no \"vocab\" object");
    const auto& vocab = j.at("vocab");
    tokens_.reserve(vocab.size());
    ids_.reserve(vocab.size());
    int64_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      VOLT_CHECK(it.value().is_number_integer(), "[tokenizer.json] ", where, ": vocab entry '",
                 it.key(), "' has a non-integer id ", it.value().dump());
      const int64_t id = it.value().get<int64_t>();
      // The crate's ids are u32.
      VOLT_CHECK(id >= 0 && id <= UINT32_MAX, "[tokenizer.json] ", where, ": vocab entry '",
                 it.key(), "' has id ", id, " out of range");
      tokens_.push_back(it.key());
      ids_.push_back(id);
      max_id = std::max(max_id, id);
    }
    // tokens_ is complete: the maps' string_views into it stay valid from here on.
    whole_.reserve(tokens_.size());
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const std::string_view tok = tokens_[k];
      whole_[tok] = ids_[k];
      max_len_ = std::max(max_len_, tok.size());
      if (tok.size() >= prefix_.size() && tok.compare(0, prefix_.size(), prefix_) == 0) {
        continuation_[tok.substr(prefix_.size())] = ids_[k];
      }
    }
    // A dense id -> token table unless the ids are very sparse.
    dense_ = static_cast<uint64_t>(max_id + 1) <= 4 * tokens_.size() + 1024;
    if (dense_) {
      by_id_.assign(static_cast<size_t>(max_id + 1), -1);
      for (size_t k = 0; k < tokens_.size(); ++k) by_id_[ids_[k]] = static_cast<int64_t>(k);
    } else {
      for (size_t k = 0; k < tokens_.size(); ++k) sparse_by_id_[ids_[k]] = static_cast<int64_t>(k);
    }
    if (auto it = whole_.find(unk_token_); it != whole_.end()) unk_id_ = it->second;
  }

  void tokenize(std::string_view word, bool byte_level, std::vector<int64_t>& out) const override {
    if (byte_level) {
      const std::string mapped = bytes_to_alphabet(word);
      tokenize_text(mapped, out, nullptr);
    } else {
      tokenize_text(word, out, nullptr);
    }
  }

  void tokenize_spans(std::string_view word, bool byte_level, std::vector<int64_t>& ids,
                      std::vector<Span>& spans) const override {
    const size_t first = spans.size();
    if (!byte_level) {
      tokenize_text(word, ids, &spans);
      return;
    }
    const std::string mapped = bytes_to_alphabet(word);
    tokenize_text(mapped, ids, &spans);
    // Each character of the alphabet stands for one byte of the word.
    const std::vector<Span> raw = alphabet_spans(mapped);
    for (size_t k = first; k < spans.size(); ++k) {
      spans[k] = through(spans[k], raw.data(), raw.size(), static_cast<uint32_t>(word.size()));
    }
  }

  std::optional<int64_t> token_to_id(std::string_view token) const override {
    auto it = whole_.find(token);
    if (it == whole_.end()) return std::nullopt;
    return it->second;
  }

  const std::string* id_to_token(int64_t id) const override {
    int64_t k = -1;
    if (dense_) {
      if (id >= 0 && id < static_cast<int64_t>(by_id_.size())) k = by_id_[id];
    } else if (auto it = sparse_by_id_.find(id); it != sparse_by_id_.end()) {
      k = it->second;
    }
    return k < 0 ? nullptr : &tokens_[k];
  }

  // get_vocab_size: the number of entries, as the crate counts them.
  int64_t vocab_size() const override { return static_cast<int64_t>(whole_.size()); }

  json to_json() const override {
    json vocab = json::object();
    for (const auto& [tok, id] : whole_) vocab[std::string(tok)] = id;
    return {{"type", "WordPiece"},
            {"unk_token", unk_token_},
            {"continuing_subword_prefix", prefix_},
            {"max_input_chars_per_word", max_chars_},
            {"vocab", std::move(vocab)}};
  }

 private:
  // spans (when not null): each piece's bytes in the word; the unknown token covers it all.
  void tokenize_text(std::string_view word, std::vector<int64_t>& out,
                     std::vector<Span>* spans) const {
    const auto whole_word_unk = [&] {
      out.push_back(unk());
      if (spans) spans->push_back({0, static_cast<uint32_t>(word.size())});
    };
    size_t chars = 0;
    for (char c : word) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (chars > max_chars_) {
      whole_word_unk();
      return;
    }
    const size_t mark = out.size();
    const size_t span_mark = spans ? spans->size() : 0;
    for (size_t start = 0; start < word.size();) {
      // A continuation piece is looked up without its prefix, which shortens the longest
      // candidate worth trying by the prefix's length.
      const auto& map = start == 0 ? whole_ : continuation_;
      const size_t limit = start == 0 ? max_len_ : max_len_ - std::min(max_len_, prefix_.size());
      size_t end = std::min(word.size(), start + limit);
      // Back to a char boundary: the crate only ever tries whole chars.
      while (end > start && end < word.size() &&
             (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) {
        --end;
      }
      int64_t id = -1;
      for (; end > start; --end) {
        if (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) continue;
        if (auto it = map.find(word.substr(start, end - start)); it != map.end()) {
          id = it->second;
          break;
        }
      }
      if (id < 0) {
        out.resize(mark);
        if (spans) spans->resize(span_mark);
        whole_word_unk();
        return;
      }
      out.push_back(id);
      if (spans) spans->push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      start = end;
    }
  }

  int64_t unk() const {
    VOLT_CHECK(unk_id_ >= 0, "[tokenizer.json] ", where_, ": WordPiece unk_token '", unk_token_,
               "' is not in the vocabulary, and a word needs it");
    return unk_id_;
  }

  std::string where_;
  std::string unk_token_;
  std::string prefix_;
  uint64_t max_chars_ = 100;
  std::vector<std::string> tokens_;  // in file order; the maps below point into it
  std::vector<int64_t> ids_;
  std::unordered_map<std::string_view, int64_t> whole_;         // every entry
  std::unordered_map<std::string_view, int64_t> continuation_;  // "##ing" keyed as "ing"
  size_t max_len_ = 0;                                          // bytes of the longest entry
  bool dense_ = true;
  std::vector<int64_t> by_id_;  // id -> index into tokens_ (dense_), else sparse_by_id_
  std::unordered_map<int64_t, int64_t> sparse_by_id_;
  int64_t unk_id_ = -1;
};

}  // namespace

std::unique_ptr<Model> wordpiece_model_from_json(const json& j, const std::string& where) {
  try {
    return std::make_unique<WordPieceModel>(j, where);
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where, ": WordPiece model: ", e.what());
  }
}

}  // namespace volt::hf

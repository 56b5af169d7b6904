// tiktoken (openai/tiktoken src/lib.rs): regex split, then for each piece either its own rank or
// _byte_pair_merge over its bytes.
#include "volt/tokenizers/tiktoken.h"

#include <algorithm>
#include <climits>
#include <filesystem>

#include "volt/core/check.h"
#include "volt/io/base64.h"
#include "volt/io/files.h"
#include "volt/tokenizers/unicode.h"
#include "word_cache.h"

namespace volt {
namespace {

struct TiktokenEncoding {
  std::string name;
  const char* pattern;
  std::vector<std::pair<std::string, int64_t>> specials;
  std::string bos, eos;
};

std::vector<std::pair<std::string, int64_t>> llama3_specials() {
  // meta-llama/llama3 tokenizer.py: 256 special tokens after the 128,000 ranks.
  std::vector<std::string> names = {"<|begin_of_text|>",
                                    "<|end_of_text|>",
                                    "<|reserved_special_token_0|>",
                                    "<|reserved_special_token_1|>",
                                    "<|reserved_special_token_2|>",
                                    "<|reserved_special_token_3|>",
                                    "<|start_header_id|>",
                                    "<|end_header_id|>",
                                    "<|reserved_special_token_4|>",
                                    "<|eot_id|>"};
  for (int i = 5; i < 256 - 5; ++i)
    names.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  std::vector<std::pair<std::string, int64_t>> out;
  for (size_t i = 0; i < names.size(); ++i)
    out.emplace_back(names[i], 128000 + static_cast<int64_t>(i));
  return out;
}

TiktokenEncoding encoding_for(const std::string& path, size_t n_ranks) {
  const std::string stem = std::filesystem::path(path).stem().string();
  if (stem == "r50k_base" || stem == "gpt2" || (stem != "p50k_base" && n_ranks == 50256)) {
    return {"r50k_base",
            hf::kGpt2Pattern,
            {{"<|endoftext|>", 50256}},
            "<|endoftext|>",
            "<|endoftext|>"};
  }
  if (stem == "p50k_base") {
    return {"p50k_base",
            hf::kGpt2Pattern,
            {{"<|endoftext|>", 50256}},
            "<|endoftext|>",
            "<|endoftext|>"};
  }
  if (stem == "cl100k_base" || n_ranks == 100256) {
    return {"cl100k_base",
            hf::kLlama3Pattern,
            {{"<|endoftext|>", 100257},
             {"<|fim_prefix|>", 100258},
             {"<|fim_middle|>", 100259},
             {"<|fim_suffix|>", 100260},
             {"<|endofprompt|>", 100276}},
            "<|endoftext|>",
            "<|endoftext|>"};
  }
  if (stem == "o200k_base" || n_ranks == 199998) {
    return {"o200k_base",
            hf::kO200kPattern,
            {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}},
            "<|endoftext|>",
            "<|endoftext|>"};
  }
  if (n_ranks == 128000) {
    return {"llama3", hf::kLlama3Pattern, llama3_specials(), "<|begin_of_text|>",
            "<|end_of_text|>"};
  }
  VOLT_FAIL("[tiktoken] ", path, ": cannot tell the encoding (", n_ranks,
            " ranks; known: r50k_base, p50k_base, cl100k_base, o200k_base by file name, or "
            "Llama 3's 128000 ranks)");
}

}  // namespace

std::shared_ptr<TiktokenTokenizer> TiktokenTokenizer::load(const std::string& path) {
  std::shared_ptr<TiktokenTokenizer> t(new TiktokenTokenizer());
  t->file_path_ = path;
  t->file_name_ = std::filesystem::path(path).filename().string();
  t->file_bytes_ = io::read_file(path);
  const std::string_view data = t->file_bytes_;
  std::vector<std::pair<std::string, int64_t>> entries;
  size_t line_no = 0;
  int64_t max_rank = -1;
  for (size_t pos = 0; pos < data.size();) {
    size_t eol = data.find('\n', pos);
    if (eol == std::string_view::npos) eol = data.size();
    std::string_view line = data.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    VOLT_CHECK(sp != std::string_view::npos, "[tiktoken] ", path, ":", line_no,
               ": expected 'base64 rank'");
    auto bytes = io::base64_decode(line.substr(0, sp));
    VOLT_CHECK(bytes && !bytes->empty(), "[tiktoken] ", path, ":", line_no, ": bad base64 token '",
               line.substr(0, sp), "'");
    int64_t rank = 0;
    for (char c : line.substr(sp + 1)) {
      VOLT_CHECK(c >= '0' && c <= '9' && rank < INT32_MAX / 10, "[tiktoken] ", path, ":", line_no,
                 ": bad rank '", line.substr(sp + 1), "'");
      rank = rank * 10 + (c - '0');
    }
    entries.emplace_back(std::move(*bytes), rank);
    max_rank = std::max(max_rank, rank);
  }
  VOLT_CHECK(!entries.empty(), "[tiktoken] ", path, ": no ranks");
  t->tokens_.assign(static_cast<size_t>(max_rank + 1), std::string());
  for (auto& [b, r] : entries) {
    VOLT_CHECK(t->tokens_[r].empty(), "[tiktoken] ", path, ": rank ", r, " appears twice");
    t->tokens_[r] = std::move(b);
  }
  // Views into tokens_, which no longer changes.
  for (size_t r = 0; r < t->tokens_.size(); ++r) {
    if (t->tokens_[r].empty()) continue;
    VOLT_CHECK(t->ranks_.emplace(t->tokens_[r], static_cast<int32_t>(r)).second, "[tiktoken] ",
               path, ": token of rank ", r, " appears twice");
  }
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    VOLT_CHECK(t->ranks_.count(std::string_view(&c, 1)), "[tiktoken] ", path, ": byte ", b,
               " has no rank, so some texts cannot be encoded");
  }
  TiktokenEncoding e = encoding_for(path, entries.size());
  t->encoding_ = e.name;
  t->pattern_ = hf::regex_pattern(e.pattern, path);
  t->specials_ = e.specials;
  std::stable_sort(t->specials_.begin(), t->specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [name, id] : e.specials) {
    t->special_first_byte_[static_cast<unsigned char>(name[0])] = true;
    if (name == e.bos) t->bos_ = id;
    if (name == e.eos) t->eos_ = id;
  }
  t->uid_ = detail::next_cache_uid();
  return t;
}

int32_t TiktokenTokenizer::rank_of(std::string_view bytes) const {
  auto it = ranks_.find(bytes);
  return it == ranks_.end() ? INT32_MAX : it->second;
}

// lib.rs _byte_pair_merge: parts are start offsets with the rank of the pair starting there.
void TiktokenTokenizer::byte_pair_merge(std::string_view piece, std::vector<int32_t>& out) const {
  struct Part {
    size_t start;
    int32_t rank;
  };
  std::vector<Part> parts;
  parts.reserve(piece.size() + 1);
  for (size_t i = 0; i + 1 < piece.size(); ++i) parts.push_back({i, rank_of(piece.substr(i, 2))});
  parts.push_back({piece.size() - 1, INT32_MAX});
  parts.push_back({piece.size(), INT32_MAX});
  auto rank_at = [&](size_t i) -> int32_t {  // the rank of parts[i] merged with parts[i+1]
    if (i + 3 < parts.size())
      return rank_of(piece.substr(parts[i].start, parts[i + 3].start - parts[i].start));
    return INT32_MAX;
  };
  while (parts.size() > 1) {
    int32_t min_rank = INT32_MAX;
    size_t min_i = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i].rank < min_rank) {
        min_rank = parts[i].rank;
        min_i = i;
      }
    }
    if (min_rank == INT32_MAX) break;
    parts[min_i].rank = rank_at(min_i);
    if (min_i > 0) parts[min_i - 1].rank = rank_at(min_i - 1);
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(min_i) + 1);
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    out.push_back(rank_of(piece.substr(parts[i].start, parts[i + 1].start - parts[i].start)));
  }
}

void TiktokenTokenizer::encode_ordinary(std::string_view text, std::vector<int64_t>& out) const {
  detail::WordCache& cache = detail::thread_word_cache(uid_);
  std::vector<int32_t> ids;
  pattern_->find_all(text, [&](size_t b, size_t e) {
    const std::string_view piece = text.substr(b, e - b);
    const std::string key(piece);
    if (auto it = cache.map.find(key); it != cache.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
    ids.clear();
    if (auto it = ranks_.find(piece); it != ranks_.end()) {
      ids.push_back(it->second);
    } else {
      byte_pair_merge(piece, ids);
    }
    out.insert(out.end(), ids.begin(), ids.end());
    if (detail::WordCache::cacheable(key, cache)) cache.map.emplace(key, ids);
  });
}

SpecialTokensTemplate TiktokenTokenizer::special_tokens_template() const {
  if (encoding_ == "llama3" && bos_) return {{*bos_}, {}};
  return {};
}

// Special tokens split the text first (tiktoken's encode with allowed_special="all").
template <typename OnText, typename OnSpecial>
void TiktokenTokenizer::split_special(std::string_view text, bool parse_special, OnText on_text,
                                      OnSpecial on_special) const {
  size_t start = 0;
  if (parse_special) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (!special_first_byte_[static_cast<unsigned char>(text[i])]) continue;
      for (const auto& [name, id] : specials_) {
        if (text.compare(i, name.size(), name) == 0) {
          on_text(start, i - start);
          on_special(id, i, name.size());
          start = i + name.size();
          i = start - 1;
          break;
        }
      }
    }
  }
  on_text(start, text.size() - start);
}

void TiktokenTokenizer::encode_into(std::string_view text, const EncodeOptions& options,
                                    std::vector<int64_t>& out) const {
  split_special(
      text, options.parse_special,
      [&](size_t at, size_t n) { encode_ordinary(text.substr(at, n), out); },
      [&](int64_t id, size_t, size_t) { out.push_back(id); });
}

// Every ordinary token is a run of the text's bytes, in order: the offsets are their lengths.
void TiktokenTokenizer::encode_with_offsets_into(std::string_view text,
                                                 const EncodeOptions& options,
                                                 Encoding& out) const {
  split_special(
      text, options.parse_special,
      [&](size_t at, size_t n) {
        const size_t first = out.ids.size();
        encode_ordinary(text.substr(at, n), out.ids);
        for (size_t k = first; k < out.ids.size(); ++k) {
          const size_t len = tokens_[static_cast<size_t>(out.ids[k])].size();
          out.offsets.push_back({at, at + len});
          at += len;
        }
      },
      [&](int64_t id, size_t at, size_t n) {
        out.ids.push_back(id);
        out.offsets.push_back({at, at + n});
      });
}

std::string TiktokenTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string bytes;
  for (int64_t id : ids) {
    if (id >= 0 && id < static_cast<int64_t>(tokens_.size()) && !tokens_[id].empty()) {
      bytes += tokens_[id];
      continue;
    }
    auto sp = std::find_if(specials_.begin(), specials_.end(),
                           [&](const auto& s) { return s.second == id; });
    VOLT_CHECK(sp != specials_.end(), "[tokenizer] decode: id ", id,
               " is not in the vocabulary (size ", vocab_size(), ")");
    if (!skip_special) bytes += sp->first;
  }
  return unicode::utf8_lossy(bytes);
}

int64_t TiktokenTokenizer::vocab_size() const {
  int64_t n = static_cast<int64_t>(tokens_.size());
  for (const auto& s : specials_) n = std::max(n, s.second + 1);
  return n;
}

std::optional<int64_t> TiktokenTokenizer::token_to_id(const std::string& token) const {
  for (const auto& s : specials_) {
    if (s.first == token) return s.second;
  }
  auto it = ranks_.find(token);
  if (it == ranks_.end()) return std::nullopt;
  return it->second;
}

std::string TiktokenTokenizer::id_to_token(int64_t id) const {
  if (id >= 0 && id < static_cast<int64_t>(tokens_.size()) && !tokens_[id].empty())
    return tokens_[id];
  for (const auto& s : specials_) {
    if (s.second == id) return s.first;
  }
  VOLT_FAIL("[tokenizer] id ", id, " is not in the vocabulary (size ", vocab_size(), ")");
}

std::vector<AddedToken> TiktokenTokenizer::added_tokens() const {
  std::vector<AddedToken> out;
  for (const auto& [name, id] : specials_) {
    AddedToken a;
    a.content = name;
    a.id = id;
    a.special = true;
    out.push_back(a);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

void TiktokenTokenizer::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  io::write_file_atomic((std::filesystem::path(dir) / file_name_).string(), file_bytes_);
}

}  // namespace volt

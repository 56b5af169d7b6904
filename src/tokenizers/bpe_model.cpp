// The BPE model of Hugging Face tokenizer.json (tokenizers/src/models/bpe/{model,word}.rs):
// a word starts as characters (or, behind a ByteLevel pre-tokenizer, bytes) and the adjacent pair
// with the lowest merge rank is merged, leftmost first, until no pair has a merge. Byte fallback
// (<0xXX> tokens), unknown-token fusing, continuing-subword prefixes, end-of-word suffixes and
// ignore_merges follow the crate line by line; the comments say where.
//
// Speed: merges are keyed by the pair of ids (one 64-bit hash lookup), short words merge in place
// with a rank per adjacent pair, long words (a Mistral text with no pre-tokenizer is one word)
// use the crate's priority queue, and each thread keeps a cache of words it has seen.
//
// tokenize_spans (encode_with_offsets) runs the same merge loop over the same symbols, each also
// carrying the bytes of the word it covers; a merged symbol covers both halves.
#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdio>
#include <queue>
#include <unordered_map>

#include "volt/core/check.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/unicode.h"
#include "word_cache.h"

namespace volt::hf {
namespace {

struct MergeVal {
  int32_t rank;
  int32_t new_id;
};

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

class BpeModel : public Model {
 public:
  BpeModel(const json& j, const std::string& where)
      : uid_(detail::next_cache_uid()), spans_uid_(detail::next_cache_uid()) {
    auto opt_string = [&](const char* key) -> std::optional<std::string> {
      if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
      return j.at(key).get<std::string>();
    };
    auto opt_bool = [&](const char* key) {
      return j.contains(key) && !j.at(key).is_null() && j.at(key).get<bool>();
    };
    prefix_ = opt_string("continuing_subword_prefix").value_or("");
    suffix_ = opt_string("end_of_word_suffix").value_or("");
    byte_fallback_ = opt_bool("byte_fallback");
    fuse_unk_ = opt_bool("fuse_unk");
    ignore_merges_ = opt_bool("ignore_merges");
    if (j.contains("dropout") && !j.at("dropout").is_null()) {
      // Recorded and saved; encoding stays deterministic (BPE-dropout is a training-time aid).
      dropout_ = j.at("dropout").get<double>();
    }

    VOLT_CHECK(j.contains("vocab") && j.at("vocab").is_object(), "[tokenizer.json] ", where,
               ": BPE model has no \"vocab\" object");
    int64_t max_id = -1;
    for (auto it = j.at("vocab").begin(); it != j.at("vocab").end(); ++it) {
      VOLT_CHECK(it.value().is_number_integer(), "[tokenizer.json] ", where, ": vocab entry '",
                 it.key(), "' has a non-integer id");
      const int64_t id = it.value().get<int64_t>();
      VOLT_CHECK(id >= 0 && id < INT32_MAX, "[tokenizer.json] ", where, ": vocab entry '", it.key(),
                 "' has id ", id, " out of range");
      vocab_[it.key()] = static_cast<int32_t>(id);
      max_id = std::max(max_id, id);
    }
    tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
    present_.assign(static_cast<size_t>(max_id + 1), false);
    for (const auto& [tok, id] : vocab_) {
      tokens_[id] = tok;
      present_[id] = true;
    }

    if (auto unk = opt_string("unk_token")) {
      auto it = vocab_.find(*unk);
      VOLT_CHECK(it != vocab_.end(), "[tokenizer.json] ", where, ": unk_token '", *unk,
                 "' is not in the vocabulary");
      unk_id_ = it->second;
    }

    // Merges: "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs.
    const json& merges = j.contains("merges") ? j.at("merges") : json::array();
    merges_.reserve(merges.size() * 2);
    merge_list_.reserve(merges.size());
    int32_t rank = 0;
    for (const auto& m : merges) {
      std::string a, b;
      if (m.is_string()) {
        const auto& s = m.get_ref<const std::string&>();
        const size_t sp = s.find(' ');
        VOLT_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
                   "[tokenizer.json] ", where, ": merge ", rank, " '", s,
                   "' is not two tokens separated by one space");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {
        VOLT_CHECK(m.is_array() && m.size() == 2, "[tokenizer.json] ", where, ": merge ", rank,
                   " is not a pair: ", m.dump());
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      }
      const auto ia = vocab_.find(a), ib = vocab_.find(b);
      VOLT_CHECK(ia != vocab_.end() && ib != vocab_.end(), "[tokenizer.json] ", where, ": merge ",
                 rank, " ('", a, "', '", b, "') uses a token that is not in the vocabulary");
      // model.rs: the merged token drops b's continuing-subword prefix.
      const std::string merged =
          a + (b.compare(0, prefix_.size(), prefix_) == 0 ? b.substr(prefix_.size()) : b);
      const auto im = vocab_.find(merged);
      VOLT_CHECK(im != vocab_.end(), "[tokenizer.json] ", where, ": merge ", rank, " ('", a, "', '",
                 b, "') makes '", merged, "', which is not in the vocabulary");
      // A later duplicate overwrites an earlier one, as the crate's HashMap collect does.
      merges_[pair_key(ia->second, ib->second)] = MergeVal{rank, im->second};
      merge_list_.emplace_back(ia->second, ib->second);
      ++rank;
    }

    // Byte fallback tokens <0x00>..<0xFF>.
    fallback_.fill(-1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto it = vocab_.find(name);
      if (it != vocab_.end()) fallback_[b] = it->second;
    }
    // The byte-level alphabet's single characters, for words that arrive as raw bytes.
    byte_ids_.fill(-1);
    for (int b = 0; b < 256; ++b) {
      std::string ch;
      unicode::append_utf8(ch, byte_to_unicode(static_cast<uint8_t>(b)));
      auto it = vocab_.find(ch);
      if (it != vocab_.end()) byte_ids_[b] = it->second;
    }
  }

  void tokenize(std::string_view word, bool byte_level, std::vector<int64_t>& out) const override {
    if (word.empty()) return;
    detail::WordCache& cache = detail::thread_word_cache(uid_);
    std::string key(word);
    if (auto it = cache.map.find(key); it != cache.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
    std::vector<int32_t> ids;
    tokenize_uncached<false>(word, byte_level, ids, nullptr);
    out.insert(out.end(), ids.begin(), ids.end());
    if (detail::WordCache::cacheable(key, cache)) cache.map.emplace(std::move(key), std::move(ids));
  }

  // Cached as the ids followed by each token's begin and end in the word.
  void tokenize_spans(std::string_view word, bool byte_level, std::vector<int64_t>& ids,
                      std::vector<Span>& spans) const override {
    if (word.empty()) return;
    detail::WordCache& cache = detail::thread_word_cache(spans_uid_);
    std::string key(word);
    auto it = cache.map.find(key);
    if (it == cache.map.end()) {
      std::vector<int32_t> word_ids;
      std::vector<Span> word_spans;
      tokenize_uncached<true>(word, byte_level, word_ids, &word_spans);
      std::vector<int32_t> packed(word_ids);
      for (const Span& sp : word_spans) {
        packed.push_back(static_cast<int32_t>(sp.begin));
        packed.push_back(static_cast<int32_t>(sp.end));
      }
      if (!detail::WordCache::cacheable(key, cache)) {
        ids.insert(ids.end(), word_ids.begin(), word_ids.end());
        spans.insert(spans.end(), word_spans.begin(), word_spans.end());
        return;
      }
      it = cache.map.emplace(std::move(key), std::move(packed)).first;
    }
    const std::vector<int32_t>& packed = it->second;
    const size_t n = packed.size() / 3;
    ids.insert(ids.end(), packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(n));
    for (size_t k = 0; k < n; ++k) {
      spans.push_back(
          {static_cast<uint32_t>(packed[n + 2 * k]), static_cast<uint32_t>(packed[n + 2 * k + 1])});
    }
  }

  std::optional<int64_t> token_to_id(std::string_view token) const override {
    auto it = vocab_.find(std::string(token));
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* id_to_token(int64_t id) const override {
    if (id < 0 || id >= static_cast<int64_t>(tokens_.size()) || !present_[id]) return nullptr;
    return &tokens_[id];
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }

  json to_json() const override {
    json j;
    j["type"] = "BPE";
    j["dropout"] = dropout_ ? json(*dropout_) : json(nullptr);
    j["unk_token"] = unk_id_ ? json(tokens_[*unk_id_]) : json(nullptr);
    j["continuing_subword_prefix"] = prefix_.empty() ? json(nullptr) : json(prefix_);
    j["end_of_word_suffix"] = suffix_.empty() ? json(nullptr) : json(suffix_);
    j["fuse_unk"] = fuse_unk_;
    j["byte_fallback"] = byte_fallback_;
    j["ignore_merges"] = ignore_merges_;
    json vocab = json::object();
    for (size_t id = 0; id < tokens_.size(); ++id) {
      if (present_[id]) vocab[tokens_[id]] = id;
    }
    j["vocab"] = std::move(vocab);
    json merges = json::array();
    for (const auto& [a, b] : merge_list_) merges.push_back(json::array({tokens_[a], tokens_[b]}));
    j["merges"] = std::move(merges);
    return j;
  }

 private:
  // kSpans: also fill *spans, each token's bytes in the word.
  template <bool kSpans>
  void tokenize_uncached(std::string_view word, bool byte_level, std::vector<int32_t>& ids,
                         std::vector<Span>* spans) const {
    const auto whole = [&](int32_t id) {
      ids.push_back(id);
      if constexpr (kSpans) spans->push_back({0, static_cast<uint32_t>(word.size())});
    };
    if (byte_level) {
      if (ignore_merges_) {
        // model.rs: a word that is itself a token is emitted whole.
        if (auto it = vocab_.find(bytes_to_alphabet(word)); it != vocab_.end()) {
          whole(it->second);
          return;
        }
      }
      ids.reserve(word.size());
      bool missing = false;
      for (size_t k = 0; k < word.size(); ++k) {
        const int32_t id = byte_ids_[static_cast<uint8_t>(word[k])];
        if (id < 0) {
          missing = true;
          break;
        }
        ids.push_back(id);
        if constexpr (kSpans)
          spans->push_back({static_cast<uint32_t>(k), static_cast<uint32_t>(k + 1)});
      }
      if (missing) {
        // A byte-level pre-tokenizer in front of a vocabulary without the full alphabet: go
        // through the general character path on the mapped string, as the crate does.
        ids.clear();
        const std::string mapped = bytes_to_alphabet(word);
        if constexpr (kSpans) {
          spans->clear();
          initial_symbols<true>(mapped, ids, spans);
          // Each character of the alphabet stands for one byte of the word; a token holding part
          // of one (a byte-fallback piece of its UTF-8) covers that byte.
          const std::vector<Span> raw = alphabet_spans(mapped);
          const auto end = static_cast<uint32_t>(word.size());
          for (Span& sp : *spans) sp = through(sp, raw.data(), raw.size(), end);
        } else {
          initial_symbols<false>(mapped, ids, nullptr);
        }
      }
    } else {
      if (ignore_merges_) {
        if (auto it = vocab_.find(std::string(word)); it != vocab_.end()) {
          whole(it->second);
          return;
        }
      }
      initial_symbols<kSpans>(word, ids, spans);
    }
    if (ids.size() < 2) return;
    if (ids.size() <= 64) {
      merge_small<kSpans>(ids, spans);
    } else {
      merge_large<kSpans>(ids, spans);
    }
  }

  // model.rs merge_word: characters to ids, with prefix/suffix, byte fallback and unk fusing.
  template <bool kSpans>
  void initial_symbols(std::string_view w, std::vector<int32_t>& ids,
                       std::vector<Span>* spans) const {
    bool pending_unk = false;  // the unknown token waiting to be emitted (unk_id_ is set)
    Span unk_span;
    const auto push = [&](int32_t id, size_t b, size_t e) {
      ids.push_back(id);
      if constexpr (kSpans) spans->push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
    };
    std::string s;
    for (size_t i = 0; i < w.size();) {
      const size_t begin = i;
      unicode::next_code_point(w, i);
      const bool is_first = begin == 0, is_last = i == w.size();
      s.clear();
      if (!is_first) s += prefix_;
      s.append(w.substr(begin, i - begin));
      if (is_last) s += suffix_;
      if (auto it = vocab_.find(s); it != vocab_.end()) {
        if (pending_unk) {
          push(*unk_id_, unk_span.begin, unk_span.end);
          pending_unk = false;
        }
        push(it->second, begin, i);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (char c : s) all &= fallback_[static_cast<uint8_t>(c)] >= 0;
        if (all) {
          // (The crate does not flush a pending unk here; neither do we.) A byte of the prefix or
          // suffix comes from no byte of the word.
          const size_t lead = is_first ? 0 : prefix_.size();
          for (size_t k = 0; k < s.size(); ++k) {
            const int32_t id = fallback_[static_cast<uint8_t>(s[k])];
            if (k < lead) {
              push(id, begin, begin);
            } else if (begin + (k - lead) < i) {
              push(id, begin + (k - lead), begin + (k - lead) + 1);
            } else {
              push(id, i, i);
            }
          }
          continue;
        }
      }
      if (unk_id_) {
        if (pending_unk && !fuse_unk_) {
          push(*unk_id_, unk_span.begin, unk_span.end);
          pending_unk = false;
        }
        if (pending_unk) {
          unk_span.end = static_cast<uint32_t>(i);
        } else {
          unk_span = {static_cast<uint32_t>(begin), static_cast<uint32_t>(i)};
        }
        pending_unk = true;
      }
      // No unk token: the character is dropped, as the crate drops it.
    }
    if (pending_unk) push(*unk_id_, unk_span.begin, unk_span.end);
  }

  MergeVal lookup(int32_t a, int32_t b) const {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? MergeVal{INT32_MAX, -1} : it->second;
  }

  // Lowest rank first, leftmost on ties: what the crate's priority queue pops.
  template <bool kSpans>
  void merge_small(std::vector<int32_t>& ids, std::vector<Span>* spans) const {
    std::vector<MergeVal> r(ids.size() - 1);
    for (size_t i = 0; i + 1 < ids.size(); ++i) r[i] = lookup(ids[i], ids[i + 1]);
    while (true) {
      size_t best = 0;
      int32_t best_rank = INT32_MAX;
      for (size_t i = 0; i < r.size(); ++i) {
        if (r[i].rank < best_rank) {
          best_rank = r[i].rank;
          best = i;
        }
      }
      if (best_rank == INT32_MAX) break;
      ids[best] = r[best].new_id;
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
      if constexpr (kSpans) {
        (*spans)[best].end = (*spans)[best + 1].end;
        spans->erase(spans->begin() + static_cast<std::ptrdiff_t>(best) + 1);
      }
      r.erase(r.begin() + static_cast<std::ptrdiff_t>(best));
      if (best > 0) r[best - 1] = lookup(ids[best - 1], ids[best]);
      if (best < r.size()) r[best] = lookup(ids[best], ids[best + 1]);
    }
  }

  // word.rs merge_all: a priority queue over (rank, position), symbols in a linked list.
  template <bool kSpans>
  void merge_large(std::vector<int32_t>& ids, std::vector<Span>* spans) const {
    const int n = static_cast<int>(ids.size());
    std::vector<int> prev(n), next(n);
    std::vector<char> alive(n, 1);
    for (int i = 0; i < n; ++i) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    struct Entry {
      int32_t rank;
      int pos;
      int32_t new_id;
      bool operator<(const Entry& o) const {  // max-heap: invert for lowest rank, then position
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::priority_queue<Entry> queue;
    for (int i = 0; i + 1 < n; ++i) {
      const MergeVal m = lookup(ids[i], ids[i + 1]);
      if (m.new_id >= 0) queue.push({m.rank, i, m.new_id});
    }
    while (!queue.empty()) {
      const Entry top = queue.top();
      queue.pop();
      if (!alive[top.pos] || next[top.pos] < 0) continue;
      const int right = next[top.pos];
      const MergeVal now = lookup(ids[top.pos], ids[right]);
      if (now.new_id != top.new_id) continue;  // an expired entry
      ids[top.pos] = top.new_id;
      if constexpr (kSpans) (*spans)[top.pos].end = (*spans)[right].end;
      alive[right] = 0;
      next[top.pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = top.pos;
      if (prev[top.pos] >= 0) {
        const MergeVal m = lookup(ids[prev[top.pos]], ids[top.pos]);
        if (m.new_id >= 0) queue.push({m.rank, prev[top.pos], m.new_id});
      }
      if (next[top.pos] >= 0) {
        const MergeVal m = lookup(ids[top.pos], ids[next[top.pos]]);
        if (m.new_id >= 0) queue.push({m.rank, top.pos, m.new_id});
      }
    }
    size_t k = 0;
    for (int i = 0; i < n; ++i) {
      if (!alive[i]) continue;
      if constexpr (kSpans) (*spans)[k] = (*spans)[i];
      ids[k++] = ids[i];
    }
    ids.resize(k);
    if constexpr (kSpans) spans->resize(k);
  }

  uint64_t uid_, spans_uid_;  // the word caches of tokenize and tokenize_spans
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> tokens_;
  std::vector<bool> present_;
  std::unordered_map<uint64_t, MergeVal> merges_;
  std::vector<std::pair<int32_t, int32_t>> merge_list_;
  std::optional<int32_t> unk_id_;
  std::optional<double> dropout_;
  std::string prefix_, suffix_;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::array<int32_t, 256> fallback_{}, byte_ids_{};
};

}  // namespace

std::unique_ptr<Model> bpe_model_from_json(const json& j, const std::string& where) {
  try {
    return std::make_unique<BpeModel>(j, where);
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where, ": BPE model: ", e.what());
  }
}

std::unique_ptr<Model> model_from_json(const json& j, const std::string& where) {
  VOLT_CHECK(j.is_object(), "[tokenizer.json] ", where, ": \"model\" must be an object");
  // Old files omit the type of a BPE model; the crate then infers it from "merges".
  const std::string type = j.contains("type")     ? j.at("type").get<std::string>()
                           : j.contains("merges") ? "BPE"
                                                  : "";
  if (type == "BPE") return bpe_model_from_json(j, where);
  if (type == "WordPiece") return wordpiece_model_from_json(j, where);
  VOLT_FAIL("[tokenizer.json] ", where, ": model type '", type,
            "' is not supported (supported: BPE, WordPiece)");
}

}  // namespace volt::hf

// Byte-level BPE training, following the `tokenizers` crate's BpeTrainer::do_train
// (tokenizers/src/models/bpe/trainer.rs) and Word::merge (word.rs) so that the merges come out
// identical, ties and all. The comments name the crate's step each part mirrors.
#include "volt/tokenizers/bpe_trainer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <unordered_set>
#include <utility>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/pattern.h"
#include "volt/tokenizers/unicode.h"

namespace volt {
namespace {

using ordered_json = nlohmann::ordered_json;

// A pair of symbol ids as one key: (left << 32) | right. Comparing keys as unsigned integers
// compares the pairs lexicographically, as Rust's (u32, u32) tuples compare.
uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t pair_left(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t pair_right(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

// A candidate merge in the queue: the pair, its count when queued, and the words that held it
// then (the crate's `Merge`). A merge rewrites only these words.
struct QueuedMerge {
  int64_t count;
  uint64_t pair;
  std::vector<uint32_t> words;
};

// Heap order (std::push_heap keeps the largest on top): the highest count first, then the
// smallest pair, as the crate's `impl Ord for Merge` says.
bool lower_priority(const QueuedMerge& x, const QueuedMerge& y) {
  if (x.count != y.count) return x.count < y.count;
  return x.pair > y.pair;
}

// Training text must be UTF-8, as the crate's `String`s are; the error names the source and offset.
void check_text(std::string_view text, const std::string& source) {
  const size_t bad = unicode::find_invalid_utf8(text);
  VOLT_CHECK(bad == std::string_view::npos, "[bpe_trainer] ", source, ": invalid UTF-8 at byte ",
             bad);
}

// A change in a pair's count caused by one merge inside one word (before weighting by the
// word's count).
struct PairChange {
  uint64_t pair;
  int32_t delta;
};

// Word::merge: replaces every non-overlapping (c1, c2), left to right, by `replacement` and
// records the pairs that disappeared around it (-1) and the new ones (+1). The merged pair's own
// count is not decremented here: the crate leaves it stale, and so do we.
void merge_word(std::vector<int32_t>& symbols, int32_t c1, int32_t c2, int32_t replacement,
                std::vector<PairChange>& changes) {
  const size_t n = symbols.size();
  size_t out = 0;
  size_t i = 0;
  while (i < n) {
    if (symbols[i] == c1 && i + 1 < n && symbols[i + 1] == c2) {
      if (out > 0) {
        changes.push_back({pair_key(symbols[out - 1], c1), -1});
        changes.push_back({pair_key(symbols[out - 1], replacement), 1});
      }
      if (i + 2 < n) {
        changes.push_back({pair_key(c2, symbols[i + 2]), -1});
        changes.push_back({pair_key(replacement, symbols[i + 2]), 1});
      }
      symbols[out++] = replacement;
      i += 2;
    } else {
      symbols[out++] = symbols[i++];
    }
  }
  symbols.resize(out);
}

// Reports progress at most ~200 times per stage (and always at the end).
class Reporter {
 public:
  Reporter(const BpeTrainerOptions& options, std::string stage, int64_t total)
      : fn_(options.on_progress),
        stage_(std::move(stage)),
        total_(total),
        step_(std::max<int64_t>(1, total / 200)) {}
  void update(int64_t current) {
    if (!fn_ || (current < next_ && current != total_)) return;
    next_ = current + step_;
    fn_({stage_, current, total_});
  }

 private:
  const std::function<void(const BpeTrainerProgress&)>& fn_;
  std::string stage_;
  int64_t total_;
  int64_t step_;
  int64_t next_ = 0;
};

ordered_json byte_level_stage(bool add_prefix_space, bool trim_offsets) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", true}};
}

}  // namespace

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : options_(std::move(options)) {
  VOLT_CHECK(options_.min_frequency >= 0, "[bpe_trainer] min_frequency must be >= 0, got ",
             options_.min_frequency);
  std::unordered_set<std::string> distinct;
  for (const auto& token : options_.special_tokens) {
    VOLT_CHECK(!token.empty(), "[bpe_trainer] a special token is the empty string");
    check_text(token, "special token");
    distinct.insert(token);
  }
  // Checked before any text is read: a typo should not cost a pass over the corpus.
  const int64_t base = static_cast<int64_t>(distinct.size()) + 256;
  VOLT_CHECK(options_.vocab_size >= base, "[bpe_trainer] vocab_size ", options_.vocab_size,
             " is too small: the ", distinct.size(),
             " special tokens and the 256 byte symbols need ", base);
}

void BpeTrainer::count_words(std::string_view text) {
  // The ByteLevel pre-tokenizer with add_prefix_space=false: GPT-2's regex splits the text, and
  // each piece is a word (its bytes are mapped to the byte-level alphabet only at the end).
  static const auto pattern = hf::regex_pattern(hf::kGpt2Pattern, "[bpe_trainer] ByteLevel");
  pattern->find_all(text, [&](size_t begin, size_t end) {
    ++word_counts_[std::string(text.substr(begin, end - begin))];
    ++stats_.words;
  });
  ++stats_.sequences;
  stats_.bytes += static_cast<int64_t>(text.size());
}

void BpeTrainer::feed(std::string_view text) {
  check_text(text, "text");
  count_words(text);
  trained_ = false;
}

void BpeTrainer::feed_file(const std::string& path) {
  const std::string text = io::read_file(path);
  check_text(text, path);
  Reporter report(options_, "Count words", static_cast<int64_t>(text.size()));
  // One sequence per line, '\n' kept (Rust's lines_with_ending in train_from_files): GPT-2's
  // regex then sees the same pieces the crate's trainer sees.
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    count_words(std::string_view(text).substr(start, end - start));
    start = end;
    report.update(static_cast<int64_t>(start));
  }
  trained_ = false;
}

ordered_json BpeTrainer::train() {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t vocab_target = options_.vocab_size;

  // 1. Special tokens first (ids 0..k-1; a repeated one keeps its first id).
  std::unordered_map<std::string, int32_t> word_to_id;
  std::vector<std::string> id_to_word;
  auto add_token = [&](const std::string& s) {
    if (word_to_id.count(s)) return;
    word_to_id.emplace(s, static_cast<int32_t>(id_to_word.size()));
    id_to_word.push_back(s);
  };
  for (const auto& token : options_.special_tokens) add_token(token);
  const int64_t n_special = static_cast<int64_t>(id_to_word.size());

  // 2. The alphabet: all 256 byte-level characters (the crate's initial_alphabet =
  //    ByteLevel.alphabet()), sorted by code point as compute_alphabet sorts them.
  std::vector<std::pair<uint32_t, int>> alphabet;
  for (int b = 0; b < 256; ++b)
    alphabet.emplace_back(hf::byte_to_unicode(static_cast<uint8_t>(b)), b);
  std::sort(alphabet.begin(), alphabet.end());
  std::array<int32_t, 256> byte_id{};
  for (const auto& [cp, b] : alphabet) {
    std::string s;
    unicode::append_utf8(s, cp);
    add_token(s);
    byte_id[static_cast<size_t>(b)] = word_to_id.at(s);
  }

  // 3. Words as symbol ids, with their counts.
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  words.reserve(word_counts_.size());
  counts.reserve(word_counts_.size());
  for (const auto& [word, count] : word_counts_) {
    std::vector<int32_t> symbols(word.size());
    for (size_t i = 0; i < word.size(); ++i)
      symbols[i] = byte_id[static_cast<unsigned char>(word[i])];
    words.push_back(std::move(symbols));
    counts.push_back(count);
  }

  // 4. Count pairs, and where each occurs.
  Reporter count_report(options_, "Count pairs", static_cast<int64_t>(words.size()));
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where_to_update;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    for (size_t k = 0; k + 1 < w.size(); ++k) {
      const uint64_t p = pair_key(w[k], w[k + 1]);
      pair_counts[p] += counts[i];
      auto& pos = where_to_update[p];
      if (pos.empty() || pos.back() != i) pos.push_back(static_cast<uint32_t>(i));
    }
    count_report.update(static_cast<int64_t>(i + 1));
  }
  std::vector<QueuedMerge> queue;
  queue.reserve(where_to_update.size());
  auto push = [&](uint64_t pair, std::vector<uint32_t>&& pos) {
    const int64_t count = pair_counts.at(pair);
    if (count <= 0) return;
    queue.push_back({count, pair, std::move(pos)});
    std::push_heap(queue.begin(), queue.end(), lower_priority);
  };
  for (auto& [pair, pos] : where_to_update) push(pair, std::move(pos));
  where_to_update.clear();

  // 5. Merge the best pair until the vocabulary is full.
  const int64_t initial_size = static_cast<int64_t>(id_to_word.size());
  Reporter merge_report(options_, "Compute merges", vocab_target - initial_size);
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<PairChange> changes;
  while (static_cast<int64_t>(word_to_id.size()) < vocab_target && !queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), lower_priority);
    QueuedMerge top = std::move(queue.back());
    queue.pop_back();
    // Lazy update: a count that changed since it was queued goes back with its current value.
    const int64_t current = pair_counts.at(top.pair);
    if (top.count != current) {
      top.count = current;
      queue.push_back(std::move(top));
      std::push_heap(queue.begin(), queue.end(), lower_priority);
      continue;
    }
    if (top.count < 1 || options_.min_frequency > top.count) break;

    const int32_t a = pair_left(top.pair), b = pair_right(top.pair);
    const std::string new_token =
        id_to_word[static_cast<size_t>(a)] + id_to_word[static_cast<size_t>(b)];
    // A token spelled two ways ("ab"+"c", "a"+"bc") keeps its first id, as in the crate.
    add_token(new_token);
    const int32_t new_id = word_to_id.at(new_token);
    merges.emplace_back(a, b);

    for (const uint32_t w : top.words) {
      changes.clear();
      merge_word(words[w], a, b, new_id, changes);
      for (const auto& c : changes) {
        pair_counts[c.pair] += c.delta * counts[w];
        if (c.delta > 0) {
          auto& pos = where_to_update[c.pair];
          if (pos.empty() || pos.back() != w) pos.push_back(w);
        }
      }
    }
    for (auto& [pair, pos] : where_to_update) push(pair, std::move(pos));
    where_to_update.clear();
    merge_report.update(static_cast<int64_t>(id_to_word.size()) - initial_size);
  }
  merge_report.update(vocab_target - initial_size);

  // The tokenizer.json, keys in the order the crate serializes them.
  ordered_json vocab = ordered_json::object();
  for (size_t id = 0; id < id_to_word.size(); ++id) vocab[id_to_word[id]] = id;
  ordered_json merges_json = ordered_json::array();
  for (const auto& [x, y] : merges) {
    merges_json.push_back({id_to_word[static_cast<size_t>(x)], id_to_word[static_cast<size_t>(y)]});
  }
  ordered_json added = ordered_json::array();
  for (int64_t id = 0; id < n_special; ++id) {
    added.push_back({{"id", id},
                     {"content", id_to_word[static_cast<size_t>(id)]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = byte_level_stage(false, true);
  j["post_processor"] = byte_level_stage(true, false);
  j["decoder"] = byte_level_stage(true, true);
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges_json)}};
  tokenizer_json_ = std::move(j);
  trained_ = true;

  stats_.unique_words = static_cast<int64_t>(word_counts_.size());
  stats_.merges = static_cast<int64_t>(merges.size());
  stats_.vocab_size = static_cast<int64_t>(id_to_word.size());
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return tokenizer_json_;
}

const ordered_json& BpeTrainer::tokenizer_json() const {
  VOLT_CHECK(trained_, "[bpe_trainer] tokenizer_json(): train() has not run on the data fed");
  return tokenizer_json_;
}

std::shared_ptr<HfTokenizer> BpeTrainer::tokenizer() {
  if (!trained_) train();
  std::string text = tokenizer_json_.dump(2);
  return std::make_shared<HfTokenizer>(nlohmann::json::parse(text), "trained byte-level BPE",
                                       bpe_tokenizer_config(options_.special_tokens),
                                       std::move(text));
}

nlohmann::json bpe_tokenizer_config(const std::vector<std::string>& special_tokens) {
  nlohmann::json config = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
  auto first_of = [&](std::initializer_list<const char*> names) -> const std::string* {
    for (const char* name : names) {
      for (const auto& t : special_tokens) {
        if (t == name) return &t;
      }
    }
    return nullptr;
  };
  const std::string* bos = first_of({"<|begin_of_text|>", "<s>", "<|endoftext|>", "[CLS]"});
  const std::string* eos = first_of({"<|end_of_text|>", "</s>", "<|endoftext|>", "[SEP]"});
  const std::string* pad = first_of({"<pad>", "[PAD]", "<|pad|>"});
  if (special_tokens.size() == 1 && !pad) bos = eos = &special_tokens.front();
  if (bos) config["bos_token"] = *bos;
  if (eos) config["eos_token"] = *eos;
  if (pad) config["pad_token"] = *pad;
  return config;
}

}  // namespace volt

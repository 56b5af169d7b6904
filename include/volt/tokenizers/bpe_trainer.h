// Trains a byte-level BPE tokenizer (GPT-2's scheme) and writes it as a Hugging Face
// tokenizer.json. The algorithm is the `tokenizers` crate's BpeTrainer
// (tokenizers/src/models/bpe/trainer.rs) step for step, so the same corpus and settings give the
// same merges as `ByteLevelBPETokenizer().train(...)` in Python:
//   1. each text is split by GPT-2's pre-tokenizer regex and the words are counted;
//   2. the vocabulary starts with the special tokens (ids 0..k-1), then the 256 byte-level
//      characters sorted by code point;
//   3. the most frequent adjacent pair is merged, ties going to the smallest (left id, right id),
//      until the vocabulary is full or no pair occurs min_frequency times. Pair counts live in a
//      priority queue with lazy updates; a merge rewrites only the words that hold the pair.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "volt/tokenizers/hf_tokenizer.h"

namespace volt {

/// Progress of one training stage, for a caller that draws a bar (the library prints nothing).
struct BpeTrainerProgress {
  std::string stage;  // "Count words", "Count pairs", "Compute merges"
  int64_t current = 0;
  int64_t total = 0;
};

struct BpeTrainerOptions {
  /// The final vocabulary size, special tokens and the 256 byte symbols included. Training stops
  /// earlier when no pair is left that occurs min_frequency times.
  int64_t vocab_size = 4096;
  /// A pair merges only when it occurs at least this often (weighted by word counts); 0 or 1:
  /// any pair that occurs at all.
  int64_t min_frequency = 0;
  /// Added first, with ids 0..k-1, as Hugging Face's trainer does; marked special in
  /// added_tokens. In the training text they are ordinary text, as in the crate.
  std::vector<std::string> special_tokens;
  /// Called now and then while training (nullptr: silent). The CLI draws a bar from it.
  std::function<void(const BpeTrainerProgress&)> on_progress;
};

/// Figures about a finished training run.
struct BpeTrainerStats {
  int64_t sequences = 0;     // texts (a file counts one per line, as the crate reads files)
  int64_t bytes = 0;         // bytes fed
  int64_t words = 0;         // pre-tokenized words fed
  int64_t unique_words = 0;  // distinct words
  int64_t merges = 0;        // merges learned
  int64_t vocab_size = 0;    // final vocabulary size
  double seconds = 0;        // time spent in train()
};

class BpeTrainer {
 public:
  explicit BpeTrainer(BpeTrainerOptions options = {});

  /// Counts the words of one text (one "sequence" in the crate's terms).
  void feed(std::string_view text);
  /// Counts the words of a file, one sequence per line ('\n' kept), as the crate's
  /// Tokenizer::train_from_files does. Invalid UTF-8 is an error naming the file and offset.
  void feed_file(const std::string& path);

  /// Learns the merges from everything fed so far and returns the tokenizer.json, keys in Hugging
  /// Face's order (vocab by id, merges by rank as ["a", "b"] pairs).
  nlohmann::ordered_json train();
  /// The tokenizer.json of the last train() (train() must have run).
  const nlohmann::ordered_json& tokenizer_json() const;
  /// The trained tokenizer, ready to encode; save() writes tokenizer.json and
  /// tokenizer_config.json. Runs train() first when it has not run.
  std::shared_ptr<HfTokenizer> tokenizer();

  const BpeTrainerStats& stats() const { return stats_; }
  /// The word counts fed so far, keyed by the word's raw bytes.
  const std::unordered_map<std::string, int64_t>& word_counts() const { return word_counts_; }

 private:
  void count_words(std::string_view text);

  BpeTrainerOptions options_;
  std::unordered_map<std::string, int64_t> word_counts_;
  BpeTrainerStats stats_;
  nlohmann::ordered_json tokenizer_json_;
  bool trained_ = false;
};

/// tokenizer_config.json for a trained tokenizer: bos/eos (and pad) named when the special tokens
/// include the usual names (<|endoftext|>, <s>, </s>, <|begin_of_text|>, <pad>...); with one lone
/// special token, it serves as both BOS and EOS, as GPT-2's <|endoftext|> does.
nlohmann::json bpe_tokenizer_config(const std::vector<std::string>& special_tokens);

}  // namespace volt

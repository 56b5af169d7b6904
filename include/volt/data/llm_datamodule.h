// LLMDataModule: a corpus read by a corpus reader, tokenized once into a memory-mapped token
// cache, split by document (train / val / test from a seed), cut into rows by one of four
// collators, and served by background workers:
//   static   one piece of a document per row, padded to block_size
//   dynamic  one piece per row, padded to the longest row of its batch (optionally grouped by
//            length, as Hugging Face's group_by_length)
//   packed   best-fit-decreasing packing of whole documents (pieces) into rows; positions restart
//            and attention stays inside each document
//   concat   nanoGPT: every document, EOS between them, as one stream cut into rows; with
//            document_mask, positions and attention restart at each document too
// Documents longer than a row are cut into pieces of block_size + 1 tokens overlapping by one.
#pragma once

#include <memory>
#include <string>

#include "volt/core/config.h"
#include "volt/data/collate.h"
#include "volt/data/corpus.h"
#include "volt/data/datamodule.h"
#include "volt/data/sampling.h"
#include "volt/data/token_cache.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

struct LLMDataOptions {
  data::CorpusOptions corpus;
  std::string tokenizer;  // a tokenizer file or directory (see load_tokenizer)
  data::TokenCacheOptions cache;
  int64_t block_size = 1024;        // row length T
  int64_t batch_size = 8;           // rows per batch B
  std::string collator = "packed";  // static | dynamic | packed | concat
  bool group_by_length = false;     // dynamic: batch rows of similar length
  bool document_mask = true;        // concat: restart positions and attention at each document
  data::SplitFractions splits;      // val_fraction, test_fraction; the rest trains
  int64_t seed = 1337;
  bool shuffle = true;  // a new order of the training rows each epoch
  bool drop_last = false;
  int64_t num_workers = 2;
  int64_t prefetch_factor = 4;
  int64_t val_batches = 0;  // 0: the whole validation split
};

/// The collators' names, in the order stats prints them.
const std::vector<std::string>& collator_names();

/// Reads the `data:` section (format, path / paths, exclude, documents, text_field, tokenizer,
/// cache_dir, add_special_tokens, add_bos, append_eos, tokenize_threads, block_size, batch_size,
/// collator, group_by_length, document_mask, val_fraction, test_fraction, seed, shuffle,
/// drop_last, num_workers, prefetch_factor, val_batches). The caller marks `module`.
LLMDataOptions llm_data_options_from(ConfigSection& section, LLMDataOptions defaults = {});

/// The padding a collator costs on a set of documents (one epoch of its batches).
struct CollatorStats {
  std::string collator;
  int64_t rows = 0;
  data::PaddingStats padding;
};

class LLMDataModule : public LightningDataModule {
 public:
  explicit LLMDataModule(LLMDataOptions options);
  /// Resolves paths, loads the tokenizer, opens or builds the token cache (a progress bar on
  /// stderr when `progress` and the build takes a while).
  void prepare_data() override;
  void setup(const std::string& stage) override;
  std::shared_ptr<DataLoader> train_dataloader() override;
  std::shared_ptr<DataLoader> val_dataloader() override;
  std::shared_ptr<DataLoader> test_dataloader() override;
  /// The test split (every batch), else the validation split.
  std::shared_ptr<DataLoader> predict_dataloader() override;

  void set_tokenizer(std::shared_ptr<Tokenizer> t, std::string fingerprint);
  void set_progress(bool on) { progress_ = on; }
  std::shared_ptr<Tokenizer> tokenizer() const { return tokenizer_; }
  const data::TokenCache& cache() const;
  const data::TokenCacheReport& cache_report() const { return report_; }
  const data::DocumentSplits& splits() const { return splits_; }
  const LLMDataOptions& options() const { return options_; }
  /// The documents of "train", "val", "test" or "all".
  std::vector<int64_t> documents(const std::string& split) const;
  /// What `collator` would cost on these documents with this module's block and batch size.
  CollatorStats collator_stats(const std::string& collator, const std::vector<int64_t>& docs) const;
  /// The same with the length-grouped sampler on or off (it only changes "dynamic").
  CollatorStats collator_stats(const std::string& collator, const std::vector<int64_t>& docs,
                               bool group_by_length) const;

 private:
  std::shared_ptr<DataLoader> loader(const std::vector<int64_t>& docs, bool train,
                                     int64_t max_batches) const;
  LLMDataOptions options_;
  bool progress_ = true;
  bool prepared_ = false;
  std::shared_ptr<Tokenizer> tokenizer_;
  std::string tokenizer_fingerprint_;
  std::shared_ptr<data::TokenCache> cache_;
  data::TokenCacheReport report_;
  data::DocumentSplits splits_;
};

}  // namespace volt

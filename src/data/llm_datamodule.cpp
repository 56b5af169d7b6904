#include "volt/data/llm_datamodule.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <numeric>

#include "volt/core/check.h"
#include "volt/core/progress_bar.h"
#include "volt/data/data_path.h"

namespace volt {

namespace {

constexpr uint64_t kSplitStream = 1;

bool is_collator(const std::string& name) {
  const auto& all = collator_names();
  return std::find(all.begin(), all.end(), name) != all.end();
}

std::vector<data::Row> build_rows(const std::string& collator, const std::vector<int64_t>& docs,
                                  const data::TokenCache& cache, int64_t block) {
  auto len = [&cache](int64_t d) { return cache.document_length(d); };
  if (collator == "concat") return data::concatenate_and_chunk(docs, len, block);
  auto pieces = data::chunk_documents(docs, len, block + 1);
  if (collator == "packed") return data::pack_best_fit_decreasing(pieces, block);
  return data::one_piece_per_row(pieces);
}

data::CollateOptions collate_options(const std::string& collator, const LLMDataOptions& o,
                                     int64_t pad_id) {
  data::CollateOptions c;
  c.layout = collator == "concat" ? data::RowLayout::kStream : data::RowLayout::kSeparate;
  c.pad_to = collator == "dynamic" ? 0 : o.block_size;
  c.pad_id = pad_id;
  c.document_ids = collator == "packed" || (collator == "concat" && o.document_mask);
  return c;
}

// Batches of rows, drawn by the seeded sampler, collated on demand: random access by
// (epoch, index), thread-safe, so workers can build any batch in any order.
class RowLoader : public DataLoader {
 public:
  RowLoader(std::shared_ptr<const data::TokenCache> cache, std::vector<data::Row> rows,
            data::SamplerOptions sampler, data::CollateOptions collate, int64_t workers,
            int64_t prefetch, int64_t max_batches)
      : cache_(std::move(cache)),
        rows_(std::move(rows)),
        sampler_(sampler),
        collate_(collate),
        workers_(workers),
        prefetch_(prefetch) {
    lengths_.reserve(rows_.size());
    for (const auto& r : rows_) lengths_.push_back(r.inputs);
    const auto n = static_cast<int64_t>(rows_.size());
    batches_ = sampler_.drop_last ? n / sampler_.batch_size
                                  : (n + sampler_.batch_size - 1) / sampler_.batch_size;
    if (max_batches > 0) batches_ = std::min(batches_, max_batches);
  }
  int64_t size() const override { return batches_; }
  int64_t num_workers() const override { return workers_; }
  int64_t prefetch_factor() const override { return prefetch_; }
  Batch get(int64_t epoch, int64_t index) const override {
    VOLT_CHECK(index >= 0 && index < batches_, "[data] batch ", index, " is out of range (",
               batches_, " per epoch)");
    std::vector<const data::Row*> rows;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (epoch != order_epoch_) {  // the sampler's order of one epoch, computed once
        order_ = data::epoch_batches(lengths_, sampler_, epoch);
        order_epoch_ = epoch;
      }
      for (int64_t r : order_[static_cast<size_t>(index)])
        rows.push_back(&rows_[static_cast<size_t>(r)]);
    }
    return data::collate(rows, *cache_, collate_);
  }

 private:
  std::shared_ptr<const data::TokenCache> cache_;
  std::vector<data::Row> rows_;
  std::vector<int64_t> lengths_;
  data::SamplerOptions sampler_;
  data::CollateOptions collate_;
  int64_t workers_, prefetch_, batches_ = 0;
  mutable std::mutex mu_;
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<std::vector<int64_t>> order_;
};

}  // namespace

const std::vector<std::string>& collator_names() {
  static const std::vector<std::string> names = {"static", "dynamic", "packed", "concat"};
  return names;
}

LLMDataOptions llm_data_options_from(ConfigSection& s, LLMDataOptions o) {
  o.corpus.format = s.get<std::string>("format", "text");
  if (s.has("paths")) {
    o.corpus.paths = s.get<std::vector<std::string>>("paths", {});
  } else {
    o.corpus.paths = {s.require<std::string>("path")};
  }
  s.mark("path");
  s.mark("paths");
  o.corpus.exclude = s.get<std::vector<std::string>>("exclude", {});
  o.corpus.split = s.get<std::string>("documents", o.corpus.split);
  o.corpus.text_field = s.get<std::string>("text_field", o.corpus.text_field);
  data::validate(o.corpus);
  o.tokenizer = s.require<std::string>("tokenizer");
  o.cache.cache_dir = s.get<std::string>("cache_dir", o.cache.cache_dir);
  o.cache.add_special_tokens = s.get<bool>("add_special_tokens", o.cache.add_special_tokens);
  o.cache.add_bos = s.get<bool>("add_bos", o.cache.add_bos);
  o.cache.append_eos = s.get<bool>("append_eos", o.cache.append_eos);
  o.cache.threads = s.get<int>("tokenize_threads", o.cache.threads);
  o.block_size = s.get<int64_t>("block_size", o.block_size);
  o.batch_size = s.get<int64_t>("batch_size", o.batch_size);
  o.collator = s.get<std::string>("collator", o.collator);
  o.group_by_length = s.get<bool>("group_by_length", o.group_by_length);
  o.document_mask = s.get<bool>("document_mask", o.document_mask);
  o.splits.val = s.get<double>("val_fraction", o.splits.val);
  o.splits.test = s.get<double>("test_fraction", o.splits.test);
  o.seed = s.get<int64_t>("seed", o.seed);
  o.shuffle = s.get<bool>("shuffle", o.shuffle);
  o.drop_last = s.get<bool>("drop_last", o.drop_last);
  o.num_workers = s.get<int64_t>("num_workers", o.num_workers);
  o.prefetch_factor = s.get<int64_t>("prefetch_factor", o.prefetch_factor);
  o.val_batches = s.get<int64_t>("val_batches", o.val_batches);
  VOLT_CHECK(o.block_size > 0, "[data] block_size must be positive, got ", o.block_size);
  VOLT_CHECK(o.batch_size > 0, "[data] batch_size must be positive, got ", o.batch_size);
  VOLT_CHECK(is_collator(o.collator), "[data] collator '", o.collator,
             "' is not one of static, dynamic, packed, concat");
  VOLT_CHECK(o.num_workers >= 0 && o.prefetch_factor >= 1,
             "[data] num_workers must be >= 0 and "
             "prefetch_factor >= 1, got ",
             o.num_workers, " and ", o.prefetch_factor);
  VOLT_CHECK(o.splits.val >= 0 && o.splits.test >= 0 && o.splits.val + o.splits.test < 1,
             "[data] val_fraction and test_fraction must be >= 0 with a sum below 1, got ",
             o.splits.val, " and ", o.splits.test);
  return o;
}

LLMDataModule::LLMDataModule(LLMDataOptions options) : options_(std::move(options)) {}

void LLMDataModule::set_tokenizer(std::shared_ptr<Tokenizer> t, std::string fingerprint) {
  tokenizer_ = std::move(t);
  tokenizer_fingerprint_ = std::move(fingerprint);
}

void LLMDataModule::prepare_data() {
  if (prepared_) return;
  for (auto& p : options_.corpus.paths) p = resolve_data_pattern(p);
  // The paths are now absolute: an exclude written relative to the working directory
  // ("data/test/**") must still match them.
  std::vector<std::string> exclude = options_.corpus.exclude;
  for (const auto& e : options_.corpus.exclude) {
    if (!std::filesystem::path(e).is_absolute() && e.rfind("**", 0) != 0) {
      exclude.push_back((std::filesystem::absolute(e)).lexically_normal().string());
    }
  }
  options_.corpus.exclude = exclude;
  if (options_.cache.name == data::TokenCacheOptions().name) {
    // A readable directory name: the format and the first input's stem ("wikitext-valid").
    const std::filesystem::path first = options_.corpus.paths.front();
    std::string stem = first.stem().string();
    if (data::has_glob(first.string())) {  // the last fixed folder: "python3.11" of its /**/*.py
      for (const auto& part : first) {
        if (data::has_glob(part.string())) break;
        stem = part.filename().string();
      }
    }
    options_.cache.name = options_.corpus.format + "-" + stem;
  }
  if (!tokenizer_) {
    options_.tokenizer = resolve_data_path(options_.tokenizer);
    tokenizer_ = load_tokenizer(options_.tokenizer);
    tokenizer_fingerprint_ = data::fingerprint_path(options_.tokenizer);
  }
  std::unique_ptr<ProgressBar> bar;
  data::TokenCache::Progress progress;
  if (progress_) {
    progress = [&bar](int64_t done, int64_t total) {
      if (!bar)
        bar = std::make_unique<ProgressBar>(std::max<int64_t>(1, total >> 20), "Tokenizing (MB)",
                                            stderr);
      bar->update(done >> 20, {});
    };
  }
  cache_ = std::make_shared<data::TokenCache>(data::TokenCache::open_or_build(
      options_.corpus, *tokenizer_, tokenizer_fingerprint_, options_.cache, progress, &report_));
  if (bar) bar->finish();
  if (progress_) {
    const double mb = static_cast<double>(report_.input_bytes) / 1e6;
    if (report_.built) {
      std::fprintf(stderr,
                   "[data] tokenized %.1f MB into %lld documents, %lld tokens in %.2f s "
                   "(%.1f MB/s; %s) -> %s\n",
                   mb, static_cast<long long>(cache_->num_documents()),
                   static_cast<long long>(cache_->num_tokens()), report_.seconds,
                   mb / std::max(report_.seconds, 1e-9), report_.reason.c_str(),
                   cache_->dir().c_str());
    } else {
      std::fprintf(stderr,
                   "[data] token cache reopened in %.3f s: %lld documents, %lld tokens (%s)\n",
                   report_.seconds, static_cast<long long>(cache_->num_documents()),
                   static_cast<long long>(cache_->num_tokens()), cache_->dir().c_str());
    }
  }
  prepared_ = true;
}

void LLMDataModule::setup(const std::string& /*stage*/) {
  prepare_data();
  if (!splits_.train.empty()) return;
  splits_ =
      data::split_documents(cache_->num_documents(), options_.splits,
                            data::derive_seed(static_cast<uint64_t>(options_.seed), kSplitStream));
}

const data::TokenCache& LLMDataModule::cache() const {
  VOLT_CHECK(cache_ != nullptr, "[data] call prepare_data() first");
  return *cache_;
}

std::vector<int64_t> LLMDataModule::documents(const std::string& split) const {
  if (split == "train") return splits_.train;
  if (split == "val") return splits_.val;
  if (split == "test") return splits_.test;
  VOLT_CHECK(split == "all", "[data] split '", split, "' is not one of train, val, test, all");
  std::vector<int64_t> all(static_cast<size_t>(cache().num_documents()));
  std::iota(all.begin(), all.end(), int64_t{0});
  return all;
}

CollatorStats LLMDataModule::collator_stats(const std::string& collator,
                                            const std::vector<int64_t>& docs) const {
  return collator_stats(collator, docs, collator == "dynamic" && options_.group_by_length);
}

CollatorStats LLMDataModule::collator_stats(const std::string& collator,
                                            const std::vector<int64_t>& docs,
                                            bool group_by_length) const {
  VOLT_CHECK(is_collator(collator), "[data] collator '", collator, "' is unknown");
  const auto rows = build_rows(collator, docs, cache(), options_.block_size);
  std::vector<int64_t> lengths;
  for (const auto& r : rows) lengths.push_back(r.inputs);
  data::SamplerOptions s;
  s.batch_size = options_.batch_size;
  s.seed = static_cast<uint64_t>(options_.seed);
  s.group_by_length = group_by_length;
  const auto batches = data::epoch_batches(lengths, s, 0);
  return {collator, static_cast<int64_t>(rows.size()),
          data::padding_stats(lengths, batches, collator == "dynamic" ? 0 : options_.block_size)};
}

std::shared_ptr<DataLoader> LLMDataModule::loader(const std::vector<int64_t>& docs, bool train,
                                                  int64_t max_batches) const {
  VOLT_CHECK(cache_ != nullptr && !splits_.train.empty(),
             "[data] call setup() before the dataloaders");
  const int64_t pad_id = tokenizer_->pad_id().value_or(tokenizer_->eos_id().value_or(0));
  data::SamplerOptions s;
  s.batch_size = options_.batch_size;
  s.seed = static_cast<uint64_t>(options_.seed);
  // Evaluation shuffles too (always epoch 0, so always the same order): a val_batches subset is
  // then a fair sample, not the longest pieces that packing and length grouping put first.
  s.shuffle = train ? options_.shuffle : true;
  s.drop_last = train && options_.drop_last;
  s.group_by_length = options_.collator == "dynamic" && options_.group_by_length;
  return std::make_shared<RowLoader>(
      cache_, build_rows(options_.collator, docs, *cache_, options_.block_size), s,
      collate_options(options_.collator, options_, pad_id), options_.num_workers,
      options_.prefetch_factor, max_batches);
}

std::shared_ptr<DataLoader> LLMDataModule::train_dataloader() {
  return loader(splits_.train, true, 0);
}

std::shared_ptr<DataLoader> LLMDataModule::val_dataloader() {
  if (splits_.val.empty()) return nullptr;
  return loader(splits_.val, false, options_.val_batches);
}

std::shared_ptr<DataLoader> LLMDataModule::test_dataloader() {
  if (splits_.test.empty()) return nullptr;
  return loader(splits_.test, false, 0);
}

std::shared_ptr<DataLoader> LLMDataModule::predict_dataloader() {
  if (!splits_.test.empty()) return test_dataloader();
  return splits_.val.empty() ? nullptr : loader(splits_.val, false, 0);
}

}  // namespace volt

// The LLM data pipeline with tensors: collators (what each position holds), the LLMDataModule
// end to end on real tokenizers and corpora (splits, epochs, reproducibility, the Wikitext-2
// padding figures), the prefetching loader and the Trainer's data-wait accounting.
#include "volt/data/llm_datamodule.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "test_data.h"
#include "test_helpers.h"
#include "volt/core/csv_logger.h"
#include "volt/data/collate.h"
#include "volt/data/prefetch_loader.h"

namespace volt {
namespace {

using test::error_of;
using test::ScopedTempDir;

std::vector<int64_t> row_of(const torch::Tensor& t, int64_t r) {
  auto c = t[r].contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// A cache of three short documents of known ids (GPT-2 ids of "a b c ...", plus EOS 50256).
struct SmallCorpus {
  ScopedTempDir tmp;
  std::shared_ptr<Tokenizer> tok = load_tokenizer(volt_test_data("tokenizers/gpt2"));
  data::TokenCache cache;
  SmallCorpus() {
    test::write_text(tmp / "c.jsonl",
                     "{\"text\": \"one two three\"}\n{\"text\": \"four five\"}\n{\"text\": \"six "
                     "seven eight nine ten\"}\n");
    data::CorpusOptions c;
    c.format = "jsonl";
    c.paths = {tmp / "c.jsonl"};
    data::TokenCacheOptions o;
    o.cache_dir = tmp / "cache";
    cache = data::TokenCache::open_or_build(c, *tok, "gpt2", o);
  }
};

TEST(Collate, SeparateRowsRestartPositionsAndMaskDocuments) {
  SmallCorpus s;
  const auto d0 = s.cache.document(0), d1 = s.cache.document(1);  // 4 and 3 tokens with EOS
  ASSERT_EQ(d0.size(), 4u);
  ASSERT_EQ(d1.size(), 3u);
  data::Row row{{{0, 0, 4}, {1, 0, 3}}, 5};
  data::CollateOptions o;
  o.pad_to = 8;
  o.pad_id = 50256;
  o.document_ids = true;
  const Batch b = data::collate({&row}, s.cache, o);
  EXPECT_EQ(row_of(b.input_ids, 0),
            (std::vector<int64_t>{d0[0], d0[1], d0[2], d1[0], d1[1], 50256, 50256, 50256}));
  EXPECT_EQ(row_of(b.labels, 0),
            (std::vector<int64_t>{d0[1], d0[2], d0[3], d1[1], d1[2], -100, -100, -100}));
  EXPECT_EQ(row_of(b.position_ids, 0), (std::vector<int64_t>{0, 1, 2, 0, 1, 0, 0, 0}));
  EXPECT_EQ(row_of(b.document_ids, 0), (std::vector<int64_t>{0, 0, 0, 1, 1, -1, -1, -1}));
  // Dynamic padding: to the longest row; no positions or document ids for one piece per row.
  data::Row a{{{0, 0, 4}}, 3}, c{{{1, 0, 3}}, 2};
  o.pad_to = 0;
  o.document_ids = false;
  const Batch d = data::collate({&a, &c}, s.cache, o);
  EXPECT_EQ(d.input_ids.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(d.document_ids.defined());
  EXPECT_EQ(row_of(d.labels, 1), (std::vector<int64_t>{d1[1], d1[2], -100}));
}

TEST(Collate, StreamRowsDropTheLabelThatCrossesDocuments) {
  SmallCorpus s;
  const auto d0 = s.cache.document(0), d1 = s.cache.document(1);
  data::Row row{{{0, 0, 4}, {1, 0, 3}}, 6};  // a stream of 7 tokens: 6 inputs
  data::CollateOptions o;
  o.layout = data::RowLayout::kStream;
  o.pad_to = 6;
  const Batch b = data::collate({&row}, s.cache, o);
  EXPECT_EQ(row_of(b.input_ids, 0),
            (std::vector<int64_t>{d0[0], d0[1], d0[2], d0[3], d1[0], d1[1]}));
  // EOS (d0[3]) would predict the next document's first token: no label there.
  EXPECT_EQ(row_of(b.labels, 0), (std::vector<int64_t>{d0[1], d0[2], d0[3], -100, d1[1], d1[2]}));
  EXPECT_FALSE(b.position_ids.defined());  // nanoGPT: one causal sequence
  o.document_ids = true;
  const Batch m = data::collate({&row}, s.cache, o);
  EXPECT_EQ(row_of(m.position_ids, 0), (std::vector<int64_t>{0, 1, 2, 3, 0, 1}));
  EXPECT_EQ(row_of(m.document_ids, 0), (std::vector<int64_t>{0, 0, 0, 0, 1, 1}));
}

LLMDataOptions wikitext_options(const std::string& cache_dir) {
  LLMDataOptions o;
  o.corpus.format = "wikitext";
  o.corpus.paths = {volt_test_data("corpora/wikitext-2/valid.txt")};
  o.tokenizer = volt_test_data("tokenizers/gpt2");
  o.cache.cache_dir = cache_dir;
  o.block_size = 1024;
  o.batch_size = 8;
  o.num_workers = 0;
  return o;
}

TEST(LLMDataModule, WikitextValidationPacksWithUnderOnePercentPadding) {
  // The figure: Wikitext-2 validation, GPT-2 BPE, block 1024, batch 8.
  ScopedTempDir tmp;
  LLMDataModule dm(wikitext_options(tmp / "cache"));
  dm.set_progress(false);
  dm.setup("fit");
  const auto all = dm.documents("all");
  EXPECT_GT(all.size(), 50u);
  const auto stat = dm.collator_stats("static", all);
  const auto dynamic = dm.collator_stats("dynamic", all);
  const auto packed = dm.collator_stats("packed", all);
  const auto concat = dm.collator_stats("concat", all);
  EXPECT_LE(packed.padding.padding_fraction(), 0.01);
  EXPECT_GT(stat.padding.padding_fraction(), packed.padding.padding_fraction());
  EXPECT_GE(stat.padding.padding_fraction(), dynamic.padding.padding_fraction());
  EXPECT_LE(concat.padding.padding_fraction(), 0.01);
  // Every collator feeds the same real tokens except concat, which keeps the EOS-to-next-document
  // positions as inputs (their labels are -100) and so has one more input per document boundary.
  EXPECT_EQ(stat.padding.tokens, packed.padding.tokens);
  EXPECT_EQ(stat.padding.tokens, dynamic.padding.tokens);
  int64_t labels = 0;
  for (int64_t d : all) labels += dm.cache().document_length(d) - 1;
  EXPECT_EQ(packed.padding.tokens, labels);
}

TEST(LLMDataModule, SplitsEpochsAndBatchesAreReproducible) {
  ScopedTempDir tmp;
  auto o = wikitext_options(tmp / "cache");
  o.block_size = 128;
  o.batch_size = 4;
  o.splits.val = 0.1;
  o.splits.test = 0.1;
  LLMDataModule a(o), b(o);
  a.set_progress(false);
  b.set_progress(false);
  a.setup("fit");
  b.setup("fit");
  EXPECT_EQ(a.splits().train, b.splits().train);
  std::set<int64_t> seen(a.splits().train.begin(), a.splits().train.end());
  for (int64_t d : a.splits().val) EXPECT_TRUE(seen.insert(d).second);
  for (int64_t d : a.splits().test) EXPECT_TRUE(seen.insert(d).second);
  EXPECT_EQ(seen.size(), static_cast<size_t>(a.cache().num_documents()));

  auto la = a.train_dataloader(), lb = b.train_dataloader();
  ASSERT_EQ(la->size(), lb->size());
  for (int64_t i : {int64_t{0}, la->size() / 2, la->size() - 1}) {
    EXPECT_TRUE(torch::equal(la->get(0, i).input_ids, lb->get(0, i).input_ids));
    EXPECT_TRUE(torch::equal(la->get(3, i).input_ids, lb->get(3, i).input_ids));
  }
  EXPECT_FALSE(torch::equal(la->get(0, 0).input_ids, la->get(1, 0).input_ids));
  // One epoch feeds every training label exactly once: the count of labels equals the split's.
  int64_t targets = 0;
  for (int64_t i = 0; i < la->size(); ++i) {
    const Batch batch = la->get(2, i);
    EXPECT_EQ(batch.input_ids.size(1), 128);
    targets += batch.num_target_tokens();
    // Padding (-1) has no label; positions restart within each document.
    EXPECT_TRUE(batch.labels.masked_select(batch.document_ids.eq(-1)).eq(-100).all().item<bool>());
  }
  int64_t want = 0;
  for (int64_t d : a.splits().train) want += a.cache().document_length(d) - 1;
  EXPECT_EQ(targets, want);
  // Another seed, another split.
  o.seed = 7;
  LLMDataModule c(o);
  c.set_progress(false);
  c.setup("fit");
  EXPECT_NE(c.splits().val, a.splits().val);
}

TEST(LLMDataModule, ConfigErrorsNameTheKey) {
  YAML::Node n = YAML::Load("{path: x.txt, tokenizer: t, collator: pack}");
  ConfigSection s(n, "data", "cfg.yaml");
  EXPECT_NE(error_of([&] { llm_data_options_from(s); }).find("collator 'pack'"), std::string::npos);
  YAML::Node m = YAML::Load("{path: x.txt, tokenizer: t, format: csv}");
  ConfigSection s2(m, "data", "cfg.yaml");
  EXPECT_NE(error_of([&] { llm_data_options_from(s2); }).find("csv"), std::string::npos);
}

// A loader whose batches take `delay` to build and which records concurrency.
class SlowLoader : public DataLoader {
 public:
  SlowLoader(int64_t n, int64_t workers, std::chrono::milliseconds delay)
      : n_(n), workers_(workers), delay_(delay) {}
  int64_t size() const override { return n_; }
  int64_t num_workers() const override { return workers_; }
  int64_t prefetch_factor() const override { return 2; }
  Batch get(int64_t epoch, int64_t index) const override {
    const int now = ++in_flight;
    int prev = max_in_flight.load();
    while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
    }
    if (index == fail_at) {
      --in_flight;
      VOLT_FAIL("[test] batch ", index, " is broken");  // fails at once, before slower batches
    }
    std::this_thread::sleep_for(delay_);
    --in_flight;
    Batch b;
    b.input_ids = torch::full({1, 2}, epoch * 1000 + index, torch::kLong);
    b.labels = b.input_ids.clone();
    return b;
  }
  mutable std::atomic<int> in_flight{0}, max_in_flight{0};
  int64_t fail_at = -1;

 private:
  int64_t n_, workers_;
  std::chrono::milliseconds delay_;
};

TEST(PrefetchLoader, HandsOutBatchesInOrderWithAnyNumberOfWorkers) {
  for (int64_t workers : {0, 1, 3}) {
    auto loader = std::make_shared<SlowLoader>(10, workers, std::chrono::milliseconds(2));
    PrefetchLoader p(loader, workers, 2, false);
    p.start(4, 3);  // resume mid-epoch
    for (int64_t i = 3; i < 10; ++i) EXPECT_EQ(p.next().input_ids[0][0].item<int64_t>(), 4000 + i);
    EXPECT_LE(loader->max_in_flight.load(), std::max<int64_t>(1, workers));
    p.start(5, 0);
    EXPECT_EQ(p.next().input_ids[0][0].item<int64_t>(), 5000);
  }
}

TEST(PrefetchLoader, OverlapsLoadingWithComputeAndRethrowsErrors) {
  // 20 batches of 10 ms with a 10 ms "step" each: with 2 workers the consumer barely waits.
  auto loader = std::make_shared<SlowLoader>(20, 2, std::chrono::milliseconds(10));
  PrefetchLoader p(loader, 2, 2, false);
  p.start(0, 0);
  for (int i = 0; i < 20; ++i) {
    p.next();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LT(p.wait_seconds(), 0.1);  // synchronous loading would wait 0.2 s
  PrefetchLoader sync(loader, 0, 2, false);
  sync.start(0, 0);
  for (int i = 0; i < 5; ++i) sync.next();
  EXPECT_GE(sync.wait_seconds(), 0.045);  // building batches on the training thread is waiting
  // Batch 2 fails at once while 0 and 1 are still being built: they are still handed out, in
  // order, as they would be without workers; then the error.
  loader->fail_at = 2;
  PrefetchLoader f(loader, 3, 2, false);
  f.start(0, 0);
  EXPECT_EQ(f.next().input_ids[0][0].item<int64_t>(), 0);
  EXPECT_EQ(f.next().input_ids[0][0].item<int64_t>(), 1);
  EXPECT_NE(error_of([&] { f.next(); }).find("batch 2 is broken"), std::string::npos);
  PrefetchLoader unstarted(loader, 2, 2, false);
  EXPECT_NE(error_of([&] { unstarted.next(); }).find("before start()"), std::string::npos);
}

class SlowDataModule : public LightningDataModule {
 public:
  explicit SlowDataModule(std::shared_ptr<DataLoader> l) : loader_(std::move(l)) {}
  std::shared_ptr<DataLoader> train_dataloader() override { return loader_; }

 private:
  std::shared_ptr<DataLoader> loader_;
};

TEST(TrainerDataWait, LoggedToTimingsAndWarnedAboveTenPercent) {
  ScopedTempDir dir;
  // Batches that take 150 ms on the training thread (no workers) against a tiny model's ~1 ms step:
  // far enough apart that a loaded machine (a step 20x slower) still sees mostly waiting.
  auto loader = std::make_shared<SlowLoader>(6, 0, std::chrono::milliseconds(150));
  SlowDataModule data(loader);
  test::TinyModule m(4000 + 10);
  auto o = test::quiet_options(dir.path());
  o.max_steps(6).logger(true).log_every_n_steps(3);
  testing::internal::CaptureStdout();
  Trainer(o, {}).fit(m, data);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("waiting for data"), std::string::npos) << out;
  const auto rows = CSVLogger::read(dir / "timings.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_GT(rows[0].at("data_wait"), 0.5);
  EXPECT_LE(rows[0].at("data_wait"), 1.0);
  // metrics.csv stays free of wall-clock values (two runs of one config must match).
  const std::string metrics = test::read_text(dir / "metrics.csv");
  EXPECT_EQ(metrics.find("data_wait"), std::string::npos);
}

}  // namespace
}  // namespace volt

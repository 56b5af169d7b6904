// Example 02 (data): an LLM DataModule on Wikitext-2 that never makes the model wait.
//
// The companion of docs/02-data-pipeline.md. One program, four parts:
//   1. the corpus: Wikitext-2's validation file, cut into articles, tokenized once with GPT-2's
//      BPE into a memory-mapped token cache (the second run reopens it in milliseconds);
//   2. padding: what the four collators (static, dynamic, packed, concat) waste on these articles
//      at the block size T and batch size B given on the command line;
//   3. one packed row, column by column: which articles it holds, position ids restarting at 0,
//      document ids that keep attention inside each article, label -100 on the padding;
//   4. training: a tiny BabyGPT on the packed batches with volt::Trainer, the loader's workers
//      building batches ahead, and the share of step time spent waiting for data, measured and
//      predicted. --loader-delay-ms makes every batch that much slower to build (a stand-in for
//      a slow disk or an on-the-fly tokenizer), so the prefetching arithmetic becomes visible.
//
//   cmake --build build --target example02_llm_datamodule -j1
//   ./build/bin/example02_llm_datamodule                          # T = 1024, B = 8, 8 steps
//   ./build/bin/example02_llm_datamodule --block-size 64 --batch-size 4 --loader-delay-ms 300
//
// Exits 1 when packing does not pad less than static padding, or a loss is not finite, so ctest
// can run it.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "example_data.h"
#include "volt/core/check.h"
#include "volt/core/seed.h"
#include "volt/data/collate.h"
#include "volt/data/llm_datamodule.h"
#include "volt/data/sampling.h"
#include "volt/models/model_config.h"
#include "volt/train/callback.h"
#include "volt/train/lm_module.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/optim.h"
#include "volt/train/trainer.h"

namespace fs = std::filesystem;

// The data.
constexpr int64_t kDefaultBlock = 1024;   // T: positions per row (GPT-2's context)
constexpr int64_t kDefaultBatch = 8;      // B: rows per batch
constexpr double kValFraction = 0.1;      // articles held out for validation (whole articles)
constexpr int64_t kValBatches = 4;        // validation batches at the end (0: the whole split)
constexpr int64_t kDefaultWorkers = 2;    // loader threads building batches ahead of the step
constexpr int64_t kPrefetchFactor = 4;    // batches each worker may build ahead
constexpr uint64_t kSeed = 1337;          // splits, shuffles, weights

// The model and its training: BabyGPT-tiny (2 blocks, 2 heads, 64 wide) with GPT-2's vocabulary.
// Nearly all of its 3.3M weights are the 50,304 x 64 embedding, which is also the output layer.
constexpr int64_t kDefaultSteps = 8;      // about a minute at T = 1024, B = 8 on 2 CPU cores
constexpr double kLR = 3e-3;              // a tiny model tolerates a large rate
constexpr double kMinLR = 3e-4;
constexpr double kWeightDecay = 0.1;
constexpr double kClipNorm = 1.0;

namespace {

using volt::examples::data_file;

// Where the token cache and the run live: $VOLT_CACHE_DIR for the cache (as volt's CLI), else
// the system's temp directory. The cache is kept between runs; the run directory is not.
fs::path work_dir() { return fs::temp_directory_path() / "volt-example02-llm-datamodule"; }

std::string cache_dir() {
  if (const char* env = std::getenv("VOLT_CACHE_DIR"); env != nullptr && *env != '\0') return env;
  return (work_dir() / "cache").string();
}

std::string thousands(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > (v < 0 ? 1 : 0); i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// An article's title: Wikitext starts each one with a " = Title = " line.
std::string title_of(const volt::LLMDataModule& dm, int64_t doc) {
  const auto& cache = dm.cache();
  std::vector<int64_t> head(static_cast<size_t>(std::min<int64_t>(24, cache.document_length(doc))));
  cache.read(doc, 0, static_cast<int64_t>(head.size()), head.data());
  std::string text = dm.tokenizer()->decode(head);
  text = text.substr(0, text.find('\n'));
  const auto first = text.find_first_not_of(" =");
  const auto last = text.find_last_not_of(" =");
  return first == std::string::npos ? "?" : text.substr(first, last - first + 1);
}

// Part 2: the padding table. Returns the padding fractions of static and packed.
std::pair<double, double> print_padding(const volt::LLMDataModule& dm, const std::vector<int64_t>& docs) {
  const auto& o = dm.options();
  int64_t tokens = 0;
  for (int64_t d : docs) tokens += dm.cache().document_length(d);
  std::printf("\nPadding at block_size %lld, batch_size %lld (all %lld articles, %s tokens):\n",
              static_cast<long long>(o.block_size), static_cast<long long>(o.batch_size),
              static_cast<long long>(docs.size()), thousands(tokens).c_str());
  std::printf("  %-16s %6s %8s %9s %13s\n", "collator", "rows", "batches", "padding", "tokens/batch");
  double static_pad = 0, packed_pad = 0;
  auto row = [](const std::string& label, const volt::CollatorStats& s) {
    std::printf("  %-16s %6lld %8lld %8.2f%% %13.1f\n", label.c_str(), static_cast<long long>(s.rows),
                static_cast<long long>(s.padding.batches), 100.0 * s.padding.padding_fraction(),
                s.padding.tokens_per_batch());
  };
  for (const auto& name : volt::collator_names()) {
    const auto s = dm.collator_stats(name, docs, false);
    row(name, s);
    if (name == "static") static_pad = s.padding.padding_fraction();
    if (name == "packed") packed_pad = s.padding.padding_fraction();
    // Hugging Face's length-grouped sampler: only dynamic padding profits from it.
    if (name == "dynamic") row("dynamic, grouped", dm.collator_stats(name, docs, true));
  }
  std::printf("  (real tokens per batch are at most B x T = %lld)\n",
              static_cast<long long>(o.block_size * o.batch_size));
  return {static_pad, packed_pad};
}

// Part 3: the packed row with the most articles, built as the module builds its rows (pieces of
// at most T + 1 tokens, best-fit decreasing into rows of T positions) and collated.
void print_packed_row(const volt::LLMDataModule& dm) {
  const auto& cache = dm.cache();
  const int64_t t = dm.options().block_size;
  const auto docs = dm.documents("train");
  const auto pieces = volt::data::chunk_documents(
      docs, [&cache](int64_t d) { return cache.document_length(d); }, t + 1);
  const auto rows = volt::data::pack_best_fit_decreasing(pieces, t);
  size_t pick = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].pieces.size() > rows[pick].pieces.size()) pick = r;
  }
  const volt::data::Row& row = rows[pick];
  volt::data::CollateOptions c;
  c.pad_to = t;
  c.pad_id = dm.tokenizer()->eos_id().value_or(0);  // GPT-2 has no pad token
  c.document_ids = true;
  const volt::Batch b = volt::data::collate({&row}, cache, c);
  const int64_t* in = b.input_ids.data_ptr<int64_t>();
  const int64_t* lab = b.labels.data_ptr<int64_t>();
  const int64_t* pos = b.position_ids.data_ptr<int64_t>();
  const int64_t* doc = b.document_ids.data_ptr<int64_t>();

  std::printf("\nOne packed row (row %zu of %zu training rows, the one holding the most pieces): "
              "%zu pieces fill %lld of %lld positions\n", pick, rows.size(), row.pieces.size(),
              static_cast<long long>(row.inputs), static_cast<long long>(t));
  int64_t at = 0;
  std::vector<int64_t> starts;
  for (size_t k = 0; k < row.pieces.size(); ++k) {
    const auto& p = row.pieces[k];
    const int64_t n = cache.document_length(p.doc);
    std::printf("  document_id %zu: columns %4lld-%-4lld tokens %lld..%lld of article %lld (%s tokens%s) \"%s\"\n",
                k, static_cast<long long>(at), static_cast<long long>(at + p.length - 2),
                static_cast<long long>(p.begin), static_cast<long long>(p.begin + p.length - 1),
                static_cast<long long>(p.doc), thousands(n).c_str(),
                p.begin + p.length == n ? ", its end" : "", title_of(dm, p.doc).c_str());
    starts.push_back(at);
    at += p.length - 1;
  }
  // The columns around each boundary and the padding.
  std::vector<int64_t> show;
  for (int64_t s : starts) {
    if (s > 0) show.push_back(s - 1);
    show.push_back(s);
    show.push_back(s + 1);
  }
  show.push_back(row.inputs - 1);
  if (row.inputs < t) {
    show.push_back(row.inputs);
    show.push_back(t - 1);
  }
  std::sort(show.begin(), show.end());
  show.erase(std::unique(show.begin(), show.end()), show.end());
  std::printf("\n  %6s %9s %7s %11s %11s\n", "column", "input_id", "label", "position_id", "document_id");
  int64_t previous = -1;
  for (int64_t i : show) {
    if (previous >= 0 && i > previous + 1) std::printf("  %6s\n", "...");
    previous = i;
    const char* note = "";
    if (doc[i] < 0) {
      note = i == row.inputs ? "padding: input EOS, label -100 (no loss), document -1"
                             : "the row's last column";
    } else if (pos[i] == 0) {
      note = "a piece starts: position 0, attends only to its own tokens";
    } else if (i + 1 == row.inputs || (i + 1 < t && doc[i + 1] != doc[i])) {
      note = lab[i] == c.pad_id ? "its piece's last input: the label is the article's EOS"
                                : "its piece's last input: the label is the piece's last token";
    }
    std::printf("  %6lld %9lld %7lld %11lld %11lld   %s\n", static_cast<long long>(i),
                static_cast<long long>(in[i]), static_cast<long long>(lab[i]),
                static_cast<long long>(pos[i]), static_cast<long long>(doc[i]), note);
  }
}

// A loader that takes `delay` longer per batch: a stand-in for a slow disk, a network file
// system or tokenizing on the fly. It sleeps, so it costs time but no CPU.
class DelayedLoader : public volt::DataLoader {
 public:
  DelayedLoader(std::shared_ptr<volt::DataLoader> inner, std::chrono::milliseconds delay)
      : inner_(std::move(inner)), delay_(delay) {}
  int64_t size() const override { return inner_->size(); }
  volt::Batch get(int64_t epoch, int64_t index) const override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    return inner_->get(epoch, index);
  }
  int64_t num_workers() const override { return inner_->num_workers(); }
  int64_t prefetch_factor() const override { return inner_->prefetch_factor(); }

 private:
  std::shared_ptr<volt::DataLoader> inner_;
  std::chrono::milliseconds delay_;
};

// The LLMDataModule with its training batches delayed (validation is left alone).
class DelayedData : public volt::LightningDataModule {
 public:
  DelayedData(volt::LLMDataModule& inner, std::chrono::milliseconds delay) : inner_(inner), delay_(delay) {}
  void prepare_data() override { inner_.prepare_data(); }
  void setup(const std::string& stage) override { inner_.setup(stage); }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    return std::make_shared<DelayedLoader>(inner_.train_dataloader(), delay_);
  }
  std::shared_ptr<volt::DataLoader> val_dataloader() override { return inner_.val_dataloader(); }

 private:
  volt::LLMDataModule& inner_;
  std::chrono::milliseconds delay_;
};

// R_loader: training batches of epoch 0 built on this thread, no workers (all of them, or 3 when
// each is delayed). Returns the seconds per batch, t_load.
double measure_loader(volt::DataLoader& loader, bool delayed) {
  const int64_t n = delayed ? std::min<int64_t>(3, loader.size()) : loader.size();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t tokens = 0;
  for (int64_t i = 0; i < n; ++i) tokens += loader.get(0, i).num_target_tokens();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\nThe loader alone, one thread: %lld packed batches (%s real tokens) in %.3f s = %.3f ms "
              "per batch, %s real tokens/s\n", static_cast<long long>(n), thousands(tokens).c_str(), s,
              1e3 * s / static_cast<double>(n),
              thousands(std::llround(static_cast<double>(tokens) / std::max(s, 1e-9))).c_str());
  return s / static_cast<double>(n);
}

// Prints every step as it ends and remembers its loss.
class StepPrinter : public volt::Callback {
 public:
  std::string name() const override { return "StepPrinter"; }
  void on_train_start(volt::Trainer&, volt::LightningModule&) override { last_ = Clock::now(); }
  void on_train_batch_end(volt::Trainer& trainer, volt::LightningModule&, const torch::Tensor& loss,
                          const volt::Batch& batch, int64_t) override {
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    const double value = loss.item<double>();
    losses.push_back(value);
    tokens += batch.num_target_tokens();
    std::printf("  step %3lld  loss %7.4f  %6.2f s\n", static_cast<long long>(trainer.global_step()),
                value, s);
    std::fflush(stdout);
  }
  std::vector<double> losses;
  int64_t tokens = 0;  // real (labelled) tokens trained on

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_;
};

// timings.csv (one row per logged step): the share of each step spent waiting for data, and the
// step's length. Returns {run share, first step's share, share of the others}.
struct WaitShares {
  double run = 0, first = 0, rest = 0;
  double seconds = 0;       // all steps
  double compute_rest = 0;  // mean step time minus its wait, after the first step: t_compute
};
WaitShares read_data_wait(const std::string& path) {
  std::ifstream in(path);
  VOLT_CHECK(in.good(), "[example02-data] ", path, ": the Trainer wrote no timings");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> columns;
  {
    std::stringstream h(line);
    std::string c;
    while (std::getline(h, c, ',')) columns.push_back(c);
  }
  auto index = [&](const std::string& name) {
    const auto it = std::find(columns.begin(), columns.end(), name);
    VOLT_CHECK(it != columns.end(), "[example02-data] ", path, " has no column ", name);
    return static_cast<size_t>(it - columns.begin());
  };
  const size_t wi = index("data_wait"), si = index("step_seconds");
  double wait_all = 0, step_all = 0, wait_rest = 0, step_rest = 0;
  int64_t steps_rest = 0;
  WaitShares w;
  bool first = true;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream r(line);
    std::string c;
    while (std::getline(r, c, ',')) cells.push_back(c);
    if (cells.size() <= std::max(wi, si) || cells[wi].empty()) continue;
    const double share = std::stod(cells[wi]), step = std::stod(cells[si]);
    wait_all += share * step, step_all += step;
    if (first) {
      w.first = share;
      first = false;
    } else {
      wait_rest += share * step, step_rest += step;
      ++steps_rest;
    }
  }
  w.run = step_all > 0 ? wait_all / step_all : 0;
  w.rest = step_rest > 0 ? wait_rest / step_rest : 0;
  w.seconds = step_all;
  w.compute_rest = steps_rest > 0 ? (step_rest - wait_rest) / static_cast<double>(steps_rest) : 0;
  return w;
}

struct Args {
  int64_t block = kDefaultBlock, batch = kDefaultBatch, steps = kDefaultSteps, workers = kDefaultWorkers;
  int64_t delay_ms = 0;
};

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    int64_t* target = arg == "--block-size" ? &a.block
                      : arg == "--batch-size" ? &a.batch
                      : arg == "--steps"      ? &a.steps
                      : arg == "--workers"    ? &a.workers
                      : arg == "--loader-delay-ms" ? &a.delay_ms
                                              : nullptr;
    if (target == nullptr || i + 1 >= argc) return false;
    char* end = nullptr;
    *target = std::strtoll(argv[++i], &end, 10);
    const int64_t lowest = target == &a.workers || target == &a.delay_ms ? 0 : 1;
    if (end == argv[i] || *end != '\0' || *target < lowest) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    const std::string first = argc > 1 ? argv[1] : "";
    std::printf(
        "usage: %s [--block-size %lld] [--batch-size %lld] [--steps %lld] [--workers %lld]\n"
        "          [--loader-delay-ms 0]\n"
        "Builds an LLMDataModule on Wikitext-2 (GPT-2 tokens), prints the padding of the four\n"
        "collators and one packed row, then trains BabyGPT-tiny on packed rows with volt::Trainer\n"
        "and prints the share of step time spent waiting for data. --loader-delay-ms makes each\n"
        "training batch that much slower to build (a stand-in for a slow loader).\n"
        "Data: $VOLT_DATA_DIR, else ../shared/data beside the repository. Token cache:\n"
        "$VOLT_CACHE_DIR, else %s.\n",
        argv[0], static_cast<long long>(kDefaultBlock), static_cast<long long>(kDefaultBatch),
        static_cast<long long>(kDefaultSteps), static_cast<long long>(kDefaultWorkers),
        (work_dir() / "cache").c_str());
    return first == "--help" || first == "-h" ? 0 : 2;
  }
  try {
    // Part 1: the corpus, tokenized once.
    volt::LLMDataOptions o;
    o.corpus.format = "wikitext";  // an article starts at a " = Title = " line
    o.corpus.paths = {data_file("corpora/wikitext-2/valid.txt")};
    o.tokenizer = data_file("tokenizers/gpt2");
    o.cache.cache_dir = cache_dir();
    o.cache.append_eos = true;     // <|endoftext|> ends every article
    o.block_size = args.block;
    o.batch_size = args.batch;
    o.collator = "packed";
    o.splits.val = kValFraction;
    o.seed = static_cast<int64_t>(kSeed);
    o.num_workers = args.workers;
    o.prefetch_factor = kPrefetchFactor;
    o.val_batches = kValBatches;
    volt::LLMDataModule dm(o);
    dm.set_progress(false);
    dm.setup("fit");
    const auto& report = dm.cache_report();
    const auto& cache = dm.cache();
    std::printf("Wikitext-2 valid.txt: %s articles, %s GPT-2 tokens (%s, %d bytes each)\n",
                thousands(cache.num_documents()).c_str(), thousands(cache.num_tokens()).c_str(),
                cache.bytes_per_token() == 2 ? "uint16" : "uint32", cache.bytes_per_token());
    if (report.built) {
      std::printf("token cache built in %.2f s (%.1f MB/s; %s): %s\n", report.seconds,
                  static_cast<double>(report.input_bytes) / 1e6 / std::max(report.seconds, 1e-9),
                  report.reason.c_str(), cache.dir().c_str());
    } else {
      std::printf("token cache reopened in %.3f s: %s\n", report.seconds, cache.dir().c_str());
    }
    std::printf("split by article (seed %llu): %zu train, %zu val\n",
                static_cast<unsigned long long>(kSeed), dm.splits().train.size(), dm.splits().val.size());

    // Part 2: what each collator wastes.
    const auto [static_pad, packed_pad] = print_padding(dm, dm.documents("all"));

    // Part 3: inside one packed row.
    print_packed_row(dm);

    // Part 4: train on packed rows. First the loader's own speed, R_loader.
    const std::chrono::milliseconds delay(args.delay_ms);
    DelayedData data(dm, delay);
    const double t_load = measure_loader(*data.train_dataloader(), args.delay_ms > 0);

    volt::ModelConfig mc = volt::ModelConfig::preset("babygpt-tiny");
    mc.block_size = args.block;  // the position table covers the rows
    // GPT-2's 50,257 ids rounded up to a multiple of 64 (50,304), as nanoGPT does.
    mc.vocab_size = (dm.tokenizer()->vocab_size() + 63) / 64 * 64;
    volt::AdamWOptions adamw;
    adamw.lr = kLR;
    adamw.beta2 = 0.99;
    adamw.weight_decay = kWeightDecay;
    const int64_t warmup = std::max<int64_t>(1, args.steps / 5);
    auto schedule = std::make_shared<volt::CosineWithWarmup>(warmup, args.steps, kMinLR, kLR);
    volt::seed_everything(kSeed);  // before the weights are drawn
    volt::LMModule model(mc, adamw, schedule, dm.tokenizer());

    const fs::path run_dir = work_dir() / "run";
    fs::remove_all(run_dir);
    auto printer = std::make_shared<StepPrinter>();
    volt::Trainer trainer(volt::TrainerOptions()
                              .max_steps(args.steps)
                              .val_check_interval(0)   // validate once, after training
                              .log_every_n_steps(1)    // one timings.csv row per step
                              .gradient_clip_val(kClipNorm)
                              .seed(kSeed)
                              .default_root_dir(run_dir.string())
                              .enable_progress_bar(false)  // StepPrinter prints the steps
                              .enable_checkpointing(false),
                          {printer});
    std::printf("\nTraining BabyGPT-tiny (2 blocks, 64 wide, vocabulary %lld, context %lld) on packed "
                "rows, %lld loader worker%s%s:\n", static_cast<long long>(mc.vocab_size),
                static_cast<long long>(mc.block_size), static_cast<long long>(args.workers),
                args.workers == 1 ? "" : "s",
                args.delay_ms > 0 ? (", each batch delayed " + std::to_string(args.delay_ms) + " ms").c_str() : "");
    trainer.fit(model, data);
    const auto val = trainer.validate(model, dm);
    const double val_loss = val.count("val_loss") ? val.at("val_loss") : std::nan("");

    const WaitShares wait = read_data_wait((run_dir / "timings.csv").string());
    const double model_rate = static_cast<double>(printer->tokens) / std::max(wait.seconds, 1e-9);
    std::printf("\nval_loss %.4f on %lld batches (a uniform guess over the vocabulary: ln %lld = %.2f)\n",
                val_loss, static_cast<long long>(kValBatches), static_cast<long long>(mc.vocab_size),
                std::log(static_cast<double>(mc.vocab_size)));
    std::printf("model: %s real tokens/s over the run\n", thousands(std::llround(model_rate)).c_str());
    std::printf("data wait: %.3f%% of step time over the run (first step %.3f%%: the queue starts "
                "empty; the others %.3f%%)\n", 100 * wait.run, 100 * wait.first, 100 * wait.rest);
    if (args.steps > 1) {
      // Section 1 of the docs: synchronous, the step is t_compute + t_load; with k workers
      // building ahead, it is max(t_compute, t_load / k).
      const double tc = wait.compute_rest;
      const auto k = static_cast<double>(args.workers);
      const double predicted = args.workers == 0 ? t_load / (t_load + tc)
                                                 : std::max(0.0, 1.0 - k * tc / t_load);
      std::printf("  predicted after the first step, from t_compute %.3f s and t_load %.3f ms with %lld "
                  "worker%s: %s = %.3f%%\n", tc, 1e3 * t_load, static_cast<long long>(args.workers),
                  args.workers == 1 ? "" : "s",
                  args.workers == 0 ? "t_load / (t_load + t_compute)" : "max(0, 1 - k t_compute / t_load)",
                  100 * predicted);
    }

    bool ok = true;
    if (!(packed_pad < static_pad)) {
      std::printf("FAIL: packing pads %.2f%%, not less than static padding's %.2f%%\n",
                  100 * packed_pad, 100 * static_pad);
      ok = false;
    }
    bool finite = std::isfinite(val_loss) && !printer->losses.empty();
    for (double l : printer->losses) finite = finite && std::isfinite(l);
    if (!finite) {
      std::printf("FAIL: a training or validation loss is not finite (or none was computed)\n");
      ok = false;
    }
    std::printf("%s: packed padding %.2f%% < static %.2f%%, losses finite (%.4f -> %.4f)\n",
                ok ? "PASS" : "FAIL", 100 * packed_pad, 100 * static_pad,
                printer->losses.empty() ? std::nan("") : printer->losses.front(),
                printer->losses.empty() ? std::nan("") : printer->losses.back());
    return ok ? 0 : 1;
  } catch (const volt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}

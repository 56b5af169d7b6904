// Checkpoints: what ModelCheckpoint writes, top-k selection, and exact resume (a run split in two
// ends bit-identical to one uninterrupted run, metrics.csv included).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_helpers.h"
#include "volt/core/check.h"
#include "volt/core/csv_logger.h"
#include "volt/data/text_datamodule.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/char_tokenizer.h"
#include "volt/train/callbacks.h"
#include "volt/train/lm_module.h"
#include "volt/train/trainer.h"
#include "volt/core/signals.h"
#include "volt/train/precision.h"

#include <csignal>

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::RecordingCallback;
using test::ScopedTempDir;

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// ---------------------------------------------------------------------------------------------
// A small language-model run: the first 6000 characters of Tiny Shakespeare, char tokenizer,
// babygpt-tiny with dropout (so the restored RNG state matters), AdamW, cosine schedule.

struct LMRun {
  std::string text_path;
  int64_t batches_per_epoch = 3;

  std::shared_ptr<TextDataModule> data() const {
    TextDataOptions o;
    o.path = text_path;
    o.block_size = 16;
    o.batch_size = 4;
    o.val_batches = 2;
    o.train_batches_per_epoch = batches_per_epoch;
    auto d = std::make_shared<TextDataModule>(o);
    d->prepare_data();
    d->setup("fit");
    return d;
  }
  std::shared_ptr<LMModule> module(uint64_t init_seed, const TextDataModule& d) const {
    torch::manual_seed(init_seed);
    auto cfg = ModelConfig::preset("babygpt-tiny");
    cfg.vocab_size = d.tokenizer()->vocab_size();
    cfg.dropout = 0.1;
    AdamWOptions a;
    a.lr = 1e-2;
    a.beta2 = 0.99;
    a.weight_decay = 0.1;
    return std::make_shared<LMModule>(cfg, a, std::make_shared<CosineWithWarmup>(2, 8, 1e-3, 1e-2),
                                      d.tokenizer());
  }
  TrainerOptions options(const std::string& dir, int64_t max_steps, int64_t val_every) const {
    auto o = test::quiet_options(dir);
    o.max_steps(max_steps)
        .val_check_interval(val_every)
        .enable_checkpointing(true)
        .logger(true)
        .gradient_clip_val(1.0)
        .seed(1234);
    return o;
  }
};

LMRun make_run(const ScopedTempDir& dir) {
  const std::string text = io::read_file(volt_test_data("corpora/tinyshakespeare/input.txt"));
  LMRun r;
  r.text_path = dir / "input.txt";
  test::write_text(r.text_path, text.substr(0, 6000));
  return r;
}

void expect_same_parameters(torch::nn::Module& a, torch::nn::Module& b) {
  auto pa = a.named_parameters();
  auto pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& kv : pa) {
    EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()]))
        << kv.key() << " differs by " << test::max_abs_diff(kv.value(), pb[kv.key()]);
  }
}

TEST(Checkpoint, LastHoldsTheHfModelTokenizerAndTrainerState) {
  ScopedTempDir dir;
  const auto run = make_run(dir);
  auto data = run.data();
  auto m = run.module(0, *data);
  Trainer t(run.options(dir / "run", 4, 3), {std::make_shared<LearningRateMonitor>()});
  t.fit(*m, *data);

  const std::string last = dir / "run/checkpoints/last";
  EXPECT_EQ(entries(dir / "run/checkpoints"), (std::set<std::string>{"last", "step-000003"}));
  EXPECT_EQ(entries(last), (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                                  "tokenizer.json", "tokenizer_config.json", "trainer_state.json",
                                                  "trainer_state.safetensors"}));
  const auto state = io::read_json(last + "/trainer_state.json");
  EXPECT_EQ(state.at("global_step").get<int64_t>(), 4);
  EXPECT_EQ(state.at("epoch").get<int64_t>(), 1);  // 3 batches per epoch: step 4 is epoch 1's first
  EXPECT_EQ(state.at("batch_in_epoch").get<int64_t>(), 1);
  EXPECT_EQ(state.at("optimizer").get<std::string>(), "AdamW");
  EXPECT_EQ(state.at("precision").get<std::string>(), "32-true");
  EXPECT_EQ(state.at("accumulate_grad_batches").get<int64_t>(), 1);
  // Lightning's default ModelCheckpoint monitors nothing: the newest checkpoint is the best.
  EXPECT_EQ(state.at("callbacks").at("ModelCheckpoint").at("monitor").get<std::string>(), "");
  EXPECT_EQ(state.at("callbacks").at("ModelCheckpoint").at("best_model_path").get<std::string>(),
            dir / "run/checkpoints/step-000003");

  io::SafetensorsFile ts(last + "/trainer_state.safetensors");
  EXPECT_EQ(ts.load("optimizer.step").item<int64_t>(), 4);
  EXPECT_TRUE(ts.contains("rng.cpu"));
  for (auto& [name, p] : unique_named_parameters(*m)) {
    ASSERT_TRUE(ts.contains("optimizer.exp_avg." + name)) << name;
    ASSERT_TRUE(ts.contains("optimizer.exp_avg_sq." + name)) << name;
    EXPECT_EQ(ts.info("optimizer.exp_avg." + name).shape, p.sizes().vec()) << name;
  }

  // The model directory is a Hugging Face one: from_pretrained rebuilds the same function.
  auto lm = from_pretrained(last);
  lm->eval();
  m->eval();
  auto ids = torch::tensor({{1, 5, 9, 2, 7, 3}}, torch::kLong);
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(lm->forward(ids), m->lm->forward(ids)));
  EXPECT_EQ(lm->config().vocab_size, data->tokenizer()->vocab_size());
  auto tok = load_tokenizer(last);
  EXPECT_EQ(tok->vocab_size(), data->tokenizer()->vocab_size());
  EXPECT_EQ(tok->encode("First Citizen"), data->tokenizer()->encode("First Citizen"));
}

TEST(Checkpoint, ResumeIsExact) {
  ScopedTempDir dir;
  const auto run = make_run(dir);
  const int64_t n = 4;

  // A: 2n steps in one go.
  auto data_a = run.data();
  auto a = run.module(0, *data_a);
  Trainer(run.options(dir / "a", 2 * n, 3), {std::make_shared<LearningRateMonitor>()}).fit(*a, *data_a);

  // B: n steps, then a fresh process-like start (new data, new module with other initial
  // weights, new trainer) resumed from B's last checkpoint up to 2n.
  {
    auto data_b = run.data();
    auto b1 = run.module(0, *data_b);
    Trainer(run.options(dir / "b", n, 3), {std::make_shared<LearningRateMonitor>()}).fit(*b1, *data_b);
  }
  auto data_b = run.data();
  auto b2 = run.module(99, *data_b);
  auto rec = std::make_shared<RecordingCallback>();
  Trainer tb(run.options(dir / "b", 2 * n, 3), {rec, std::make_shared<LearningRateMonitor>()});
  tb.fit(*b2, *data_b, dir / "b/checkpoints/last");

  EXPECT_EQ(tb.global_step(), 2 * n);
  EXPECT_EQ(rec->batch_end_steps, (std::vector<int64_t>{5, 6, 7, 8}));
  EXPECT_EQ(rec->val_steps, (std::vector<int64_t>{6}));
  expect_same_parameters(*a->lm, *b2->lm);

  // metrics.csv: B's rows (n from before the resume, n after) equal A's, value for value.
  const auto rows_a = CSVLogger::read(dir / "a/metrics.csv");
  const auto rows_b = CSVLogger::read(dir / "b/metrics.csv");
  ASSERT_EQ(rows_a.size(), static_cast<size_t>(2 * n));
  ASSERT_EQ(rows_b.size(), rows_a.size());
  for (size_t i = 0; i < rows_a.size(); ++i) {
    EXPECT_EQ(rows_a[i], rows_b[i]) << "row " << i;
    EXPECT_EQ(rows_b[i].count("train_loss"), 1u);
  }
  EXPECT_EQ(test::read_text(dir / "a/metrics.csv"), test::read_text(dir / "b/metrics.csv"));
  // And the final checkpoints agree on the optimizer state.
  io::SafetensorsFile sa(dir / "a/checkpoints/last/trainer_state.safetensors");
  io::SafetensorsFile sb(dir / "b/checkpoints/last/trainer_state.safetensors");
  for (const auto& name : sa.names()) {
    ASSERT_TRUE(sb.contains(name)) << name;
    EXPECT_TRUE(torch::equal(sa.load(name), sb.load(name))) << name;
  }
}

TEST(Checkpoint, ResumeWithAccumulationAndLastIsExact) {
  ScopedTempDir dir;
  auto run = make_run(dir);
  run.batches_per_epoch = 5;  // 2 steps of 2 micro-batches per epoch; one batch left over
  auto opts = [&](const std::string& d, int64_t steps) {
    return run.options(d, steps, 0).accumulate_grad_batches(2);  // validate at epoch ends
  };
  auto data_a = run.data();
  auto a = run.module(0, *data_a);
  Trainer(opts(dir / "a", 5), {}).fit(*a, *data_a);
  {
    auto data_b = run.data();
    auto b1 = run.module(0, *data_b);
    Trainer(opts(dir / "b", 3), {}).fit(*b1, *data_b);  // stops mid-epoch 1
  }
  auto data_b = run.data();
  auto b2 = run.module(7, *data_b);
  Trainer tb(opts(dir / "b", 5), {});
  tb.fit(*b2, *data_b, "last");  // "last" of this run directory
  EXPECT_EQ(tb.global_step(), 5);
  EXPECT_EQ(tb.current_epoch(), 2);
  expect_same_parameters(*a->lm, *b2->lm);
  EXPECT_EQ(test::read_text(dir / "a/metrics.csv"), test::read_text(dir / "b/metrics.csv"));
}

// BUG (src/train/trainer.cpp, Trainer::fit / load_checkpoint): a checkpoint written by
// ModelCheckpoint during the end-of-epoch validation (val_check_interval = 0) records
// batch_in_epoch == loader size but not that the validation already ran, so the resumed run
// repeats that validation (and on_train_epoch_end and the checkpoint save) at the resume step.
TEST(Checkpoint, ResumeAfterEpochEndValidationDoesNotRepeatIt) {
  ScopedTempDir dir;
  auto run = make_run(dir);
  run.batches_per_epoch = 2;
  {
    auto data = run.data();
    auto m = run.module(0, *data);
    Trainer(run.options(dir / "b", 2, 0), {}).fit(*m, *data);  // ends exactly at epoch 0's end
  }
  auto data = run.data();
  auto m = run.module(0, *data);
  auto rec = std::make_shared<RecordingCallback>();
  Trainer t(run.options(dir / "b", 4, 0), {rec});
  t.fit(*m, *data, "last");
  EXPECT_EQ(t.global_step(), 4);
  EXPECT_EQ(rec->val_steps, (std::vector<int64_t>{4})) << "validation ran again at the resume step";
  EXPECT_EQ(rec->epoch_ends, (std::vector<int64_t>{1})) << "epoch 0 ended twice";
}

// SIGTERM during training: the step in progress finishes, checkpoints/last is written at that
// step, fit() stops with exit code 143; resuming from it ends bit-identical to a straight run.
class RaiseAt : public Callback {
 public:
  RaiseAt(int64_t step, int signal) : step_(step), signal_(signal) {}
  std::string name() const override { return "RaiseAt"; }
  void on_train_batch_start(Trainer& t, LightningModule&, const Batch&, int64_t) override {
    if (t.global_step() + 1 == step_) ::raise(signal_);  // arrives in the middle of this step
  }

 private:
  int64_t step_;
  int signal_;
};

TEST(Checkpoint, SigtermFinishesTheStepSavesAndResumesExactly) {
  ScopedTempDir dir;
  const auto run = make_run(dir);
  auto data_a = run.data();
  auto a = run.module(0, *data_a);
  Trainer(run.options(dir / "a", 8, 3), {std::make_shared<LearningRateMonitor>()}).fit(*a, *data_a);
  {
    auto data_b = run.data();
    auto b1 = run.module(0, *data_b);
    Trainer t(run.options(dir / "b", 8, 3), {std::make_shared<LearningRateMonitor>(), std::make_shared<RaiseAt>(5, SIGTERM)});
    try {
      t.fit(*b1, *data_b);
      FAIL() << "SIGTERM did not stop the run";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 143);
      EXPECT_NE(std::string(e.what()).find("SIGTERM: stopped after step 5"), std::string::npos) << e.what();
    }
    EXPECT_EQ(t.global_step(), 5);
    EXPECT_EQ(io::read_json(dir / "b/checkpoints/last/trainer_state.json").at("global_step").get<int64_t>(), 5);
  }
  EXPECT_EQ(SignalGuard::pending(), 0);  // the handlers are gone with fit()
  auto data_b = run.data();
  auto b2 = run.module(42, *data_b);
  Trainer tb(run.options(dir / "b", 8, 3), {std::make_shared<LearningRateMonitor>()});
  tb.fit(*b2, *data_b, "last");
  expect_same_parameters(*a->lm, *b2->lm);
  EXPECT_EQ(test::read_text(dir / "a/metrics.csv"), test::read_text(dir / "b/metrics.csv"));
}

// The loss scaler's state (scale, clean-step count) and the skipped-step count survive a resume:
// a 16-mixed-style run with an overflow, split in two, logs the same loss_scale at every step.
class OverflowAt : public LMModule {
 public:
  using LMModule::LMModule;
  torch::Tensor training_step(const Batch& b, int64_t idx) override {
    auto loss = LMModule::training_step(b, idx);
    return idx == 2 ? loss * 1e38 : loss;
  }
};

TEST(Checkpoint, ResumeRestoresTheLossScaler) {
  ScopedTempDir dir;
  const auto run = make_run(dir);
  auto scaled = [] {
    LossScalerOptions o;
    o.init_scale = 1024, o.growth_interval = 2;
    return std::make_shared<MixedPrecision>("scaled-32", c10::nullopt, std::make_unique<LossScaler>(o));
  };
  auto module = [&](uint64_t seed, const TextDataModule& d) {
    torch::manual_seed(seed);
    auto cfg = ModelConfig::preset("babygpt-tiny");
    cfg.vocab_size = d.tokenizer()->vocab_size();
    AdamWOptions a;
    a.lr = 1e-2;
    return std::make_shared<OverflowAt>(cfg, a, nullptr, d.tokenizer());
  };
  auto data_a = run.data();
  auto a = module(0, *data_a);
  Trainer ta(run.options(dir / "a", 7, 0).precision_plugin(scaled()), {});
  ta.fit(*a, *data_a);
  {
    auto data_b = run.data();
    auto b1 = module(0, *data_b);
    Trainer(run.options(dir / "b", 4, 0).precision_plugin(scaled()), {}).fit(*b1, *data_b);
  }
  auto data_b = run.data();
  auto b2 = module(3, *data_b);
  Trainer tb(run.options(dir / "b", 7, 0).precision_plugin(scaled()), {});
  tb.fit(*b2, *data_b, "last");
  EXPECT_EQ(tb.skipped_steps(), ta.skipped_steps());
  EXPECT_GE(ta.skipped_steps(), 1);
  EXPECT_DOUBLE_EQ(tb.precision_plugin().scaler()->scale_value(), ta.precision_plugin().scaler()->scale_value());
  expect_same_parameters(*a->lm, *b2->lm);
  const std::string csv = test::read_text(dir / "a/metrics.csv");
  EXPECT_NE(csv.find("loss_scale"), std::string::npos);
  EXPECT_EQ(csv, test::read_text(dir / "b/metrics.csv"));
}

TEST(Checkpoint, ResumeErrorsNameTheDirectory) {
  ScopedTempDir dir;
  const auto run = make_run(dir);
  auto data = run.data();
  auto m = run.module(0, *data);
  try {
    Trainer(run.options(dir / "r", 2, 0), {}).fit(*m, *data, dir / "nowhere");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "nowhere"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no such checkpoint directory"), std::string::npos) << e.what();
  }
  // A plain model directory (no trainer state) cannot be resumed from.
  m->save_pretrained(dir / "model");
  try {
    Trainer(run.options(dir / "r2", 2, 0), {}).fit(*m, *data, dir / "model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no trainer_state.json"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Top-k, with a scripted validation loss per validation run.

class SnapshotAtValidation : public Callback {
 public:
  std::string name() const override { return "SnapshotAtValidation"; }
  void on_validation_end(Trainer& t, LightningModule& m) override { at_step[t.global_step()] = test::snapshot(m); }
  std::map<int64_t, std::map<std::string, torch::Tensor>> at_step;
};

struct TopKResult {
  std::set<std::string> dirs;
  std::string best_path;
  double best_score;
};

TopKResult run_top_k(const ScopedTempDir& dir, ModelCheckpointOptions o, SnapshotAtValidation* snap = nullptr) {
  torch::manual_seed(0);
  test::TinyModule m;
  m.scripted_val_losses = {3, 1, 4, 2, 5};
  test::ListDataModule data(test::random_batches(5, 2, 3, 11, 1), test::random_batches(1, 2, 3, 11, 2));
  auto ckpt = std::make_shared<ModelCheckpoint>(o);
  auto opts = test::quiet_options(dir.path());
  opts.max_steps(5).val_check_interval(1).enable_checkpointing(true);
  std::vector<std::shared_ptr<Callback>> cbs;
  if (snap) cbs.push_back(std::shared_ptr<Callback>(snap, [](Callback*) {}));
  cbs.push_back(ckpt);
  Trainer(opts, cbs).fit(m, data);
  return {entries(dir / "checkpoints"), ckpt->best_model_path(), ckpt->best_model_score()};
}

TEST(ModelCheckpointTopK, KeepsTheKLowestValLosses) {
  ScopedTempDir dir;
  SnapshotAtValidation snap;
  ModelCheckpointOptions o;
  o.monitor = "val_loss";
  o.save_top_k = 2;
  const auto r = run_top_k(dir, o, &snap);
  EXPECT_EQ(r.dirs, (std::set<std::string>{"last", "step-000002", "step-000004"}));
  EXPECT_EQ(r.best_path, dir / "checkpoints/step-000002");
  EXPECT_EQ(r.best_score, 1.0);
  // Each kept checkpoint holds the weights of its own step.
  io::SafetensorsFile f(dir / "checkpoints/step-000004/model.safetensors");
  for (const auto& [name, t] : snap.at_step.at(4)) {
    EXPECT_TRUE(torch::equal(f.load(name), t)) << name;
  }
  io::SafetensorsFile l(dir / "checkpoints/last/model.safetensors");
  EXPECT_TRUE(torch::equal(l.load("head.weight"), snap.at_step.at(5).at("head.weight")));
  EXPECT_FALSE(torch::equal(l.load("head.weight"), snap.at_step.at(4).at("head.weight")));
}

TEST(ModelCheckpointTopK, ModeMaxKeepsTheHighest) {
  ScopedTempDir dir;
  ModelCheckpointOptions o;
  o.monitor = "val_loss";
  o.mode = "max";
  o.save_top_k = 2;
  const auto r = run_top_k(dir, o);
  EXPECT_EQ(r.dirs, (std::set<std::string>{"last", "step-000003", "step-000005"}));
  EXPECT_EQ(r.best_path, dir / "checkpoints/step-000005");
  EXPECT_EQ(r.best_score, 5.0);
}

TEST(ModelCheckpointTopK, AllNoneAndNoMonitor) {
  {
    ScopedTempDir dir;
    ModelCheckpointOptions o;
    o.monitor = "val_loss";
    o.save_top_k = -1;
    EXPECT_EQ(run_top_k(dir, o).dirs, (std::set<std::string>{"last", "step-000001", "step-000002", "step-000003",
                                                             "step-000004", "step-000005"}));
  }
  {
    ScopedTempDir dir;
    ModelCheckpointOptions o;
    o.monitor = "val_loss";
    o.save_top_k = 0;
    EXPECT_EQ(run_top_k(dir, o).dirs, (std::set<std::string>{"last"}));
  }
  {
    ScopedTempDir dir;
    ModelCheckpointOptions o;  // no monitor: the newest are the best
    o.save_top_k = 2;
    const auto r = run_top_k(dir, o);
    EXPECT_EQ(r.dirs, (std::set<std::string>{"last", "step-000004", "step-000005"}));
    EXPECT_EQ(r.best_path, dir / "checkpoints/step-000005");
  }
}

TEST(ModelCheckpointTopK, UnloggedMonitorIsAnErrorListingWhatWasLogged) {
  ScopedTempDir dir;
  ModelCheckpointOptions o;
  o.monitor = "val_acc";
  try {
    run_top_k(dir, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("monitor 'val_acc' was never logged"), std::string::npos) << msg;
    EXPECT_NE(msg.find("val_loss"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace volt

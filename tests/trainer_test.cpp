// The Trainer's loop semantics: gradient accumulation, clipping, validation cadence and
// limit_val_batches, the callback order, stopping, and what metrics.csv records.
#include "volt/train/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "volt/core/check.h"
#include "volt/core/csv_logger.h"
#include "volt/train/callbacks.h"
#include "volt/train/lr_scheduler.h"

namespace volt {
namespace {

using test::ListDataModule;
using test::OptKind;
using test::RecordingCallback;
using test::ScopedTempDir;
using test::TinyModule;

namespace fs = std::filesystem;

constexpr int64_t kVocab = 11;

std::shared_ptr<TinyModule> make_module(uint64_t seed, OptKind kind, double lr) {
  torch::manual_seed(seed);
  auto m = std::make_shared<TinyModule>(kVocab, 8);
  m->opt_kind = kind;
  m->lr = lr;
  return m;
}

void expect_params_near(torch::nn::Module& a, torch::nn::Module& b, double tol) {
  auto pa = a.named_parameters();
  auto pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& kv : pa) {
    const auto* other = pb.find(kv.key());
    ASSERT_NE(other, nullptr) << kv.key();
    EXPECT_LE(test::max_abs_diff(kv.value(), *other), tol) << kv.key();
  }
}

// ---------------------------------------------------------------------------------------------
// (a) accumulation

// The reference: plain SGD on the concatenated batches, written out by hand.
void reference_sgd(TinyModule& m, const std::vector<Batch>& big, double lr) {
  for (const auto& b : big) {
    for (auto& p : m.parameters()) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
    m.loss_of(b).backward();
    torch::NoGradGuard ng;
    for (auto& p : m.parameters()) p.sub_(p.grad() * lr);
  }
}

TEST(TrainerAccumulation, AccumulatedMicroBatchesEqualOneConcatenatedBatchSGD) {
  ScopedTempDir dir;
  const int64_t k = 2, b = 2, steps = 4;
  auto small = test::random_batches(k * steps, b, 5, kVocab, 7);
  auto big = test::concat_batches(small, k);

  auto accumulated = make_module(0, OptKind::kSGD, 0.5);
  {
    ListDataModule data(small);
    auto o = test::quiet_options(dir / "a");
    o.max_steps(steps).accumulate_grad_batches(k);
    Trainer t(o);
    t.fit(*accumulated, data);
    EXPECT_EQ(t.global_step(), steps);
    // Each step consumed k consecutive micro-batches, in order.
    std::vector<std::pair<int64_t, int64_t>> want;
    for (int64_t i = 0; i < k * steps; ++i) want.emplace_back(0, i);
    EXPECT_EQ(*data.train_loader()->calls, want);
    // The logged train_loss of a step is the mean of its micro-batch losses.
    const auto& l = accumulated->train_losses;
    ASSERT_EQ(l.size(), static_cast<size_t>(k * steps));
    EXPECT_NEAR(t.callback_metrics().at("train_loss"), (l[6] + l[7]) / 2, 1e-6);
  }
  auto single = make_module(0, OptKind::kSGD, 0.5);
  {
    ListDataModule data(big);
    auto o = test::quiet_options(dir / "b");
    o.max_steps(steps);
    Trainer t(o);
    t.fit(*single, data);
    // Equal micro-batch sizes: the mean of the micro-batch means is the big batch's mean.
    EXPECT_NEAR(t.callback_metrics().at("train_loss"), single->train_losses.back(), 1e-6);
    EXPECT_NEAR(single->train_losses.back(),
                (accumulated->train_losses[6] + accumulated->train_losses[7]) / 2, 1e-6);
  }
  auto reference = make_module(0, OptKind::kSGD, 0.5);
  reference_sgd(*reference, big, 0.5);

  expect_params_near(*accumulated, *reference, 1e-6);
  expect_params_near(*single, *reference, 1e-6);
  // And training did move the parameters (the comparison is not trivially true).
  auto init = make_module(0, OptKind::kSGD, 0.5);
  EXPECT_GT(test::max_abs_diff(init->head->weight, reference->head->weight), 1e-3);
}

TEST(TrainerAccumulation, AccumulatedMicroBatchesEqualOneConcatenatedBatchAdamW) {
  ScopedTempDir dir;
  const int64_t k = 3, b = 2, steps = 3;
  auto small = test::random_batches(k * steps, b, 4, kVocab, 11);
  auto big = test::concat_batches(small, k);
  auto accumulated = make_module(1, OptKind::kAdamW, 0.05);
  auto single = make_module(1, OptKind::kAdamW, 0.05);
  {
    ListDataModule data(small);
    auto o = test::quiet_options(dir / "a");
    o.max_steps(steps).accumulate_grad_batches(k);
    Trainer(o).fit(*accumulated, data);
  }
  {
    ListDataModule data(big);
    auto o = test::quiet_options(dir / "b");
    o.max_steps(steps);
    Trainer(o).fit(*single, data);
  }
  expect_params_near(*accumulated, *single, 1e-6);
  auto init = make_module(1, OptKind::kAdamW, 0.05);
  EXPECT_GT(test::max_abs_diff(init->head->weight, single->head->weight), 1e-2);
}

// ---------------------------------------------------------------------------------------------
// (b) clipping, seen through plain SGD with lr 1: the update equals the (clipped) gradient.

class StepWatcher : public Callback {
 public:
  std::string name() const override { return "StepWatcher"; }
  void on_before_optimizer_step(Trainer&, LightningModule& m) override {
    before = test::snapshot(m);
    grads.clear();
    double sq = 0;
    for (auto& kv : m.named_parameters()) {
      grads[kv.key()] = kv.value().grad().detach().clone();
      sq += kv.value().grad().to(torch::kFloat64).square().sum().item<double>();
    }
    grad_norm = std::sqrt(sq);
  }
  void on_train_batch_end(Trainer& t, LightningModule& m, const torch::Tensor&, const Batch&,
                          int64_t) override {
    after = test::snapshot(m);
  }
  std::map<std::string, torch::Tensor> before, after, grads;
  double grad_norm = 0;
};

double logged(const Trainer& t, const std::string& name) {
  auto it = t.callback_metrics().find(name);
  return it == t.callback_metrics().end() ? -1.0 : it->second;
}

TEST(TrainerClipping, UpdateIsTheGradientScaledToTheClipValue) {
  ScopedTempDir dir;
  auto m = make_module(3, OptKind::kSGD, 1.0);
  ListDataModule data(test::random_batches(1, 4, 6, kVocab, 5));
  auto watcher = std::make_shared<StepWatcher>();
  const double c = 0.05;
  auto o = test::quiet_options(dir.path());
  o.max_steps(1).gradient_clip_val(c);
  Trainer t(o, {watcher});
  t.fit(*m, data);

  ASSERT_GT(watcher->grad_norm, 10 * c);  // clipping must bite
  const double coef = c / (watcher->grad_norm + 1e-6);
  double update_sq = 0;
  for (const auto& [name, g] : watcher->grads) {
    auto update = watcher->before.at(name) - watcher->after.at(name);
    // Float rounding of theta - (theta - u) is ~1e-7 for |theta| ~ 1; a wrong coefficient by 1%
    // would show as ~5e-5.
    EXPECT_LE(test::max_abs_diff(update, g * coef), 1e-6) << name;
    update_sq += update.to(torch::kFloat64).square().sum().item<double>();
  }
  EXPECT_NEAR(std::sqrt(update_sq), c, 1e-5);
  // The Trainer logs the norm before clipping.
  EXPECT_NEAR(logged(t, "grad_norm"), watcher->grad_norm, 1e-5 * watcher->grad_norm);
}

TEST(TrainerClipping, GradientBelowTheClipValueIsUntouched) {
  ScopedTempDir dir;
  auto m = make_module(3, OptKind::kSGD, 1.0);
  ListDataModule data(test::random_batches(1, 4, 6, kVocab, 5));
  auto watcher = std::make_shared<StepWatcher>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(1).gradient_clip_val(1e3);
  Trainer t(o, {watcher});
  t.fit(*m, data);
  ASSERT_LT(watcher->grad_norm, 1e3);
  for (const auto& [name, g] : watcher->grads) {
    auto update = watcher->before.at(name) - watcher->after.at(name);
    EXPECT_LE(test::max_abs_diff(update, g), 1e-6) << name;
  }
  EXPECT_NEAR(logged(t, "grad_norm"), watcher->grad_norm, 1e-5 * watcher->grad_norm);
}

TEST(TrainerClipping, NoClippingLogsNoGradNorm) {
  ScopedTempDir dir;
  auto m = make_module(3, OptKind::kSGD, 1.0);
  ListDataModule data(test::random_batches(1, 4, 6, kVocab, 5));
  auto watcher = std::make_shared<StepWatcher>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(1);
  Trainer t(o, {watcher});
  t.fit(*m, data);
  EXPECT_EQ(logged(t, "grad_norm"), -1);
  for (const auto& [name, g] : watcher->grads) {
    auto update = watcher->before.at(name) - watcher->after.at(name);
    EXPECT_LE(test::max_abs_diff(update, g), 1e-6) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// (c) validation cadence and limit_val_batches

TEST(TrainerValidation, RunsEveryValCheckIntervalSteps) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1), test::random_batches(5, 2, 3, kVocab, 2));
  auto rec = std::make_shared<RecordingCallback>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(10).val_check_interval(3);
  Trainer t(o, {rec});
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 10);
  EXPECT_EQ(rec->val_steps, (std::vector<int64_t>{3, 6, 9}));  // across epoch boundaries
  EXPECT_EQ(rec->val_batches, (std::vector<int64_t>{5, 5, 5}));
  EXPECT_EQ(m->validation_runs, 3);
}

TEST(TrainerValidation, RunsAtEachEpochEndWhenIntervalIsZero) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1), test::random_batches(2, 2, 3, kVocab, 2));
  auto rec = std::make_shared<RecordingCallback>();
  auto o = test::quiet_options(dir.path());
  o.max_epochs(3);
  Trainer t(o, {rec});
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 12);
  EXPECT_EQ(rec->val_steps, (std::vector<int64_t>{4, 8, 12}));
}

TEST(TrainerValidation, ValLossIsTheBatchSizeWeightedMeanOfTheFullValSet) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  auto val = test::random_batches(3, 2, 3, kVocab, 2);
  val.push_back(test::random_batches(1, 5, 3, kVocab, 9).front());  // a larger last batch
  ListDataModule data(test::random_batches(2, 2, 3, kVocab, 1), val);
  auto o = test::quiet_options(dir.path());
  Trainer t(o);
  const auto metrics = t.validate(*m, data);
  double sum = 0, n = 0;
  {
    torch::NoGradGuard ng;
    m->eval();
    for (const auto& b : val) {
      sum += m->loss_of(b).item<double>() * static_cast<double>(b.batch_size());
      n += static_cast<double>(b.batch_size());
    }
  }
  ASSERT_EQ(metrics.count("val_loss"), 1u);
  EXPECT_NEAR(metrics.at("val_loss"), sum / n, 1e-6);
}

struct LimitCase {
  double limit;
  int64_t expected_batches;  // -1: no validation at all
};

class TrainerLimitValBatches : public ::testing::TestWithParam<LimitCase> {};

TEST_P(TrainerLimitValBatches, RunsTheExpectedNumberOfBatches) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(2, 2, 3, kVocab, 1), test::random_batches(10, 1, 3, kVocab, 2));
  auto rec = std::make_shared<RecordingCallback>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(2).val_check_interval(1).limit_val_batches(GetParam().limit);
  Trainer(o, {rec}).fit(*m, data);
  if (GetParam().expected_batches < 0) {
    EXPECT_TRUE(rec->val_steps.empty());
    EXPECT_TRUE(rec->val_batches.empty());
  } else {
    EXPECT_EQ(rec->val_steps, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(rec->val_batches,
              (std::vector<int64_t>{GetParam().expected_batches, GetParam().expected_batches}));
    // Always the first batches of the val loader, in order.
    std::vector<std::pair<int64_t, int64_t>> want;
    for (int rep = 0; rep < 2; ++rep) {
      for (int64_t i = 0; i < GetParam().expected_batches; ++i) want.emplace_back(0, i);
    }
    EXPECT_EQ(*data.val_loader()->calls, want);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, TrainerLimitValBatches,
                         ::testing::Values(LimitCase{3, 3}, LimitCase{7, 7}, LimitCase{0.5, 5},
                                           LimitCase{0.25, 2}, LimitCase{1.0, 10},
                                           LimitCase{20, 10}, LimitCase{0, -1}));

// ---------------------------------------------------------------------------------------------
// (d) callback order

TEST(TrainerCallbacks, HooksRunInTheDocumentedOrder) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1), test::random_batches(2, 2, 3, kVocab, 2));
  auto rec = std::make_shared<RecordingCallback>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(2).accumulate_grad_batches(2).val_check_interval(1);
  Trainer(o, {rec}).fit(*m, data);

  auto one_step = [](int64_t first) {
    return std::vector<std::string>{
        "on_train_batch_start:" + std::to_string(first),
        "on_before_backward", "on_after_backward",  // micro-batch 1
        "on_before_backward", "on_after_backward",  // micro-batch 2
        "on_before_optimizer_step",
        "on_train_batch_end:" + std::to_string(first + 1),
        "on_validation_start", "on_validation_batch_end:0", "on_validation_batch_end:1",
        "on_validation_end"};
  };
  std::vector<std::string> want{"on_fit_start", "on_train_start", "on_train_epoch_start"};
  for (auto& e : one_step(0)) want.push_back(e);
  for (auto& e : one_step(2)) want.push_back(e);
  for (const char* e : {"on_train_epoch_end", "on_train_end", "on_fit_end"}) want.emplace_back(e);
  EXPECT_EQ(rec->events, want);
  EXPECT_EQ(rec->batch_end_steps, (std::vector<int64_t>{1, 2}));
}

TEST(TrainerCallbacks, CallbacksRunInTheOrderGiven) {
  struct Tagger : Callback {
    Tagger(std::string tag, std::shared_ptr<std::vector<std::string>> log) : tag_(std::move(tag)), log_(std::move(log)) {}
    std::string name() const override { return "Tagger" + tag_; }
    void on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor&, const Batch&, int64_t) override {
      log_->push_back(tag_);
    }
    std::string tag_;
    std::shared_ptr<std::vector<std::string>> log_;
  };
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(2, 2, 3, kVocab, 1));
  auto log = std::make_shared<std::vector<std::string>>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(2);
  Trainer(o, {std::make_shared<Tagger>("b", log), std::make_shared<Tagger>("a", log)}).fit(*m, data);
  EXPECT_EQ(*log, (std::vector<std::string>{"b", "a", "b", "a"}));
}

// ---------------------------------------------------------------------------------------------
// (e) stopping

TEST(TrainerStopping, MaxEpochsRunsWholeEpochs) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(3, 2, 3, kVocab, 1));
  auto rec = std::make_shared<RecordingCallback>();
  auto o = test::quiet_options(dir.path());
  o.max_epochs(2);
  Trainer t(o, {rec});
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 6);
  EXPECT_EQ(t.current_epoch(), 2);
  EXPECT_EQ(t.max_steps(), 6);
  EXPECT_EQ(rec->epoch_starts, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(rec->epoch_ends, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(*data.train_loader()->calls,
            (std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}}));
}

TEST(TrainerStopping, MaxStepsStopsMidEpoch) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(3, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_steps(5).max_epochs(10);
  Trainer t(o);
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 5);
  EXPECT_EQ(t.current_epoch(), 1);
  EXPECT_EQ(*data.train_loader()->calls,
            (std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}}));
  EXPECT_EQ(m->train_losses.size(), 5u);
}

TEST(TrainerStopping, WhicheverLimitComesFirstWins) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(3, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_steps(100).max_epochs(1);
  Trainer t(o);
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 3);
  EXPECT_EQ(t.current_epoch(), 1);
}

TEST(TrainerStopping, IncompleteAccumulationWindowAtEpochEndIsSkipped) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(5, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_epochs(2).accumulate_grad_batches(2);
  Trainer t(o);
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 4);
  EXPECT_EQ(t.max_steps(), 4);
  EXPECT_EQ(*data.train_loader()->calls,
            (std::vector<std::pair<int64_t, int64_t>>{
                {0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 0}, {1, 1}, {1, 2}, {1, 3}}));
}

TEST(TrainerStopping, ShouldStopFromACallbackEndsTraining) {
  struct Stopper : Callback {
    std::string name() const override { return "Stopper"; }
    void on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor&, const Batch&, int64_t) override {
      if (t.global_step() == 2) t.should_stop = true;
    }
  };
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_steps(10);
  Trainer t(o, {std::make_shared<Stopper>()});
  t.fit(*m, data);
  EXPECT_EQ(t.global_step(), 2);
}

TEST(TrainerErrors, BadOptionsAndBadModulesAreNamed) {
  ScopedTempDir dir;
  auto o = test::quiet_options(dir.path());
  try {
    Trainer t(TrainerOptions(o).precision("16-mixed"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision '16-mixed'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Trainer(TrainerOptions(o).accumulate_grad_batches(0)), Error);
  EXPECT_THROW(Trainer(TrainerOptions(o).gradient_clip_val(-1)), Error);
  EXPECT_THROW(Trainer(TrainerOptions(o).accelerator("tpu")), Error);

  auto m = make_module(0, OptKind::kSGD, 0.1);
  ListDataModule data(test::random_batches(3, 2, 3, kVocab, 1));
  auto acc = TrainerOptions(o).max_steps(1).accumulate_grad_batches(4);
  try {
    Trainer(acc).fit(*m, data);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than accumulate_grad_batches = 4"), std::string::npos)
        << e.what();
  }

  struct VectorLoss : TinyModule {
    torch::Tensor training_step(const Batch& b, int64_t) override {
      return torch::nn::functional::cross_entropy(forward(b.input_ids).reshape({-1, kVocab}),
                                                  b.labels.reshape({-1}),
                                                  torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    }
  };
  VectorLoss bad;
  try {
    Trainer(TrainerOptions(o).max_steps(1)).fit(bad, data);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scalar loss"), std::string::npos) << e.what();
  }
}

TEST(TrainerOptionsFromConfig, ReadsEveryFieldAndParsesDurations) {
  auto c = Config::from_string(
      "trainer:\n  max_steps: 7\n  max_epochs: 3\n  max_time: '00:01:30'\n  val_check_interval: 2\n"
      "  limit_val_batches: 0.5\n  log_every_n_steps: 4\n  accumulate_grad_batches: 2\n"
      "  gradient_clip_val: 1.5\n  precision: bf16-mixed\n  seed: 9\n  default_root_dir: /tmp/x\n"
      "  accelerator: cpu\n  num_threads: 1\n  enable_progress_bar: false\n"
      "  enable_checkpointing: false\n  logger: false\n");
  ConfigSection root(c.root(), "", c.source());
  auto s = root.child("trainer");
  const auto o = trainer_options_from(s);
  EXPECT_NO_THROW(s.finish());
  EXPECT_EQ(o.max_steps(), 7);
  EXPECT_EQ(o.max_epochs(), 3);
  EXPECT_DOUBLE_EQ(o.max_time(), 90);
  EXPECT_EQ(o.val_check_interval(), 2);
  EXPECT_DOUBLE_EQ(o.limit_val_batches(), 0.5);
  EXPECT_EQ(o.log_every_n_steps(), 4);
  EXPECT_EQ(o.accumulate_grad_batches(), 2);
  EXPECT_DOUBLE_EQ(o.gradient_clip_val(), 1.5);
  EXPECT_EQ(o.precision(), "bf16-mixed");
  EXPECT_EQ(o.seed(), 9);
  EXPECT_EQ(o.default_root_dir(), "/tmp/x");
  EXPECT_EQ(o.accelerator(), "cpu");
  EXPECT_EQ(o.num_threads(), 1);
  EXPECT_FALSE(o.enable_progress_bar());
  EXPECT_FALSE(o.enable_checkpointing());
  EXPECT_FALSE(o.logger());

  EXPECT_DOUBLE_EQ(parse_duration("12.5"), 12.5);
  EXPECT_DOUBLE_EQ(parse_duration("01:02:03"), 3723);
  EXPECT_DOUBLE_EQ(parse_duration("1:00:00:00"), 86400);
  EXPECT_DOUBLE_EQ(parse_duration("02:30"), 150);  // MM:SS
  EXPECT_THROW(parse_duration("soon"), Error);
  EXPECT_THROW(parse_duration("-5"), Error);
}

// ---------------------------------------------------------------------------------------------
// (f) metrics.csv

TEST(TrainerMetrics, CsvHasOneRowPerStepWithLrTrainAndValLoss) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kAdamW, 0.01);
  auto sched = std::make_shared<CosineWithWarmup>(2, 6, 1e-3, 0.01);
  m->scheduler = sched;
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1), test::random_batches(2, 2, 3, kVocab, 2));
  auto rec = std::make_shared<RecordingCallback>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(6).val_check_interval(3).logger(true);
  Trainer(o, {rec, std::make_shared<LearningRateMonitor>()}).fit(*m, data);

  const std::string csv = dir / "metrics.csv";
  const std::string text = test::read_text(csv);
  EXPECT_EQ(text.substr(0, text.find('\n')), "step,epoch,lr,train_loss,val_loss");
  const auto rows = CSVLogger::read(csv);
  ASSERT_EQ(rows.size(), 6u);
  ASSERT_EQ(m->train_losses.size(), 6u);
  ASSERT_EQ(rec->val_losses.size(), 2u);
  for (int64_t s = 1; s <= 6; ++s) {
    const auto& r = rows[static_cast<size_t>(s - 1)];
    SCOPED_TRACE("step " + std::to_string(s));
    EXPECT_EQ(r.at("step"), s);
    EXPECT_EQ(r.at("epoch"), s <= 4 ? 0 : 1);
    // The row of step s holds the rate that step s used (scheduler step index s - 1).
    EXPECT_NEAR(r.at("lr"), sched->lr_at(s - 1, 0.01), 1e-10);
    EXPECT_NEAR(r.at("train_loss"), m->train_losses[static_cast<size_t>(s - 1)], 1e-7);
    if (s % 3 == 0) {
      ASSERT_EQ(r.count("val_loss"), 1u);
      EXPECT_NEAR(r.at("val_loss"), rec->val_losses[static_cast<size_t>(s / 3 - 1)], 1e-7);
    } else {
      EXPECT_EQ(r.count("val_loss"), 0u);
    }
  }
  // The warmup is visible: step 1 ran at lr * 1/3.
  EXPECT_NEAR(rows[0].at("lr"), 0.01 / 3, 1e-10);
  // fit() also wrote the report next to the metrics.
  EXPECT_TRUE(fs::exists(dir / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "loss.svg"));
}

TEST(TrainerMetrics, LogEveryNStepsThinsTheRowsAndTheLastStepIsAlwaysWritten) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.1);
  // 10 batches per epoch: no epoch end (which also writes a row) within the 7 steps.
  ListDataModule data(test::random_batches(10, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_steps(7).log_every_n_steps(3).logger(true);
  Trainer(o).fit(*m, data);
  const auto rows = CSVLogger::read(dir / "metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  const int64_t steps[] = {3, 6, 7};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i].at("step"), steps[i]);
    EXPECT_NEAR(rows[i].at("train_loss"), m->train_losses[static_cast<size_t>(steps[i] - 1)], 1e-7);
  }
}

// BUG (src/train/trainer.cpp, Trainer::fit): the metrics a step logged (train_loss, grad_norm)
// reach callback_metrics() only in flush_step_metrics(), which runs after on_train_batch_end and
// after the validation of that step. So on_train_batch_end and on_validation_end see the previous
// step's values (nothing at all at step 1): the progress bar shows stale prog_bar metrics, and
// ModelCheckpoint(monitor="train_loss", every_n_train_steps=n) fails at the first save with
// "monitor 'train_loss' was never logged". Lightning makes a step's logged values visible to the
// callbacks of that same step.
class MetricsAtBatchEnd : public Callback {
 public:
  std::string name() const override { return "MetricsAtBatchEnd"; }
  void on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor& loss, const Batch&,
                          int64_t) override {
    seen.push_back(logged(t, "train_loss"));
    losses.push_back(loss.item<double>());
  }
  std::vector<double> seen, losses;
};

TEST(TrainerMetrics, StepMetricsAreVisibleToCallbacksOfTheSameStep) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.5);
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1));
  auto probe = std::make_shared<MetricsAtBatchEnd>();
  auto o = test::quiet_options(dir.path());
  o.max_steps(3);
  Trainer(o, {probe}).fit(*m, data);
  ASSERT_EQ(probe->seen.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(probe->seen[i], m->train_losses[i], 1e-6) << "step " << i + 1 << " saw a stale train_loss";
  }
}

TEST(TrainerMetrics, ModelCheckpointCanMonitorTrainLossEveryNSteps) {
  ScopedTempDir dir;
  auto m = make_module(0, OptKind::kSGD, 0.5);
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1));
  ModelCheckpointOptions co;
  co.monitor = "train_loss";
  co.every_n_train_steps = 1;
  auto ckpt = std::make_shared<ModelCheckpoint>(co);
  auto o = test::quiet_options(dir.path());
  o.max_steps(3).enable_checkpointing(true);
  try {
    Trainer(o, {ckpt}).fit(*m, data);
  } catch (const Error& e) {
    FAIL() << e.what();
  }
  ASSERT_EQ(m->train_losses.size(), 3u);
  const auto best = std::min_element(m->train_losses.begin(), m->train_losses.end()) - m->train_losses.begin();
  EXPECT_NEAR(ckpt->best_model_score(), m->train_losses[static_cast<size_t>(best)], 1e-6);
}

TEST(TrainerMetrics, LearningRateMonitorNamesGroupsWhoseRateDiffers) {
  struct TwoRates : TinyModule {
    Optimizers configure_optimizers() override {
      auto groups = weight_decay_groups(*this, 0.1);
      groups[0].lr = groups[0].initial_lr = 0.01;
      groups[1].lr = groups[1].initial_lr = 0.02;
      return {std::make_shared<AdamW>(groups, AdamWOptions{}), std::make_shared<CosineWithWarmup>(0, 4, 0.0, 0.01)};
    }
  };
  ScopedTempDir dir;
  torch::manual_seed(0);
  auto m = std::make_shared<TwoRates>();  // weight_decay_groups needs a shared_ptr-owned module
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_steps(2).logger(true);
  Trainer(o, {std::make_shared<LearningRateMonitor>()}).fit(*m, data);
  const auto rows = CSVLogger::read(dir / "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  // Step 2 ran at schedule step 1: cos(pi/4) of the way, each group from its own base rate.
  const double f = 0.5 * (1 + std::cos(M_PI / 4));
  EXPECT_NEAR(rows[1].at("lr"), 0.01 * f, 1e-10);
  EXPECT_NEAR(rows[1].at("lr-no_decay"), 0.02 * f, 1e-10);
  EXPECT_EQ(rows[1].count("lr-decay"), 0u);
}

// BUG (src/train/trainer.cpp, Trainer::on_log / run_validation): a value logged in training_step
// with LogOptions::on_epoch = true is accumulated into epoch_means_, which only run_validation
// reads, after clearing it. The training epoch mean is therefore never reported (not in
// callback_metrics, not in metrics.csv): LogOptions' own comment promises on_epoch for training
// ("default: false in training"). Fix: keep training epoch means apart from validation ones and
// publish them at the end of each training epoch (before on_train_epoch_end).
TEST(TrainerMetrics, TrainingValuesLoggedOnEpochAreReportedAsTheEpochMean) {
  struct EpochLogger : TinyModule {
    torch::Tensor training_step(const Batch& b, int64_t batch_idx) override {
      LogOptions o;
      o.on_step = false;
      o.on_epoch = true;
      log("train_index", static_cast<double>(batch_idx), o);
      return TinyModule::training_step(b, batch_idx);
    }
  };
  ScopedTempDir dir;
  torch::manual_seed(0);
  EpochLogger m;
  ListDataModule data(test::random_batches(4, 2, 3, kVocab, 1));
  auto o = test::quiet_options(dir.path());
  o.max_epochs(1).logger(true);
  Trainer t(o);
  t.fit(m, data);
  ASSERT_EQ(t.callback_metrics().count("train_index"), 1u) << "the epoch mean was dropped";
  EXPECT_DOUBLE_EQ(t.callback_metrics().at("train_index"), 1.5);  // mean of 0, 1, 2, 3
}

}  // namespace
}  // namespace volt

// Learning-rate schedules: CosineWithWarmup against nanoGPT's get_lr, LinearWithWarmup and
// WarmupStableDecay against Hugging Face's formulas, ConstantLR with and without warmup, apply() on
// parameter groups, LearningRateMonitor logging a schedule through fit(), and scheduler_from's
// config handling.
#include "volt/train/lr_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "volt/core/check.h"
#include "volt/core/config.h"
#include "volt/core/csv_logger.h"
#include "volt/train/callbacks.h"

#include "test_helpers.h"

namespace volt {
namespace {

// nanoGPT train.py get_lr, transcribed (Python float arithmetic is double).
double nanogpt_get_lr(int64_t it, double learning_rate, int64_t warmup_iters, int64_t lr_decay_iters,
                      double min_lr) {
  if (it < warmup_iters) return learning_rate * static_cast<double>(it + 1) / static_cast<double>(warmup_iters + 1);
  if (it > lr_decay_iters) return min_lr;
  const double decay_ratio =
      static_cast<double>(it - warmup_iters) / static_cast<double>(lr_decay_iters - warmup_iters);
  const double coeff = 0.5 * (1.0 + std::cos(3.141592653589793 * decay_ratio));
  return min_lr + coeff * (learning_rate - min_lr);
}

TEST(CosineWithWarmup, MatchesNanoGPTGetLrAtKeySteps) {
  const int64_t W = 100, D = 2000;
  const double lr = 1e-3, min_lr = 1e-4;
  CosineWithWarmup s(W, D, min_lr, lr);
  const int64_t mid = W + (D - W) / 2;
  for (int64_t it : {int64_t{0}, W - 1, W, W + 1, mid, D - 1, D, D + 1, D + 10}) {
    EXPECT_NEAR(s.lr_at(it, lr), nanogpt_get_lr(it, lr, W, D, min_lr), 1e-15) << "step " << it;
  }
  // The same points in closed form (independent of the transcription above).
  EXPECT_NEAR(s.lr_at(0, lr), lr / 101.0, 1e-15);
  EXPECT_NEAR(s.lr_at(W - 1, lr), lr * 100.0 / 101.0, 1e-15);
  EXPECT_NEAR(s.lr_at(W, lr), lr, 1e-15);                    // the peak
  EXPECT_NEAR(s.lr_at(mid, lr), (lr + min_lr) / 2.0, 1e-15);  // cos(pi/2) = 0
  EXPECT_NEAR(s.lr_at(D, lr), min_lr, 1e-15);
  EXPECT_NEAR(s.lr_at(D + 10, lr), min_lr, 1e-15);
  EXPECT_NEAR(s.lr_at(1000000, lr), min_lr, 1e-15);
}

TEST(CosineWithWarmup, MatchesNanoGPTAtEveryStepOfAShortSchedule) {
  CosineWithWarmup s(5, 30, 6e-5, 6e-4);
  for (int64_t it = 0; it <= 40; ++it) {
    EXPECT_NEAR(s.lr_at(it, 6e-4), nanogpt_get_lr(it, 6e-4, 5, 30, 6e-5), 1e-16) << "step " << it;
  }
}

TEST(CosineWithWarmup, NoWarmupStartsAtThePeak) {
  CosineWithWarmup s(0, 10, 0.0, 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(0, 1.0), 1.0);
  EXPECT_NEAR(s.lr_at(5, 1.0), 0.5, 1e-15);
  EXPECT_NEAR(s.lr_at(10, 1.0), 0.0, 1e-15);
}

TEST(CosineWithWarmup, MinLrScalesWithAGroupsBaseRate) {
  CosineWithWarmup s(10, 100, 1e-4, 1e-3);
  // A group with twice the reference rate decays to twice the floor.
  EXPECT_NEAR(s.lr_at(100, 2e-3), 2e-4, 1e-16);
  EXPECT_NEAR(s.lr_at(10, 2e-3), 2e-3, 1e-16);
  EXPECT_NEAR(s.lr_at(3, 2e-3), 2e-3 * 4.0 / 11.0, 1e-16);
}

TEST(CosineWithWarmup, RejectsInconsistentArguments) {
  EXPECT_THROW(CosineWithWarmup(-1, 10, 0, 1), Error);
  EXPECT_THROW(CosineWithWarmup(10, 10, 0, 1), Error);  // decay must exceed warmup
  EXPECT_THROW(CosineWithWarmup(0, 10, 2, 1), Error);   // min_lr above lr
  EXPECT_THROW(CosineWithWarmup(0, 10, -1, 1), Error);
  try {
    CosineWithWarmup(50, 20, 0, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("decay_steps (20) must exceed warmup_steps (50)"), std::string::npos)
        << e.what();
  }
}

TEST(ConstantLR, ReturnsTheBaseRateAtEveryStep) {
  ConstantLR s;
  for (int64_t it : {0, 1, 100, 100000}) EXPECT_EQ(s.lr_at(it, 3e-4), 3e-4);
}

// A minimal optimizer to see apply() write every group's lr from its initial_lr.
class NullOptimizer : public Optimizer {
 public:
  explicit NullOptimizer(std::vector<ParamGroup> g) { groups_ = std::move(g); }
  void step() override {}
  void zero_grad() override {}
  std::vector<torch::Tensor> flat_grads() override { return {}; }
  std::vector<std::pair<std::string, torch::Tensor>> state_tensors() const override { return {}; }
  void load_state_tensors(const std::map<std::string, torch::Tensor>&) override {}
  std::string name() const override { return "Null"; }
};

TEST(LRScheduler, ApplySetsEveryGroupFromItsInitialLr) {
  ParamGroup a, b;
  a.name = "decay";
  a.initial_lr = a.lr = 1e-3;
  b.name = "no_decay";
  b.initial_lr = b.lr = 5e-4;
  NullOptimizer opt({a, b});
  CosineWithWarmup s(4, 20, 1e-4, 1e-3);
  s.apply(opt, 1);
  EXPECT_NEAR(opt.param_groups()[0].lr, 1e-3 * 2 / 5, 1e-16);
  EXPECT_NEAR(opt.param_groups()[1].lr, 5e-4 * 2 / 5, 1e-16);
  s.apply(opt, 20);
  EXPECT_NEAR(opt.param_groups()[0].lr, 1e-4, 1e-16);
  EXPECT_NEAR(opt.param_groups()[1].lr, 5e-5, 1e-16);
  // initial_lr is never overwritten, so applying an earlier step restores the earlier rate.
  s.apply(opt, 4);
  EXPECT_NEAR(opt.param_groups()[0].lr, 1e-3, 1e-16);
  EXPECT_NEAR(opt.param_groups()[0].initial_lr, 1e-3, 0);
}

std::shared_ptr<LRScheduler> from_yaml(const std::string& yaml, double base_lr, int64_t default_decay,
                                       bool finish = true) {
  auto c = Config::from_string(yaml, "sched.yaml");
  ConfigSection root(c.root(), "", c.source());
  auto s = root.child("scheduler");
  auto out = scheduler_from(s, base_lr, default_decay);
  if (finish) s.finish();
  return out;
}

using test::error_of;

TEST(SchedulerFrom, ReadsCosineSettings) {
  auto s = from_yaml("scheduler:\n  name: cosine\n  warmup_steps: 10\n  decay_steps: 50\n  min_lr: 2.0e-4\n",
                     1e-3, 999);
  for (int64_t it : {0, 9, 10, 30, 50, 60}) {
    EXPECT_NEAR(s->lr_at(it, 1e-3), nanogpt_get_lr(it, 1e-3, 10, 50, 2e-4), 1e-16) << it;
  }
}

TEST(SchedulerFrom, DefaultsToCosineOverMaxStepsWithATenthFloor) {
  auto s = from_yaml("", 1e-3, 200);
  EXPECT_NEAR(s->lr_at(0, 1e-3), 1e-3, 1e-16);  // no warmup
  EXPECT_NEAR(s->lr_at(200, 1e-3), 1e-4, 1e-16);
  EXPECT_NEAR(s->lr_at(100, 1e-3), 5.5e-4, 1e-16);
}

TEST(SchedulerFrom, ConstantByName) {
  auto s = from_yaml("scheduler:\n  name: constant\n", 1e-3, -1);
  EXPECT_NE(dynamic_cast<ConstantLR*>(s.get()), nullptr);
  EXPECT_EQ(s->lr_at(12345, 7e-4), 7e-4);
}

TEST(SchedulerFrom, ErrorsNameTheProblem) {
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  name: step\n", 1e-3, 100); })
                .find("scheduler.name 'step' is not one of cosine, linear, constant, wsd"),
            std::string::npos);
  // No decay_steps and no trainer.max_steps to default to.
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  warmup_steps: 5\n", 1e-3, -1); }).find("decay_steps"),
            std::string::npos);
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  warmup_steps: 50\n  decay_steps: 20\n", 1e-3, 100); })
                .find("must exceed warmup_steps"),
            std::string::npos);
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  min_lr: 0.1\n", 1e-3, 100); }).find("min_lr"),
            std::string::npos);
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  warmup_steps: ten\n", 1e-3, 100); })
                .find("key 'scheduler.warmup_steps' has value 'ten' which is not a valid integer"),
            std::string::npos);
  // A typo is caught by finish() with a suggestion.
  const auto typo = error_of([] { from_yaml("scheduler:\n  warmup_step: 5\n", 1e-3, 100); });
  EXPECT_NE(typo.find("unknown key 'scheduler.warmup_step'"), std::string::npos) << typo;
  EXPECT_NE(typo.find("did you mean 'scheduler.warmup_steps'?"), std::string::npos) << typo;
}

// ---------------------------------------------------------------------------------------------
// Shared checks of the new schedules.

/// Non-decreasing over [0, W], non-increasing over [W, end].
void expect_warmup_then_non_increasing(const LRScheduler& s, double lr, int64_t W, int64_t end) {
  for (int64_t t = 1; t <= end; ++t) {
    if (t <= W) {
      EXPECT_GE(s.lr_at(t, lr), s.lr_at(t - 1, lr)) << "warmup step " << t;
    } else {
      EXPECT_LE(s.lr_at(t, lr), s.lr_at(t - 1, lr)) << "decay step " << t;
    }
  }
}

// Hugging Face transformers' get_linear_schedule_with_warmup lambda, times the base rate.
double hf_linear(int64_t t, double lr, int64_t W, int64_t D) {
  if (t < W) return lr * static_cast<double>(t) / static_cast<double>(std::max<int64_t>(1, W));
  return lr * std::max(0.0, static_cast<double>(D - t) / static_cast<double>(std::max<int64_t>(1, D - W)));
}

// Hugging Face transformers' get_wsd_schedule lambda (num_training_steps = T, warmup_type linear,
// num_cycles 0.5), times the base rate.
double hf_wsd(int64_t t, double lr, int64_t W, int64_t K, int64_t T, const std::string& decay_type,
              double min_lr_ratio) {
  const int64_t stable = T - W - K;
  double factor = 0;
  if (t < W) {
    factor = static_cast<double>(t) / static_cast<double>(std::max<int64_t>(1, W));
    return lr * std::max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio);
  }
  if (t < W + stable) return lr;
  if (t < W + stable + K) {
    const double progress = static_cast<double>(t - W - stable) / static_cast<double>(std::max<int64_t>(1, K));
    if (decay_type == "linear") factor = 1.0 - progress;
    if (decay_type == "cosine") factor = 0.5 * (1.0 + std::cos(3.141592653589793 * 0.5 * 2.0 * progress));
    if (decay_type == "1-sqrt") factor = 1.0 - std::sqrt(progress);
    return lr * std::max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio);
  }
  return lr * min_lr_ratio;
}

// ---------------------------------------------------------------------------------------------
// linear

TEST(LRSchedulerLinear, ExactValuesAtKeySteps) {
  const int64_t W = 10, D = 50;
  const double lr = 1e-3, min_lr = 1e-4;
  LinearWithWarmup s(W, D, min_lr, lr);
  EXPECT_NEAR(s.lr_at(0, lr), lr / 11.0, 1e-18);             // the shared warmup: (t + 1) / (W + 1)
  EXPECT_NEAR(s.lr_at(W - 1, lr), lr * 10.0 / 11.0, 1e-18);
  EXPECT_NEAR(s.lr_at(W, lr), lr, 1e-18);                     // the peak
  EXPECT_NEAR(s.lr_at(30, lr), (lr + min_lr) / 2.0, 1e-18);   // halfway through [W, D]
  EXPECT_NEAR(s.lr_at(40, lr), min_lr + 0.25 * (lr - min_lr), 1e-18);
  EXPECT_EQ(s.lr_at(D, lr), min_lr);                          // the floor, exactly
  EXPECT_EQ(s.lr_at(D + 1, lr), min_lr);
  EXPECT_EQ(s.lr_at(1000000, lr), min_lr);
  expect_warmup_then_non_increasing(s, lr, W, D + 10);
}

TEST(LRSchedulerLinear, SharesTheCosineWarmup) {
  LinearWithWarmup linear(7, 40, 1e-4, 1e-3);
  CosineWithWarmup cosine(7, 40, 1e-4, 1e-3);
  for (int64_t t = 0; t <= 7; ++t) EXPECT_EQ(linear.lr_at(t, 1e-3), cosine.lr_at(t, 1e-3)) << t;
}

TEST(LRSchedulerLinear, MatchesHuggingFaceAfterWarmupWithZeroFloor) {
  const int64_t W = 10, D = 50;
  const double lr = 6e-4;
  LinearWithWarmup s(W, D, 0.0, lr);
  // From the peak on, lr * max(0, (D - t) / (D - W)), bit for bit.
  for (int64_t t = W; t <= D + 20; ++t) EXPECT_EQ(s.lr_at(t, lr), hf_linear(t, lr, W, D)) << "step " << t;
  // The warmups differ by design: HF starts at 0, volt at lr / (W + 1); both reach lr at W.
  EXPECT_EQ(hf_linear(0, lr, W, D), 0.0);
  EXPECT_NEAR(s.lr_at(0, lr), lr / 11.0, 1e-18);
  // Without warmup there is nothing to differ: equal at every step.
  LinearWithWarmup no_warmup(0, D, 0.0, lr);
  for (int64_t t = 0; t <= D + 5; ++t) EXPECT_EQ(no_warmup.lr_at(t, lr), hf_linear(t, lr, 0, D)) << t;
}

TEST(LRSchedulerLinear, MinLrScalesWithAGroupsBaseRate) {
  LinearWithWarmup s(10, 50, 1e-4, 1e-3);
  EXPECT_NEAR(s.lr_at(50, 2e-3), 2e-4, 1e-18);
  EXPECT_NEAR(s.lr_at(30, 2e-3), 1.1e-3, 1e-18);
  EXPECT_NEAR(s.lr_at(10, 2e-3), 2e-3, 1e-18);
  EXPECT_NEAR(s.lr_at(4, 2e-3), 2e-3 * 5.0 / 11.0, 1e-18);
}

TEST(LRSchedulerLinear, RejectsInconsistentArguments) {
  EXPECT_THROW(LinearWithWarmup(-1, 10, 0, 1), Error);
  EXPECT_THROW(LinearWithWarmup(0, 10, 2, 1), Error);
  EXPECT_THROW(LinearWithWarmup(0, 10, -1, 1), Error);
  EXPECT_NE(error_of([] { LinearWithWarmup(10, 10, 0, 1); }).find("decay_steps (10) must exceed warmup_steps (10)"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// constant

TEST(LRSchedulerConstant, WithoutWarmupIsTheBaseRateAtEveryStep) {
  ConstantLR s(0);
  for (int64_t t : {0, 1, 100, 100000}) EXPECT_EQ(s.lr_at(t, 3e-4), 3e-4);
  EXPECT_EQ(s.warmup_steps(), 0);
  EXPECT_EQ(ConstantLR().warmup_steps(), 0);
}

TEST(LRSchedulerConstant, WarmsUpLikeTheOthersThenHolds) {
  const double lr = 1e-3;
  ConstantLR s(4);
  CosineWithWarmup cosine(4, 100, 0, lr);
  EXPECT_NEAR(s.lr_at(0, lr), lr / 5.0, 1e-18);
  EXPECT_NEAR(s.lr_at(3, lr), lr * 4.0 / 5.0, 1e-18);
  for (int64_t t = 0; t < 4; ++t) EXPECT_EQ(s.lr_at(t, lr), cosine.lr_at(t, lr)) << t;
  for (int64_t t : {4, 5, 50, 1000000}) EXPECT_EQ(s.lr_at(t, lr), lr) << t;
  for (int64_t t = 1; t <= 10; ++t) EXPECT_GE(s.lr_at(t, lr), s.lr_at(t - 1, lr)) << t;
  // A second group warms up to its own rate.
  EXPECT_NEAR(s.lr_at(1, 5e-4), 5e-4 * 2.0 / 5.0, 1e-18);
  EXPECT_EQ(s.lr_at(4, 5e-4), 5e-4);
  EXPECT_THROW(ConstantLR(-2), Error);
}

// ---------------------------------------------------------------------------------------------
// wsd

TEST(LRSchedulerWSD, ExactValuesAtKeyStepsForEachShape) {
  const int64_t W = 10, K = 20, T = 100;  // decay starts at S = 80
  const double lr = 1e-3, min_lr = 1e-4;
  const auto at_p = [&](double f) { return min_lr + f * (lr - min_lr); };
  struct Case {
    DecayShape shape;
    double f_half, f_three_quarters;
  };
  for (const Case& c : {Case{DecayShape::kLinear, 0.5, 0.25},
                        Case{DecayShape::kCosine, 0.5, 0.5 * (1.0 + std::cos(M_PI * 0.75))},
                        Case{DecayShape::kOneMinusSqrt, 1.0 - std::sqrt(0.5), 1.0 - std::sqrt(0.75)}}) {
    SCOPED_TRACE(to_string(c.shape));
    WarmupStableDecay s(W, K, T, c.shape, min_lr, lr);
    EXPECT_EQ(s.decay_start(), 80);
    EXPECT_NEAR(s.lr_at(0, lr), lr / 11.0, 1e-18);
    EXPECT_NEAR(s.lr_at(W - 1, lr), lr * 10.0 / 11.0, 1e-18);
    for (int64_t t : {int64_t{10}, int64_t{11}, int64_t{50}, int64_t{79}}) EXPECT_EQ(s.lr_at(t, lr), lr) << t;
    EXPECT_NEAR(s.lr_at(80, lr), lr, 1e-18);  // p = 0: the top of the decay
    EXPECT_NEAR(s.lr_at(90, lr), at_p(c.f_half), 1e-18);
    EXPECT_NEAR(s.lr_at(95, lr), at_p(c.f_three_quarters), 1e-18);
    EXPECT_NEAR(s.lr_at(T, lr), min_lr, 1e-18);
    EXPECT_EQ(s.lr_at(T + 1, lr), min_lr);
    EXPECT_EQ(s.lr_at(1000000, lr), min_lr);
    expect_warmup_then_non_increasing(s, lr, W, T + 10);
  }
}

TEST(LRSchedulerWSD, OneMinusSqrtNeverAboveLinear) {
  WarmupStableDecay linear(0, 40, 100, DecayShape::kLinear, 0.0, 1.0);
  WarmupStableDecay sqrt_shape(0, 40, 100, DecayShape::kOneMinusSqrt, 0.0, 1.0);
  for (int64_t t = 0; t <= 110; ++t) EXPECT_LE(sqrt_shape.lr_at(t, 1.0), linear.lr_at(t, 1.0)) << t;
  EXPECT_LT(sqrt_shape.lr_at(70, 1.0), linear.lr_at(70, 1.0));
}

TEST(LRSchedulerWSD, MatchesHuggingFaceGetWsdScheduleAfterWarmup) {
  const int64_t W = 5, K = 12, T = 40;
  const double lr = 3e-4, min_lr = 3e-5;
  for (auto shape : {DecayShape::kLinear, DecayShape::kCosine, DecayShape::kOneMinusSqrt}) {
    WarmupStableDecay s(W, K, T, shape, min_lr, lr);
    for (int64_t t = W; t <= T + 5; ++t) {
      EXPECT_NEAR(s.lr_at(t, lr), hf_wsd(t, lr, W, K, T, to_string(shape), min_lr / lr), 1e-18)
          << to_string(shape) << " step " << t;
    }
  }
}

TEST(LRSchedulerWSD, MinLrScalesWithAGroupsBaseRate) {
  WarmupStableDecay s(10, 20, 100, DecayShape::kCosine, 1e-4, 1e-3);
  EXPECT_NEAR(s.lr_at(100, 2e-3), 2e-4, 1e-18);
  EXPECT_NEAR(s.lr_at(90, 2e-3), 1.1e-3, 1e-18);
  EXPECT_EQ(s.lr_at(50, 2e-3), 2e-3);
  EXPECT_NEAR(s.lr_at(2, 2e-3), 2e-3 * 3.0 / 11.0, 1e-18);
}

TEST(LRSchedulerWSD, DecayMayFollowWarmupDirectly) {
  WarmupStableDecay s(4, 6, 10, DecayShape::kLinear, 0.0, 1.0);  // no stable phase
  EXPECT_NEAR(s.lr_at(3, 1.0), 0.8, 1e-16);
  EXPECT_EQ(s.lr_at(4, 1.0), 1.0);
  EXPECT_NEAR(s.lr_at(7, 1.0), 0.5, 1e-16);
  EXPECT_EQ(s.lr_at(10, 1.0), 0.0);
}

TEST(LRSchedulerWSD, RejectsInconsistentArguments) {
  const auto lin = DecayShape::kLinear;
  EXPECT_THROW(WarmupStableDecay(-1, 10, 100, lin, 0, 1), Error);
  EXPECT_THROW(WarmupStableDecay(0, 10, 100, lin, 2, 1), Error);
  EXPECT_THROW(WarmupStableDecay(0, 10, 100, lin, -1, 1), Error);
  EXPECT_NE(error_of([&] { WarmupStableDecay(0, 0, 100, lin, 0, 1); }).find("decay_steps must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { WarmupStableDecay(0, 120, 100, lin, 0, 1); })
                .find("decay_steps (120) must not exceed total_steps (100)"),
            std::string::npos);
  const auto overlap = error_of([&] { WarmupStableDecay(90, 20, 100, lin, 0, 1); });
  EXPECT_NE(overlap.find("warmup_steps (90) + decay_steps (20) must not exceed total_steps (100)"), std::string::npos)
      << overlap;
}

// ---------------------------------------------------------------------------------------------
// Stepped per optimizer step and logged by LearningRateMonitor.

TEST(LRSchedulerMonitor, FitLogsTheWsdRateOfEveryStep) {
  test::ScopedTempDir dir;
  torch::manual_seed(0);
  auto m = std::make_shared<test::TinyModule>(11, 8);  // plain SGD at lr 0.1
  auto sched = std::make_shared<WarmupStableDecay>(2, 3, 6, DecayShape::kLinear, 0.01, 0.1);
  m->scheduler = sched;
  test::ListDataModule data(test::random_batches(6, 2, 3, 11, 1));
  auto o = test::quiet_options(dir.path());
  o.max_steps(6).logger(true);
  Trainer(o, {std::make_shared<LearningRateMonitor>()}).fit(*m, data);
  const auto rows = CSVLogger::read(dir / "metrics.csv");
  ASSERT_EQ(rows.size(), 6u);
  // Row of step s holds the rate of schedule step s - 1: warmup 1/3, 2/3; stable 1, 1 (p = 0);
  // decay p = 1/3, 2/3 from 0.1 towards 0.01.
  const double expected[] = {0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.01 + 0.09 * 2 / 3, 0.01 + 0.09 / 3};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_NEAR(rows[i].at("lr"), expected[i], 1e-9) << "step " << i + 1;
    EXPECT_NEAR(rows[i].at("lr"), sched->lr_at(static_cast<int64_t>(i), 0.1), 1e-9) << "step " << i + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// scheduler_from

TEST(LRSchedulerConfig, LinearByName) {
  auto s = from_yaml("scheduler:\n  name: linear\n  warmup_steps: 10\n  decay_steps: 50\n  min_lr: 0.0\n", 1e-3, 999);
  ASSERT_NE(dynamic_cast<LinearWithWarmup*>(s.get()), nullptr);
  for (int64_t t = 10; t <= 60; ++t) EXPECT_EQ(s->lr_at(t, 1e-3), hf_linear(t, 1e-3, 10, 50)) << t;
  // Defaults: decay to trainer.max_steps, floor lr / 10.
  auto d = from_yaml("scheduler:\n  name: linear\n", 1e-3, 200);
  EXPECT_NEAR(d->lr_at(0, 1e-3), 1e-3, 1e-18);
  EXPECT_NEAR(d->lr_at(100, 1e-3), 5.5e-4, 1e-18);
  EXPECT_NEAR(d->lr_at(200, 1e-3), 1e-4, 1e-18);
}

TEST(LRSchedulerConfig, ConstantWithWarmup) {
  auto s = from_yaml("scheduler:\n  name: constant\n  warmup_steps: 4\n", 1e-3, -1);
  auto* c = dynamic_cast<ConstantLR*>(s.get());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->warmup_steps(), 4);
  EXPECT_NEAR(s->lr_at(0, 1e-3), 2e-4, 1e-18);
  EXPECT_EQ(s->lr_at(4, 1e-3), 1e-3);
  EXPECT_EQ(s->lr_at(999999, 1e-3), 1e-3);
}

TEST(LRSchedulerConfig, WsdWithEveryKey) {
  auto s = from_yaml(
      "scheduler:\n  name: wsd\n  warmup_steps: 10\n  decay_steps: 20\n  total_steps: 100\n"
      "  decay_shape: 1-sqrt\n  min_lr: 1.0e-4\n",
      1e-3, 5000);
  auto* w = dynamic_cast<WarmupStableDecay*>(s.get());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->decay_start(), 80);
  EXPECT_NEAR(s->lr_at(90, 1e-3), 1e-4 + (1.0 - std::sqrt(0.5)) * 9e-4, 1e-18);
  EXPECT_NEAR(s->lr_at(100, 1e-3), 1e-4, 1e-18);
  auto cosine = from_yaml("scheduler:\n  name: wsd\n  decay_steps: 20\n  total_steps: 100\n  decay_shape: cosine\n",
                          1e-3, -1);
  EXPECT_NEAR(cosine->lr_at(85, 1e-3), 1e-4 + 0.5 * (1.0 + std::cos(M_PI * 0.25)) * 9e-4, 1e-18);
}

TEST(LRSchedulerConfig, WsdDefaultsToMaxStepsATenthDecayLinearAndATenthFloor) {
  auto s = from_yaml("scheduler:\n  name: wsd\n", 1e-3, 200);
  auto* w = dynamic_cast<WarmupStableDecay*>(s.get());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->decay_start(), 180);  // the last 20 of 200 steps
  EXPECT_EQ(s->lr_at(0, 1e-3), 1e-3);
  EXPECT_EQ(s->lr_at(179, 1e-3), 1e-3);
  EXPECT_NEAR(s->lr_at(190, 1e-3), 5.5e-4, 1e-18);  // linear, halfway
  EXPECT_NEAR(s->lr_at(200, 1e-3), 1e-4, 1e-18);
  // A very short run still decays over at least one step.
  auto tiny = from_yaml("scheduler:\n  name: wsd\n", 1e-3, 5);
  EXPECT_EQ(dynamic_cast<WarmupStableDecay*>(tiny.get())->decay_start(), 4);
}

TEST(LRSchedulerConfig, BadNamesAndValuesNameTheKeyAndValue) {
  const auto bad = [](const std::string& yaml, int64_t max_steps = 100) {
    return error_of([&] { from_yaml(yaml, 1e-3, max_steps); });
  };
  EXPECT_EQ(bad("scheduler:\n  name: foo\n"), "[config] scheduler.name 'foo' is not one of cosine, linear, constant, wsd");
  EXPECT_EQ(bad("scheduler:\n  name: wsd\n  decay_shape: sqrt\n"),
            "[config] scheduler.decay_shape 'sqrt' is not one of linear, cosine, 1-sqrt");
  EXPECT_EQ(bad("scheduler:\n  name: linear\n  warmup_steps: -3\n"), "[config] scheduler.warmup_steps must be >= 0, got -3");
  EXPECT_EQ(bad("scheduler:\n  name: constant\n  warmup_steps: -1\n"),
            "[config] scheduler.warmup_steps must be >= 0, got -1");
  EXPECT_EQ(bad("scheduler:\n  name: linear\n  decay_steps: -5\n"), "[config] scheduler.decay_steps must be > 0, got -5");
  EXPECT_EQ(bad("scheduler:\n  name: wsd\n  decay_steps: -5\n"), "[config] scheduler.decay_steps must be > 0, got -5");
  EXPECT_EQ(bad("scheduler:\n  name: wsd\n  total_steps: 0\n"), "[config] scheduler.total_steps must be > 0, got 0");
  EXPECT_EQ(bad("scheduler:\n  name: wsd\n  min_lr: -1.0e-5\n"), "[config] scheduler.min_lr must be >= 0, got -1e-05");
  EXPECT_NE(bad("scheduler:\n  name: linear\n  min_lr: 0.5\n").find("min_lr 0.5 must lie in [0, lr = 0.001]"),
            std::string::npos);
  // Warmup past the decay end, given or defaulted.
  EXPECT_NE(bad("scheduler:\n  name: linear\n  warmup_steps: 60\n  decay_steps: 50\n")
                .find("decay_steps (50) must exceed warmup_steps (60)"),
            std::string::npos);
  EXPECT_EQ(bad("scheduler:\n  name: cosine\n  warmup_steps: 500\n"),
            "[config] scheduler.warmup_steps (500) must be less than decay_steps, which defaults to "
            "trainer.max_steps (100)");
  EXPECT_NE(bad("scheduler:\n  name: wsd\n  warmup_steps: 90\n  decay_steps: 20\n")
                .find("warmup_steps (90) + decay_steps (20) must not exceed total_steps (100)"),
            std::string::npos);
  // A decay phase longer than the run.
  EXPECT_EQ(bad("scheduler:\n  name: wsd\n  decay_steps: 150\n"),
            "[config] scheduler.decay_steps (150) must not exceed total_steps (100, trainer.max_steps)");
  EXPECT_EQ(bad("scheduler:\n  name: wsd\n  decay_steps: 150\n  total_steps: 120\n"),
            "[config] scheduler.decay_steps (150) must not exceed total_steps (120)");
  // Nothing to default the length to.
  EXPECT_NE(bad("scheduler:\n  name: wsd\n", -1).find("scheduler.total_steps is needed when trainer.max_steps"),
            std::string::npos);
  EXPECT_NE(bad("scheduler:\n  name: linear\n", -1).find("scheduler.decay_steps is needed when trainer.max_steps"),
            std::string::npos);
}

TEST(LRSchedulerConfig, KeysOfAnotherScheduleAreRejected) {
  EXPECT_EQ(error_of([] { from_yaml("scheduler:\n  name: constant\n  min_lr: 1.0e-4\n", 1e-3, 100); }),
            "[config] scheduler.min_lr does not apply to scheduler 'constant' (its keys: name, warmup_steps; "
            "set it to null to drop it)");
  EXPECT_EQ(error_of([] { from_yaml("scheduler:\n  name: cosine\n  decay_shape: cosine\n", 1e-3, 100); }),
            "[config] scheduler.decay_shape does not apply to scheduler 'cosine' (its keys: name, warmup_steps, "
            "decay_steps, min_lr; set it to null to drop it)");
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  name: linear\n  total_steps: 100\n", 1e-3, 100); })
                .find("scheduler.total_steps does not apply to scheduler 'linear'"),
            std::string::npos);
  // Switching a file's cosine section to constant from the command line: null drops the file's keys,
  // and finish() accepts them.
  auto c = Config::from_string("scheduler:\n  name: cosine\n  warmup_steps: 5\n  decay_steps: 50\n  min_lr: 1.0e-4\n",
                               "sched.yaml");
  c.set_override("--scheduler.name=constant");
  EXPECT_NE(error_of([&] {
              ConfigSection root(c.root(), "", c.source());
              auto s = root.child("scheduler");
              scheduler_from(s, 1e-3, 100);
            }).find("scheduler.decay_steps does not apply to scheduler 'constant'"),
            std::string::npos);
  c.set_override("--scheduler.decay_steps=null");
  c.set_override("--scheduler.min_lr=null");
  ConfigSection root(c.root(), "", c.source());
  auto s = root.child("scheduler");
  auto constant = scheduler_from(s, 1e-3, 100);
  EXPECT_NO_THROW(s.finish());
  EXPECT_NEAR(constant->lr_at(0, 1e-3), 1e-3 / 6.0, 1e-18);
  EXPECT_EQ(constant->lr_at(5, 1e-3), 1e-3);
}

TEST(LRSchedulerConfig, UnknownKeysAreLeftToFinishWithASuggestion) {
  // scheduler_from itself accepts them (finish = false) ...
  EXPECT_NO_THROW(from_yaml("scheduler:\n  name: wsd\n  decay_shap: cosine\n", 1e-3, 100, false));
  // ... and the section's finish() names the key and the nearest one the schedule read.
  const auto wsd = error_of([] { from_yaml("scheduler:\n  name: wsd\n  decay_shap: cosine\n", 1e-3, 100); });
  EXPECT_NE(wsd.find("unknown key 'scheduler.decay_shap'"), std::string::npos) << wsd;
  EXPECT_NE(wsd.find("did you mean 'scheduler.decay_shape'?"), std::string::npos) << wsd;
  const auto constant =
      error_of([] { from_yaml("scheduler:\n  name: constant\n  warmup_step: 3\n", 1e-3, 100); });
  EXPECT_NE(constant.find("unknown key 'scheduler.warmup_step'"), std::string::npos) << constant;
  EXPECT_NE(constant.find("did you mean 'scheduler.warmup_steps'?"), std::string::npos) << constant;
  const auto linear = error_of([] { from_yaml("scheduler:\n  name: linear\n  min_l: 0.0\n", 1e-3, 100); });
  EXPECT_NE(linear.find("did you mean 'scheduler.min_lr'?"), std::string::npos) << linear;
  // Every key a schedule knows is accepted by finish().
  EXPECT_NO_THROW(from_yaml("scheduler:\n  name: wsd\n  warmup_steps: 1\n  decay_steps: 2\n  total_steps: 10\n"
                            "  decay_shape: linear\n  min_lr: 0.0\n",
                            1e-3, -1));
  EXPECT_NO_THROW(from_yaml("scheduler:\n  name: constant\n  warmup_steps: 0\n", 1e-3, -1));
}

}  // namespace
}  // namespace volt

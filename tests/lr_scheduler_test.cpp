// Learning-rate schedules: CosineWithWarmup against nanoGPT's get_lr, ConstantLR, apply() on
// parameter groups, and scheduler_from's config handling.
#include "volt/train/lr_scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "volt/core/check.h"
#include "volt/core/config.h"

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
  EXPECT_NE(error_of([] { from_yaml("scheduler:\n  name: linear\n", 1e-3, 100); })
                .find("scheduler.name 'linear' is not known"),
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

}  // namespace
}  // namespace volt

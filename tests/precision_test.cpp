// Precision plugins: "bf16-mixed" runs training and validation steps under bfloat16 autocast
// (matmuls in bf16, weights and optimizer state in fp32); "32-true" does not; "16-mixed"'s loss
// scaler skips overflowing steps and backs off; "bf16-true" trains bf16 weights with fp32 master
// copies.
#include "volt/train/precision.h"

#include <gtest/gtest.h>

#include "test_helpers.h"
#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/models/causal_lm.h"

namespace volt {
namespace {

using test::ListDataModule;
using test::ScopedTempDir;

// A small language model that records the dtype its logits come out in.
class ProbeLM : public LightningModule {
 public:
  ProbeLM() {
    ModelConfig c = ModelConfig::preset("babygpt-tiny");
    c.vocab_size = 11, c.block_size = 8;
    lm = register_module("lm", CausalLM(c));
  }
  torch::Tensor training_step(const Batch& b, int64_t) override {
    auto logits = lm(b.input_ids);
    train_dtypes.push_back(logits.scalar_type());
    auto loss = causal_lm_loss(logits, b.labels);
    losses.push_back(loss.item<double>());
    return loss;
  }
  void validation_step(const Batch& b, int64_t) override {
    auto logits = lm(b.input_ids);
    val_dtypes.push_back(logits.scalar_type());
    log("val_loss", causal_lm_loss(logits, b.labels));
  }
  Optimizers configure_optimizers() override {
    AdamWOptions o;
    o.lr = lr;
    return {std::make_shared<AdamW>(weight_decay_groups(*this, 0.0), o), nullptr};
  }
  CausalLM lm{nullptr};
  double lr = 1e-2;
  std::vector<torch::ScalarType> train_dtypes, val_dtypes;
  std::vector<double> losses;
};

std::vector<Batch> copy_task(int64_t n) {
  // Labels equal the inputs: learnable, so a working step lowers the loss.
  auto batches = test::random_batches(n, 4, 8, 11, 3);
  for (auto& b : batches) b.labels = b.input_ids.clone();
  return batches;
}

TEST(Precision, Bf16MixedAutocastsMatmulsAndKeepsFp32Weights) {
  ScopedTempDir dir;
  auto m = std::make_shared<ProbeLM>();
  ListDataModule data(copy_task(30), copy_task(2));
  Trainer t(
      test::quiet_options(dir.path()).precision("bf16-mixed").max_steps(30).val_check_interval(30));
  t.fit(*m, data);
  ASSERT_FALSE(m->train_dtypes.empty());
  EXPECT_EQ(m->train_dtypes.front(), torch::kBFloat16);
  EXPECT_EQ(m->val_dtypes.front(), torch::kBFloat16);
  for (const auto& p : m->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  EXPECT_LT(m->losses.back(), m->losses.front() - 0.5) << "bf16-mixed training did not learn";
  // Autocast is scoped to the steps: outside them matmuls are fp32 again.
  EXPECT_EQ(torch::matmul(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kFloat32);
}

TEST(Precision, ThirtyTwoTrueStaysFp32) {
  ScopedTempDir dir;
  auto m = std::make_shared<ProbeLM>();
  ListDataModule data(copy_task(3));
  Trainer(test::quiet_options(dir.path()).precision("32-true").max_steps(3)).fit(*m, data);
  EXPECT_EQ(m->train_dtypes.front(), torch::kFloat32);
}

TEST(Precision, UnknownPrecisionIsAnError) {
  EXPECT_NE(test::error_of([] { Trainer t(TrainerOptions().precision("fp8")); }).find("'fp8'"),
            std::string::npos);
}

}  // namespace
}  // namespace volt

// ---------------------------------------------------------------------------------------------
// 16-mixed's dynamic loss scaler, bf16-true and its master weights.

namespace volt {
namespace {

TEST(LossScaler, ScalesUnscalesAndDetectsOverflow) {
  LossScalerOptions o;
  o.init_scale = 1024;
  LossScaler s(o);
  EXPECT_DOUBLE_EQ(s.scale(torch::tensor(0.5)).item<double>(), 512.0);
  auto g = torch::full({4}, 2048.0f);
  EXPECT_TRUE(s.unscale({g}));
  EXPECT_TRUE(torch::allclose(g, torch::full({4}, 2.0f)));
  auto bad = torch::tensor({1.0f, std::numeric_limits<float>::infinity()});
  auto nan = torch::tensor({std::nanf("")});
  EXPECT_FALSE(s.unscale({g, bad}));
  EXPECT_FALSE(s.unscale({nan}));
}

TEST(LossScaler, BacksOffOnOverflowAndGrowsAfterCleanSteps) {
  LossScalerOptions o;
  o.init_scale = 65536, o.growth_interval = 3;
  LossScaler s(o);
  s.update(true);
  EXPECT_DOUBLE_EQ(s.scale_value(), 32768);
  s.update(false), s.update(false);
  EXPECT_DOUBLE_EQ(s.scale_value(), 32768);  // two clean steps: not yet
  s.update(true);                            // an overflow restarts the count
  EXPECT_DOUBLE_EQ(s.scale_value(), 16384);
  s.update(false), s.update(false), s.update(false);
  EXPECT_DOUBLE_EQ(s.scale_value(), 32768);
  EXPECT_EQ(s.growth_tracker(), 0);
  nlohmann::json state;
  s.state_dict(state);
  LossScaler t(o);
  t.load_state_dict(state);
  EXPECT_DOUBLE_EQ(t.scale_value(), 32768);
  EXPECT_THROW(LossScaler(LossScalerOptions{0.0}), Error);
}

// A model whose third step's loss overflows once scaled: its gradients are inf.
class OverflowOnce : public ProbeLM {
 public:
  torch::Tensor training_step(const Batch& b, int64_t idx) override {
    auto loss = ProbeLM::training_step(b, idx);
    return idx == overflow_at ? loss * 1e38 : loss;
  }
  int64_t overflow_at = 2;
};

class WeightsPerStep : public Callback {
 public:
  std::string name() const override { return "WeightsPerStep"; }
  void on_train_batch_end(Trainer& t, LightningModule& m, const torch::Tensor&, const Batch&,
                          int64_t) override {
    snapshots.push_back(test::snapshot(m));
    scales.push_back(t.precision_plugin().scaler()->scale_value());
  }
  std::vector<std::map<std::string, torch::Tensor>> snapshots;
  std::vector<double> scales;
};

TEST(Precision, LossScalerSkipsTheOverflowingStepAndBacksOff) {
  // The scaler's logic is the same whatever autocast does: here fp32 compute with a scaled loss,
  // which LibTorch 1.13 on a CPU can run (it has no fp16 matmul there).
  ScopedTempDir dir;
  auto m = std::make_shared<OverflowOnce>();
  auto watch = std::make_shared<WeightsPerStep>();
  LossScalerOptions so;
  so.init_scale = 1024, so.growth_interval = 2;
  auto plugin =
      std::make_shared<MixedPrecision>("scaled-32", c10::nullopt, std::make_unique<LossScaler>(so));
  ListDataModule data(copy_task(6));
  Trainer t(test::quiet_options(dir.path()).precision_plugin(plugin).max_steps(6), {watch});
  t.fit(*m, data);
  ASSERT_EQ(watch->snapshots.size(), 6u);
  EXPECT_EQ(t.skipped_steps(), 1);
  // Step index 2 was skipped: the weights after it equal those after step 1 ...
  for (const auto& [name, w] : watch->snapshots[1]) {
    EXPECT_TRUE(torch::equal(w, watch->snapshots[2].at(name))) << name;
  }
  // ... while every other step moved them.
  EXPECT_FALSE(torch::equal(watch->snapshots[2].at("lm.transformer.wte.weight"),
                            watch->snapshots[3].at("lm.transformer.wte.weight")));
  // 1024 -> 2048 after two clean steps, halved by the overflow, then doubles again after two more.
  EXPECT_EQ(watch->scales, (std::vector<double>{1024, 2048, 1024, 1024, 2048, 2048}));
  EXPECT_DOUBLE_EQ(t.callback_metrics().at("loss_scale"), 2048);
  EXPECT_DOUBLE_EQ(t.callback_metrics().at("skipped_steps"), 1);
  for (const auto& p : m->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(Precision, SixteenMixedRunsWhereTheCpuHasFp16MatmulsAndSaysWhyNotElsewhere) {
  ScopedTempDir dir;
  if (!compat::cpu_matmul_supports(torch::kHalf)) {
    const auto err =
        test::error_of([&] { Trainer t(test::quiet_options(dir.path()).precision("16-mixed")); });
    EXPECT_NE(err.find("precision '16-mixed'"), std::string::npos) << err;
    EXPECT_NE(err.find("bf16-mixed"), std::string::npos) << err;
    return;
  }
  auto m = std::make_shared<ProbeLM>();
  ListDataModule data(copy_task(20));
  Trainer t(test::quiet_options(dir.path()).precision("16-mixed").max_steps(20));
  t.fit(*m, data);
  EXPECT_EQ(m->train_dtypes.front(), torch::kHalf);
  EXPECT_LT(m->losses.back(), m->losses.front() - 0.5);
}

TEST(Precision, Bf16TrueConvertsTheModelAndLearns) {
  ScopedTempDir dir;
  auto m = std::make_shared<ProbeLM>();
  ListDataModule data(copy_task(30));
  Trainer t(test::quiet_options(dir.path()).precision("bf16-true").max_steps(30));
  t.fit(*m, data);
  for (const auto& p : m->parameters()) EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(m->train_dtypes.front(), torch::kBFloat16);
  EXPECT_LT(m->losses.back(), m->losses.front() - 0.5);
  // The optimizer holds fp32 master copies (saved with the checkpoint for exact resume).
  bool has_master = false;
  for (const auto& [name, tensor] : t.optimizer()->state_tensors()) {
    if (name.rfind("master.", 0) == 0) {
      has_master = true;
      EXPECT_EQ(tensor.scalar_type(), torch::kFloat32) << name;
    }
  }
  EXPECT_TRUE(has_master);
}

// Updates far below half a bf16 ULP of the weights: rounded away at every step without master
// weights, accumulated in fp32 with them.
double total_change(bool master_weights) {
  ScopedTempDir dir;
  torch::manual_seed(3);
  auto m = std::make_shared<ProbeLM>();
  m->lr = 1e-5;
  const auto before = m->lm->block(0).mlp->fc->weight.to(torch::kBFloat16).to(torch::kFloat32);
  ListDataModule data(copy_task(20));
  Trainer(test::quiet_options(dir.path())
              .precision("bf16-true")
              .master_weights(master_weights)
              .max_steps(20))
      .fit(*m, data);
  const auto after = m->lm->block(0).mlp->fc->weight.to(torch::kFloat32);
  return (after - before).abs().sum().item<double>();
}

TEST(Precision, Bf16TrueMasterWeightsKeepUpdatesSmallerThanBf16CanHold) {
  const double with_master = total_change(true), without = total_change(false);
  EXPECT_GT(with_master, 5 * without)
      << "with master weights " << with_master << ", without " << without;
}

}  // namespace
}  // namespace volt

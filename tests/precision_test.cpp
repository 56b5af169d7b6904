// Precision plugins: "bf16-mixed" runs training and validation steps under bfloat16 autocast
// (matmuls in bf16, weights and optimizer state in fp32); "32-true" does not.
#include <gtest/gtest.h>

#include "test_helpers.h"
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
    o.lr = 1e-2;
    return {std::make_shared<AdamW>(weight_decay_groups(*this, 0.0), o), nullptr};
  }
  CausalLM lm{nullptr};
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
  Trainer t(test::quiet_options(dir.path()).precision("bf16-mixed").max_steps(30).val_check_interval(30));
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

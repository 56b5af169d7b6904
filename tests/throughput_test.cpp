// MFU arithmetic: nanoGPT's estimate_mfu FLOPs per token for GPT-2 124M, and the step timer's
// median over timed steps only.
#include "volt/train/throughput.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_helpers.h"

namespace volt {
namespace {

TEST(Throughput, FlopsPerTokenIsNanoGptsFormula) {
  // N = 124,439,808 - wpe's 1024 x 768 = 123,653,376; 6N + 12 L C T at T = 1024.
  const double want = 6.0 * 123653376.0 + 12.0 * 12 * 768 * 1024;
  EXPECT_DOUBLE_EQ(training_flops_per_token(ModelConfig::preset("gpt2"), 1024), want);
  // Llama has no position embedding to leave out.
  const auto llama = ModelConfig::preset("llama-2-7b");
  EXPECT_DOUBLE_EQ(training_flops_per_token(llama, 4096),
                   6.0 * 6738415616.0 + 12.0 * 32 * 4096 * 4096);
  EXPECT_EQ(compute_dtype("bf16-mixed"), torch::kBFloat16);
  EXPECT_EQ(compute_dtype("16-mixed"), torch::kHalf);
  EXPECT_EQ(compute_dtype("32-true"), torch::kFloat32);
}

TEST(Throughput, MeasuredMatmulRateIsPlausible) {
  const double f = measured_matmul_flops(torch::Device(torch::kCPU), torch::kFloat32, 256, 0.05);
  EXPECT_GT(f, 1e8);   // even one slow core does 0.1 GFLOP/s
  EXPECT_LT(f, 1e14);  // and no CPU does 100 TFLOP/s
}

TEST(Throughput, StepTimerSkipsWarmupAndTakesTheMedian) {
  test::ScopedTempDir dir;
  test::TinyModule m;
  test::ListDataModule data(test::random_batches(6, 2, 4, 11, 1));
  auto timer = std::make_shared<StepTimer>(2);
  Trainer(test::quiet_options(dir.path()).max_steps(6), {timer}).fit(m, data);
  EXPECT_EQ(timer->seconds().size(), 4u);
  for (double s : timer->seconds()) EXPECT_GT(s, 0);
  EXPECT_GT(timer->median(), 0);
}

}  // namespace
}  // namespace volt

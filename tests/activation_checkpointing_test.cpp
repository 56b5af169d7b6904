// Activation checkpointing: the same loss and the same gradients as the plain forward (both
// families, with dropout, under bf16 autocast, with a frozen embedding), and less memory kept
// for backward (measured with the counting CPU allocator).
#include <gtest/gtest.h>

#include "test_helpers.h"
#include "volt/core/compat.h"
#include "volt/core/memory_stats.h"
#include "volt/models/causal_lm.h"
#include "volt/nn/checkpoint.h"

namespace volt {
namespace {

ModelConfig small(const std::string& family, double dropout) {
  ModelConfig c = ModelConfig::preset(family == "mistral" ? "mistral-7b-v0.1"
                                      : family == "llama" ? "llama-3.1-8b"
                                                          : "babygpt-tiny");
  if (family != "gpt2") {
    c.n_layer = 2, c.n_embd = 32, c.n_head = 4, c.n_kv_head = 2, c.n_inner = 48;
    if (family == "mistral") c.sliding_window = 5;
  }
  c.vocab_size = 37, c.block_size = 16, c.dropout = dropout;
  return c;
}

struct Result {
  double loss;
  std::map<std::string, torch::Tensor> grads;
};

Result loss_and_grads(const ModelConfig& cfg, bool checkpointing, bool autocast_bf16 = false,
                      bool freeze_embedding = false) {
  torch::manual_seed(11);
  CausalLM lm(cfg);
  lm->train();
  lm->set_activation_checkpointing(checkpointing);
  if (freeze_embedding) lm->embedding_weight().set_requires_grad(false);
  torch::manual_seed(12);  // the same dropout masks for both runs
  auto ids = torch::randint(0, cfg.vocab_size, {3, cfg.block_size}, torch::kLong);
  torch::Tensor loss;
  {
    std::unique_ptr<compat::AutocastGuard> guard;
    if (autocast_bf16)
      guard = std::make_unique<compat::AutocastGuard>(torch::kCPU, torch::kBFloat16);
    loss = causal_lm_loss(lm(ids), ids);
  }
  loss.backward();
  Result r{loss.item<double>(), {}};
  for (const auto& kv : lm->named_parameters()) {
    if (kv.value().grad().defined()) r.grads[kv.key()] = kv.value().grad().clone();
  }
  return r;
}

void expect_same(const Result& a, const Result& b, double tol) {
  EXPECT_NEAR(a.loss, b.loss, tol);
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (const auto& [name, g] : a.grads) {
    ASSERT_TRUE(b.grads.count(name)) << name;
    EXPECT_LT(test::max_abs_diff(g, b.grads.at(name)), tol) << name;
  }
}

TEST(ActivationCheckpointing, SameGradientsGpt2WithDropout) {
  const auto cfg = small("gpt2", 0.1);
  expect_same(loss_and_grads(cfg, false), loss_and_grads(cfg, true), 1e-6);
}

TEST(ActivationCheckpointing, SameGradientsLlamaAndMistral) {
  for (const std::string family : {"llama", "mistral"}) {
    const auto cfg = small(family, 0.0);
    SCOPED_TRACE(family);
    expect_same(loss_and_grads(cfg, false), loss_and_grads(cfg, true), 1e-6);
  }
}

TEST(ActivationCheckpointing, SameGradientsUnderBf16Autocast) {
  // The recomputation runs inside backward, outside the step's autocast region: it must re-enter
  // autocast, or its bf16 activations would come back as fp32 ones (a different function).
  const auto cfg = small("gpt2", 0.0);
  expect_same(loss_and_grads(cfg, false, true), loss_and_grads(cfg, true, true), 1e-6);
}

TEST(ActivationCheckpointing, FrozenEmbeddingStillTrainsTheBlocks) {
  // The blocks' input does not require grad; their parameters do.
  const auto cfg = small("gpt2", 0.0);
  const auto plain = loss_and_grads(cfg, false, false, true);
  const auto ckpt = loss_and_grads(cfg, true, false, true);
  EXPECT_FALSE(ckpt.grads.count("transformer.wte.weight"));
  EXPECT_TRUE(ckpt.grads.count("transformer.h.0.attn.c_attn.weight"));
  expect_same(plain, ckpt, 1e-6);
}

TEST(ActivationCheckpointing, EvaluationAndCachesAreUnaffected) {
  const auto cfg = small("gpt2", 0.0);
  torch::manual_seed(1);
  CausalLM lm(cfg);
  lm->set_activation_checkpointing(true);
  lm->eval();
  auto ids = torch::randint(0, cfg.vocab_size, {2, 8}, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto with = lm(ids);
  lm->set_activation_checkpointing(false);
  EXPECT_TRUE(torch::equal(with, lm(ids)));
}

// Bytes alive after the forward pass (what backward keeps), with and without checkpointing.
int64_t kept_for_backward(bool checkpointing) {
  ModelConfig c = ModelConfig::preset("babygpt-tiny");
  c.n_layer = 6, c.vocab_size = 64, c.block_size = 128;
  torch::manual_seed(2);
  CausalLM lm(c);
  lm->train();
  lm->set_activation_checkpointing(checkpointing);
  auto ids = torch::randint(0, c.vocab_size, {8, c.block_size}, torch::kLong);
  const torch::Device cpu(torch::kCPU);
  const int64_t before = memory::stats(cpu).current_bytes;
  auto loss = causal_lm_loss(lm(ids), ids);
  const int64_t kept = memory::stats(cpu).current_bytes - before;
  loss.backward();
  return kept;
}

TEST(ActivationCheckpointing, KeepsFarLessForBackward) {
  memory::track_cpu_allocations();
  const int64_t plain = kept_for_backward(false), ckpt = kept_for_backward(true);
  // Six blocks: each keeps ~(B T C) x (a dozen+ tensors) plain, one input checkpointed.
  EXPECT_LT(ckpt * 3, plain) << "plain " << plain << " bytes, checkpointed " << ckpt;
}

}  // namespace
}  // namespace volt

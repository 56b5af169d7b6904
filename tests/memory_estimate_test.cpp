// volt memory's arithmetic: PEFT's trainable-parameter count, the memory wall of a 70B model, and
// the estimate against the peak measured on real CPU training steps of two model sizes and two
// families (within 15%, the bar; the figures in docs/benchmarks.md are closer).
#include "volt/train/memory_estimate.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "test_util.h"
#include "volt/core/check.h"
#include "volt/models/causal_lm.h"

namespace volt {
namespace {

TEST(MemoryEstimate, LoraTrainableCountEqualsPefts) {
  // PEFT's print_trainable_parameters for Llama-2-7B, r=8 on q_proj and v_proj.
  MemoryPlan p;
  p.model = ModelConfig::preset("llama-2-7b");
  p.lora_rank = 8;
  p.lora_targets = {"q_proj", "v_proj"};
  const auto e = estimate_memory(p);
  EXPECT_EQ(e.trainable_params, 4194304);
  EXPECT_EQ(e.total_params, 6742609920);
  // LoRA: no gradients or moments for the frozen base.
  EXPECT_DOUBLE_EQ(e.gradients, 4194304.0 * 4);
  EXPECT_DOUBLE_EQ(e.optimizer, 4194304.0 * 8);
  // GPT-2's c_proj names two layers per block (attention and MLP), as PEFT's suffix match does.
  EXPECT_EQ(lora_parameters(ModelConfig::preset("gpt2"), 4, {"c_proj"}),
            12 * 4 * ((768 + 768) + (3072 + 768)));
  EXPECT_NE(
      test::error_of([] {
        lora_parameters(ModelConfig::preset("gpt2"), 4, {"q_proj"});
      }).find("LoRA target 'q_proj' is not a Linear layer of a gpt2 block (c_attn, c_proj, c_fc"),
      std::string::npos);
}

TEST(MemoryEstimate, SeventyBillionParametersHitTheMemoryWall) {
  // Llama-2-70B's shape: 80 layers, 8192 wide, 64 heads with 8 key/value heads, MLP 28672.
  MemoryPlan p;
  p.model = ModelConfig::preset("llama-2-7b");
  p.model.n_layer = 80, p.model.n_embd = 8192, p.model.n_head = 64, p.model.n_kv_head = 8;
  p.model.n_inner = 28672;
  p.precision = "bf16-mixed";
  const auto e = estimate_memory(p);
  EXPECT_EQ(e.total_params, 68976648192);
  // fp32 weights (the master copy) and two fp32 moments: 12 bytes a parameter, over 800 GB.
  EXPECT_GT(e.weights + e.optimizer, 800e9);
  EXPECT_DOUBLE_EQ((e.weights + e.gradients + e.optimizer) / static_cast<double>(e.total_params),
                   16.0);
  // FSDP over 8 ranks divides all three, plus the gathered root unit and one block (fp32 weights
  // and gradients: 8 bytes a parameter, 11 GB here).
  p.strategy = "fsdp", p.world_size = 8;
  const auto f = estimate_memory(p);
  const double root = 2.0 * 32000 * 8192 + 8192, per_block = (68976648192.0 - root) / 80;
  EXPECT_DOUBLE_EQ(f.weights + f.gradients + f.optimizer,
                   (e.weights + e.gradients + e.optimizer) / 8 + (root + per_block) * 8);
  // Autocast's 16-bit weight copies: every block's in one process, one gathered block's under FSDP.
  int64_t block = 0;
  for (const auto& l : block_linears(p.model)) block += l.in * l.out;
  EXPECT_DOUBLE_EQ(e.activations - f.activations, static_cast<double>(block) * 79 * 2);
  // QLoRA: ~4.1 bits a block weight.
  MemoryPlan q = p;
  q.strategy = "single", q.world_size = 1, q.lora_rank = 16, q.quant = "nf4";
  EXPECT_LT(estimate_memory(q).weights, 40e9);
}

TEST(MemoryEstimate, BadPlansAreErrors) {
  MemoryPlan p;
  p.model = ModelConfig::preset("gpt2");
  p.precision = "fp8";
  EXPECT_NE(test::error_of([&] { estimate_memory(p); }).find("precision 'fp8'"), std::string::npos);
  p.precision = "32-true", p.seq_len = 4096;
  EXPECT_NE(test::error_of([&] { estimate_memory(p); }).find("exceeds the model's context (1024)"),
            std::string::npos);
  p.seq_len = 0, p.quant = "nf4";
  EXPECT_NE(test::error_of([&] { estimate_memory(p); }).find("QLoRA needs a LoRA rank"),
            std::string::npos);
}

struct Case {
  const char* name;
  ModelConfig model;
  int64_t batch, seq;
  std::string precision;
  bool checkpointing;
};

ModelConfig gpt2_small_vocab() {
  ModelConfig c = ModelConfig::preset("babygpt-shakespeare");
  c.vocab_size = 65;
  return c;
}

ModelConfig gpt2_bpe() {
  ModelConfig c = ModelConfig::preset("babygpt-small");
  c.vocab_size = 50304;
  return c;
}

ModelConfig small_llama() {
  ModelConfig c = ModelConfig::preset("llama-3.1-8b");
  c.n_layer = 4, c.n_embd = 256, c.n_head = 8, c.n_kv_head = 2, c.n_inner = 704,
  c.vocab_size = 4096;
  c.block_size = 256;
  return c;
}

TEST(MemoryEstimate, WithinFifteenPercentOfTheMeasuredPeak) {
  const std::vector<Case> cases = {
      {"babygpt char 0.8M, B12 T64", gpt2_small_vocab(), 12, 64, "32-true", false},
      {"babygpt char 0.8M, B12 T64, bf16-mixed", gpt2_small_vocab(), 12, 64, "bf16-mixed", false},
      {"babygpt-small + GPT-2 vocab, B4 T128", gpt2_bpe(), 4, 128, "32-true", false},
      {"babygpt-small + GPT-2 vocab, B4 T128, checkpointed", gpt2_bpe(), 4, 128, "32-true", true},
      {"llama 4x256 GQA, B4 T128", small_llama(), 4, 128, "32-true", false},
  };
  for (const auto& c : cases) {
    MemoryPlan p;
    p.model = c.model;
    p.micro_batch = c.batch, p.seq_len = c.seq, p.precision = c.precision;
    p.activation_checkpointing = c.checkpointing;
    const double estimate = estimate_memory(p).peak();
    const double measured = static_cast<double>(measure_training_peak(p, 2));
    std::printf("%-50s estimate %8.2f MiB  measured %8.2f MiB  %+5.1f%%\n", c.name,
                estimate / 1048576.0, measured / 1048576.0,
                100.0 * (estimate - measured) / measured);
    EXPECT_NEAR(estimate / measured, 1.0, 0.15)
        << c.name << ": estimate " << estimate << " measured " << measured;
  }
}

}  // namespace
}  // namespace volt

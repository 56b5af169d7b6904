// What a saved model directory holds for transformers: a randomly initialised model written one
// weight at a time (volt init on models larger than memory), special ids in config.json and
// generation_config.json (the tokenizer's, never GPT-2's 50256 for a 65-token vocabulary), zero
// biases of a bias-free GPT-2 in the weights' dtype.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_helpers.h"
#include "volt/core/memory_stats.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"

namespace volt {
namespace {

using test::ScopedTempDir;

TEST(PretrainedEdges, RandomInitWritesOneBlockWeightAtATime) {
  // Wide blocks and a tiny vocabulary: nearly every byte is in the blocks' Linear weights.
  auto c = ModelConfig::preset("babygpt-tiny");
  c.n_layer = 6, c.n_embd = 256, c.n_head = 4, c.vocab_size = 65;
  const int64_t model_bytes = count_parameters(c) * 4;
  const int64_t largest = 4 * c.n_embd * c.n_embd * 4;  // the MLP's (4C, C) weight, fp32
  ScopedTempDir dir;
  memory::track_cpu_allocations();
  const int64_t before = memory::stats(torch::kCPU).current_bytes;
  memory::reset_peak(torch::kCPU);
  torch::manual_seed(1);
  save_random_pretrained(c, dir / "m", torch::kFloat32);
  const int64_t peak = memory::stats(torch::kCPU).peak_bytes - before;
  EXPECT_LT(peak, model_bytes / 4) << "peak " << peak << " of a " << model_bytes << "-byte model";
  EXPECT_LT(peak, 3 * largest + (1 << 20));
  // What was written is a model: it loads, and its weights are N(0, 0.02) draws, biases none.
  auto m = from_pretrained(dir / "m");
  const auto& w = (&m->block(2))->mlp->fc->weight;
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.002);
  // bfloat16 on disk: every tensor, the zero biases of a bias-free GPT-2 included.
  save_random_pretrained(c, dir / "bf16", torch::kBFloat16);
  io::SafetensorsFile f(dir / "bf16/model.safetensors");
  ASSERT_TRUE(f.contains("transformer.h.0.attn.c_attn.bias"));
  for (const auto& name : f.names()) EXPECT_EQ(f.info(name).dtype, torch::kBFloat16) << name;
}

TEST(PretrainedEdges, ABiasFreeGpt2IsSavedWithZeroBiasesInItsDtype) {
  auto c = ModelConfig::preset("babygpt-tiny");
  ASSERT_FALSE(c.norm_bias || c.qkv_bias || c.attn_out_bias || c.mlp_bias);
  CausalLM m(c);
  m->to(torch::kFloat16);
  ScopedTempDir dir;
  save_pretrained(*m, dir / "m");
  io::SafetensorsFile f(dir / "m/model.safetensors");
  for (const char* n : {"transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.bias",
                        "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.bias"}) {
    ASSERT_TRUE(f.contains(n)) << n;
    EXPECT_EQ(f.load(n).abs().max().item<double>(), 0.0) << n;
  }
  for (const auto& name : f.names()) EXPECT_EQ(f.info(name).dtype, torch::kFloat16) << name;
}

TEST(PretrainedEdges, SpecialIdsAreTheTokenizersOrNull) {
  auto c = ModelConfig::preset("babygpt-tiny");  // 65 characters: no BOS, no EOS
  ScopedTempDir dir;
  save_model_config(c, dir / "m");
  const auto j = io::read_json(dir / "m/config.json");
  EXPECT_TRUE(j.at("bos_token_id").is_null());
  EXPECT_TRUE(j.at("eos_token_id").is_null());
  const auto g = io::read_json(dir / "m/generation_config.json");
  EXPECT_TRUE(g.at("eos_token_id").is_null());
  // Several eos ids (Llama 3.1) round-trip as a list; an id outside the vocabulary is refused.
  c.vocab_size = 300, c.bos_token_id = 256, c.eos_token_ids = {257, 258};
  save_model_config(c, dir / "m2");
  const auto back = load_model_config(dir / "m2");
  EXPECT_EQ(back.bos_token_id, 256);
  EXPECT_EQ(back.eos_token_ids, (std::vector<int64_t>{257, 258}));
  EXPECT_EQ(io::read_json(dir / "m2/generation_config.json").at("eos_token_id"),
            nlohmann::json({257, 258}));
  c.eos_token_ids = {50256};
  EXPECT_NE(
      test::error_of([&] { c.validate(); }).find("eos_token_id 50256 is outside the vocabulary"),
      std::string::npos);
}

}  // namespace
}  // namespace volt

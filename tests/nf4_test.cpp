// NF4 as bitsandbytes stores it: the 16 code values (the table equals the normal-quantile
// construction), the 8-bit dynamic map for double quantization, the packing, the round-trip
// error on N(0, 1) weights (nearest code, better than uniform 4-bit), the tensor-op path equal
// to the CPU loop, a Linear on NF4 weights equal to one on the dequantized weight (forward and
// backward), quantize-while-loading, and QLoRA lowering the loss like LoRA does.
#include "volt/peft/nf4.h"

#include <gtest/gtest.h>

#include "test_helpers.h"
#include "test_util.h"
#include "volt/core/memory_stats.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"
#include "volt/peft/lora.h"
#include "volt/train/optim.h"

namespace volt {
namespace {

TEST(Nf4, CodeBookEqualsBitsandbytesAndTheNormalQuantileConstruction) {
  // bitsandbytes/functional.py get_4bit_type("nf4"), the values as printed there.
  const double bnb[16] = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                          -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                          0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                          0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
  const auto& code = peft::nf4_code();
  const auto built = peft::nf4_code_from_normal_quantiles();
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(code[static_cast<size_t>(i)], static_cast<float>(bnb[i])) << i;
    // bitsandbytes builds them in float32 from scipy's norm.ppf: equal to float rounding.
    EXPECT_NEAR(built[static_cast<size_t>(i)], bnb[i], 2e-7) << i;
  }
}

TEST(Nf4, DynamicMapIsBitsandbytesSigned8BitMap) {
  const auto& m = peft::dynamic_map_8bit();
  for (size_t i = 1; i < m.size(); ++i) EXPECT_LT(m[i - 1], m[i]) << i;
  EXPECT_EQ(m[255], 1.0f);
  EXPECT_NE(std::find(m.begin(), m.end(), 0.0f), m.end());
  // Smallest magnitude: 10^-6 times the mean of linspace(0.1, 1, 2); largest below 1: the mean of
  // the last two of linspace(0.1, 1, 65).
  EXPECT_FLOAT_EQ(m[128], 0.55e-6f);
  EXPECT_FLOAT_EQ(m[0], -(0.98593750f + 1.0f) / 2.0f);
}

TEST(Nf4, PacksTwoCodesAByteFirstValueInTheHighNibble) {
  auto w = torch::zeros({64});
  w[0] = 1.0, w[1] = -1.0, w[2] = 0.5, w[3] = 0.0;
  const auto q = peft::quantize_nf4(w);
  ASSERT_EQ(q.codes.numel(), 32);
  EXPECT_EQ(q.codes[0].item<int>(), (15 << 4) | 0);
  EXPECT_EQ(q.codes[1].item<int>(), (12 << 4) | 7);  // 0.5 -> 0.4407 (code 12; 0.5626 is farther), 0 -> 7
  const auto back = peft::dequantize_nf4(q);
  EXPECT_NEAR(back[0].item<float>(), 1.0f, 1e-2);
  EXPECT_EQ(back[3].item<float>(), 0.0f);
}

TEST(Nf4, RoundTripOfGaussianWeightsPicksTheNearestCodeAndBeatsUniformFourBit) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto w = torch::randn({512, 1024}, gen);
  const auto q = peft::quantize_nf4(w);
  const auto back = peft::dequantize_nf4(q);
  // Reference without double quantization: per block of 64, nearest of the 16 values by argmin.
  const auto blocks = w.view({-1, 64});
  const auto absmax = blocks.abs().amax(1, true);
  const auto code = torch::tensor(std::vector<float>(peft::nf4_code().begin(), peft::nf4_code().end()));
  const auto idx = (blocks / absmax).unsqueeze(-1).sub(code).abs().argmin(-1);
  const auto ideal = (code.index_select(0, idx.view(-1)).view(idx.sizes()) * absmax).view(w.sizes());
  const auto bytes = q.codes.to(torch::kLong);
  const auto ours = torch::stack({bytes.bitwise_right_shift(4), bytes.bitwise_and(15)}, 1).view(idx.sizes());
  EXPECT_GT(ours.eq(idx).to(torch::kDouble).mean().item<double>(), 0.99999);  // ties aside
  const double rmse = (back - w).pow(2).mean().sqrt().item<double>();
  const double ideal_rmse = (ideal - w).pow(2).mean().sqrt().item<double>();
  // Uniform symmetric 4-bit (15 levels over [-absmax, absmax]) on the same blocks.
  const auto uniform = (blocks / absmax * 7).round() / 7 * absmax;
  const double uniform_rmse = (uniform.view(w.sizes()) - w).pow(2).mean().sqrt().item<double>();
  std::printf("NF4 RMSE %.5f (single-quantized absmax %.5f), uniform 4-bit %.5f, of N(0, 1)\n", rmse, ideal_rmse,
              uniform_rmse);
  EXPECT_LT(rmse, ideal_rmse * 1.01);  // 8-bit absmax constants cost under 1% more error
  EXPECT_GT(rmse, 0.08);
  EXPECT_LT(rmse, 0.12);  // NF4's expected error on N(0, 1) in blocks of 64 is ~0.1 std
  EXPECT_LT(rmse, uniform_rmse * 0.95);
  // The absmax constants survive double quantization to within 1%.
  const auto dq = peft::dequantize_absmax(q);
  EXPECT_LT(((dq - absmax.view(-1)).abs() / absmax.view(-1)).max().item<double>(), 1e-2);
  // 4.127 bits a weight.
  EXPECT_NEAR(static_cast<double>(q.nbytes()) * 8 / static_cast<double>(w.numel()), 4.127, 1e-3);
}

TEST(Nf4, TensorOperationsEqualTheReferenceLoopBitForBit) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  const auto w = torch::randn({100, 70}, gen) * 0.02;  // 7000: the last block is partial
  const auto q = peft::quantize_nf4(w);
  EXPECT_TRUE(torch::equal(peft::dequantize_nf4(q), peft::dequantize_nf4_tensor(q)));
  EXPECT_TRUE(torch::equal(peft::dequantize_nf4(q, torch::kBFloat16), peft::dequantize_nf4_tensor(q, torch::kBFloat16)));
}

TEST(Nf4, LinearOnNf4WeightsEqualsLinearOnTheDequantizedWeightForwardAndBackward) {
  torch::manual_seed(9);
  nn::Linear ref(64, 96, true), quant(64, 96, true);
  quant->bias.data().copy_(ref->bias.data());
  peft::quantize_linear_nf4(*quant, ref->weight);
  EXPECT_EQ(quant->weight.numel(), 0);
  EXPECT_FALSE(quant->weight.requires_grad());
  ref->weight.data().copy_(peft::dequantize_nf4(dynamic_cast<peft::Nf4WeightImpl*>(quant->weight_source.get())->tensor()));
  ref->weight.set_requires_grad(false);
  auto x1 = torch::randn({3, 5, 64}, torch::requires_grad()), x2 = x1.detach().clone().requires_grad_();
  auto y1 = ref(x1), y2 = quant(x2);
  EXPECT_LT(test::max_abs_diff(y1, y2), 1e-6);
  auto g = torch::randn(y1.sizes());
  y1.backward(g), y2.backward(g);
  EXPECT_LT(test::max_abs_diff(x1.grad(), x2.grad()), 1e-6);
  EXPECT_LT(test::max_abs_diff(ref->bias.grad(), quant->bias.grad()), 1e-5);
  // bf16 compute: the weight is dequantized in the input's dtype.
  EXPECT_EQ(quant(torch::randn({2, 64}).to(torch::kBFloat16).to(torch::kFloat32)).scalar_type(), torch::kFloat32);
  // Module::to(dtype) leaves the codes alone.
  quant->to(torch::kBFloat16);
  EXPECT_EQ(dynamic_cast<peft::Nf4WeightImpl*>(quant->weight_source.get())->tensor().codes.scalar_type(), torch::kUInt8);
  EXPECT_EQ(quant(torch::randn({2, 64}).to(torch::kBFloat16)).scalar_type(), torch::kBFloat16);
}

// Trains adapters on a fixed batch; returns the losses.
std::vector<double> train_adapters(CausalLMImpl& m, int steps) {
  peft::LoraConfig cfg;
  cfg.r = 8, cfg.alpha = 16;
  cfg.target_modules = {"all-linear"};
  peft::inject_lora(m, cfg);
  m.train();
  AdamWOptions o;
  o.lr = 1e-2;
  AdamW opt(weight_decay_groups(m, 0.0), o);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(10);
  const auto ids = torch::randint(0, m.config().vocab_size, {4, 32}, gen, torch::kLong);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    auto loss = causal_lm_loss(m.forward(ids), ids);
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

TEST(Nf4, QuantizesWhileLoadingAndQloraLowersTheLossLikeLora) {
  test::ScopedTempDir dir;
  torch::manual_seed(12);
  {
    CausalLM m(ModelConfig::preset("llama-tiny"));
    save_pretrained(*m, dir.path());
  }
  auto full = from_pretrained(dir.path());
  auto q = peft::from_pretrained_nf4(dir.path(), {"all-linear"});
  int64_t quantized = 0;
  for (const auto& kv : q->named_modules()) {
    if (auto* lin = dynamic_cast<nn::LinearImpl*>(kv.value().get())) {
      if (kv.key() == "lm_head") {  // all-linear leaves the output layer in full precision, as PEFT does
        EXPECT_TRUE(lin->weight_source == nullptr);
        EXPECT_GT(lin->weight.numel(), 0);
        continue;
      }
      EXPECT_TRUE(lin->weight_source != nullptr) << kv.key();
      EXPECT_EQ(lin->weight.numel(), 0) << kv.key();
      ++quantized;
    }
  }
  EXPECT_EQ(quantized, 2 * 7);
  // Same function up to NF4's error.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(13);
  const auto ids = torch::randint(0, 65, {2, 16}, gen, torch::kLong);
  const auto a = full(ids), b = q(ids);
  const double rel = ((a - b).norm() / a.norm()).item<double>();
  std::printf("NF4 model logits: relative error %.4f\n", rel);
  EXPECT_LT(rel, 0.15);
  EXPECT_GT(rel, 0.0);
  const auto lora = train_adapters(*full, 25), qlora = train_adapters(*q, 25);
  std::printf("LoRA loss %.4f -> %.4f, QLoRA %.4f -> %.4f\n", lora.front(), lora.back(), qlora.front(), qlora.back());
  EXPECT_LT(lora.back(), lora.front() * 0.8);
  EXPECT_LT(qlora.back(), qlora.front() * 0.8);
  EXPECT_LT(std::abs(qlora.back() - lora.back()), 0.1 * lora.front());
}

TEST(Nf4, LoadingQuantizesOneLayerAtATimeSoPeakMemoryNeverHoldsTheFullModel) {
  // A Llama whose weights are nearly all block Linears (a 65-token vocabulary), saved in bf16.
  test::ScopedTempDir dir;
  ModelConfig c = ModelConfig::preset("llama-tiny");
  c.n_embd = 256, c.n_inner = 1024, c.n_layer = 4, c.n_head = 4, c.n_kv_head = 4;
  {
    CausalLM m(c);
    m->to(torch::kBFloat16);
    save_pretrained(*m, dir.path());
  }
  int64_t linear = 0;
  for (const auto& l : block_linears(c)) linear += l.in * l.out;
  linear *= c.n_layer;
  const double bf16_linears = 2.0 * static_cast<double>(linear);
  memory::track_cpu_allocations();
  const auto cpu = torch::Device(torch::kCPU);
  auto peak_of = [&](const std::function<CausalLM()>& load) {
    memory::reset_peak(cpu);
    const int64_t before = memory::stats(cpu).current_bytes;
    auto m = load();
    return static_cast<double>(memory::stats(cpu).peak_bytes - before);
  };
  const double full = peak_of([&] { return from_pretrained(dir.path()); });
  const double nf4 = peak_of([&] { return peft::from_pretrained_nf4(dir.path(), {"all-linear"}); });
  std::printf("load peak: fp32 %.0f KiB, NF4 %.0f KiB; the block Linears in bf16: %.0f KiB\n", full / 1024,
              nf4 / 1024, bf16_linears / 1024);
  EXPECT_GT(full, 2 * bf16_linears);     // fp32 weights, all alive at once
  EXPECT_LT(nf4, 0.5 * bf16_linears);    // codes + one layer's fp32 copy, never the 16-bit model
}

}  // namespace
}  // namespace volt

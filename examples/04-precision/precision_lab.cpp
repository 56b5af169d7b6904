// Example 04 (Module 4): precision, loss scaling, exact accumulation, schedules and memory —
// each claim of docs/04-precision-and-optimization.md measured on a real model on this machine.
//
//   1. formats: range and precision of FP32, FP16 and BF16;
//   2. why FP16 needs a loss scale: the gradients of BabyGPT on Tiny Shakespeare, bucketed by
//      magnitude; the share FP16 flushes to zero or to a subnormal, unscaled and scaled by S;
//      BF16's share (none: it has FP32's exponent range);
//   3. gradient accumulation on padded, uneven micro-batches: the mean of micro-batch means
//      against the token-weighted sum volt uses, each against one batch holding every row;
//   4. the four learning-rate schedules, plotted to schedules.svg;
//   5. memory: volt memory's estimate against the measured peak, with and without activation
//      checkpointing, and what the recomputation costs in step time;
//   6. speed: FP32 against BF16 matmuls on this CPU (is bf16-mixed worth it here?).
//
//   cmake --build build --target example04_precision -j1
//   ./build/bin/example04_precision                 # ~1 minute on 2 CPU cores
//   ./build/bin/example04_precision --quick         # what ctest runs (~10 s)
//
// Exits 1 if a claim does not hold: scaling does not cut FP16's underflow, the token-weighted
// accumulation differs from one batch by more than 1e-6, or an estimate is off by more than 15%.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "example_data.h"
#include "volt/core/dtype_info.h"
#include "volt/core/memory_stats.h"
#include "volt/core/svg_plot.h"
#include "volt/data/text_datamodule.h"
#include "volt/models/causal_lm.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/memory_estimate.h"
#include "volt/train/throughput.h"

namespace {

constexpr uint64_t kSeed = 1337;
constexpr double kLossScale = 65536.0;  // torch.amp.GradScaler's initial scale, 2^16

// BabyGPT as nanoGPT's CPU Shakespeare run builds it (4 x 128, characters, context 64).
volt::ModelConfig babygpt() {
  volt::ModelConfig c = volt::ModelConfig::preset("babygpt-shakespeare");
  c.vocab_size = 65;
  return c;
}

// --- 1 ---------------------------------------------------------------------------------------
void formats() {
  std::printf("1. Formats: 1 sign bit, e exponent bits, m stored mantissa bits\n");
  std::printf("   %-5s %3s %3s %12s %12s %12s %10s %7s\n", "", "e", "m", "max", "min normal", "min subnorm",
              "epsilon", "digits");
  for (const auto& f : volt::dtype::formats()) {
    std::printf("   %-5s %3d %3d %12.4g %12.4g %12.4g %10.3g %7.2f\n", f.label.c_str(), f.exponent_bits,
                f.mantissa_bits, f.max_finite(), f.min_normal(), f.min_subnormal(), f.epsilon(), f.decimal_digits());
  }
}

// --- 2 ---------------------------------------------------------------------------------------
struct Underflow {
  double zero = 0, subnormal = 0;  // shares of the non-zero fp32 gradient entries
};

Underflow in_fp16(const torch::Tensor& g32) {
  const auto nonzero = g32.ne(0);
  const double n = nonzero.sum().item<double>();
  const auto a = g32.abs();
  const double min_sub = volt::dtype::fp16().min_subnormal(), min_normal = volt::dtype::fp16().min_normal();
  // Round to nearest: below half the smallest subnormal an fp16 value is 0.
  const double zero = (nonzero & a.lt(min_sub / 2)).sum().item<double>();
  const double sub = (a.ge(min_sub / 2) & a.lt(min_normal)).sum().item<double>();
  return {zero / n, sub / n};
}

bool loss_scaling(volt::TextDataModule& data, int64_t steps) {
  std::printf("\n2. Why FP16 needs a loss scale: BabyGPT's gradients after %lld training steps\n",
              static_cast<long long>(steps));
  torch::manual_seed(kSeed);
  volt::CausalLM lm(babygpt());
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-3));
  auto loader = data.train_dataloader();
  torch::Tensor grads;
  for (int64_t s = 0; s <= steps; ++s) {
    const auto b = loader->get(0, s);
    opt.zero_grad();
    volt::causal_lm_loss(lm(b.input_ids), b.labels).backward();
    if (s < steps) opt.step();
  }
  std::vector<torch::Tensor> all;
  for (const auto& p : lm->parameters()) all.push_back(p.grad().reshape({-1}));
  grads = torch::cat(all).to(torch::kFloat64);
  // Where the magnitudes lie: a histogram by power of two.
  const auto nz = grads.abs().masked_select(grads.ne(0));
  const auto e = torch::floor(torch::log2(nz));
  std::printf("   %lld gradient entries; |g| by power of two:\n", static_cast<long long>(grads.numel()));
  std::vector<volt::Bar> bars;
  for (int k = -40; k <= 0; k += 4) {
    const double n = (e.ge(k) & e.lt(k + 4)).sum().item<double>();
    char label[32];
    std::snprintf(label, sizeof label, "2^%d..2^%d", k, k + 4);
    bars.push_back({label, n});
    if (n > 0) std::printf("   %-14s %8.0f\n", label, n);
  }
  volt::write_bar_chart_svg("gradient-magnitudes.svg", bars, "BabyGPT gradient magnitudes", "|g|", "entries");
  const auto plain = in_fp16(grads), scaled = in_fp16(grads * kLossScale);
  std::printf("   in FP16, unscaled:        %6.2f%% become 0, %6.2f%% subnormal (fewer than 11 bits kept)\n",
              100 * plain.zero, 100 * plain.subnormal);
  std::printf("   in FP16, scaled by 2^16:  %6.2f%% become 0, %6.2f%% subnormal\n", 100 * scaled.zero,
              100 * scaled.subnormal);
  const double overflow = grads.abs().mul(kLossScale).gt(volt::dtype::fp16().max_finite()).sum().item<double>();
  std::printf("   scaled entries above FP16's max (65504): %.0f (the scaler backs off when any appear)\n", overflow);
  const double bf16_zero = (grads.ne(0) & grads.abs().lt(volt::dtype::bf16().min_normal())).sum().item<double>();
  std::printf("   in BF16, unscaled:        %6.2f%% below its smallest normal: no scale needed\n",
              100 * bf16_zero / grads.ne(0).sum().item<double>());
  std::printf("   (gradient-magnitudes.svg: the histogram)\n");
  return scaled.zero + scaled.subnormal < plain.zero + plain.subnormal;
}

// --- 3 ---------------------------------------------------------------------------------------
// Rows of random length, right-padded, label -100 on the padding.
volt::Batch padded(const std::vector<int64_t>& lengths, int64_t vocab, torch::Generator& gen) {
  int64_t t = 0;
  for (auto l : lengths) t = std::max(t, l);
  volt::Batch b;
  const auto rows = static_cast<int64_t>(lengths.size());
  b.input_ids = torch::zeros({rows, t}, torch::kLong);
  b.labels = torch::full({rows, t}, -100, torch::kLong);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t l = lengths[static_cast<size_t>(i)];
    b.input_ids[i].narrow(0, 0, l).copy_(torch::randint(0, vocab, {l}, gen, torch::kLong));
    b.labels[i].narrow(0, 0, l).copy_(torch::randint(0, vocab, {l}, gen, torch::kLong));
  }
  return b;
}

torch::Tensor gradient(volt::CausalLM& lm, const std::vector<volt::Batch>& micro, bool token_weighted) {
  lm->zero_grad();
  double total = 0;
  for (const auto& b : micro) total += static_cast<double>(b.num_target_tokens());
  for (const auto& b : micro) {
    const double w = token_weighted ? b.num_target_tokens() / total : 1.0 / static_cast<double>(micro.size());
    (volt::causal_lm_loss(lm(b.input_ids), b.labels) * w).backward();
  }
  std::vector<torch::Tensor> g;
  for (const auto& p : lm->parameters()) g.push_back(p.grad().reshape({-1}).clone());
  return torch::cat(g);
}

bool accumulation() {
  std::printf("\n3. Gradient accumulation on padded micro-batches of uneven length\n");
  torch::manual_seed(kSeed);
  volt::CausalLM lm(babygpt());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(kSeed);
  // Four micro-batches of two rows: 2-64 real tokens a row.
  const std::vector<std::vector<int64_t>> lengths = {{64, 60}, {5, 3}, {30, 12}, {2, 64}};
  std::vector<volt::Batch> micro;
  for (const auto& l : lengths) micro.push_back(padded(l, 65, gen));
  // One batch holding all eight rows (the same ids, padded to the longest).
  volt::Batch one;
  {
    std::vector<torch::Tensor> ids, labels;
    for (const auto& b : micro) {
      const int64_t pad = 64 - b.input_ids.size(1);
      ids.push_back(torch::constant_pad_nd(b.input_ids, {0, pad}, 0));
      labels.push_back(torch::constant_pad_nd(b.labels, {0, pad}, -100));
    }
    one.input_ids = torch::cat(ids), one.labels = torch::cat(labels);
  }
  for (const auto& b : micro) std::printf("   micro-batch: %lld target tokens\n", static_cast<long long>(b.num_target_tokens()));
  const auto reference = gradient(lm, {one}, true);
  const double naive = (gradient(lm, micro, false) - reference).abs().max().item<double>();
  const double exact = (gradient(lm, micro, true) - reference).abs().max().item<double>();
  std::printf("   max |grad - grad of one batch|: mean of micro-batch means %.3g, token-weighted %.3g\n", naive,
              exact);
  return exact < 1e-6 && naive > 1e-4;
}

// --- 4 ---------------------------------------------------------------------------------------
void schedules() {
  std::printf("\n4. Learning-rate schedules (lr 1e-3, 100 warmup steps, 2000 steps, floor 1e-4) -> schedules.svg\n");
  const int64_t total = 2000, warmup = 100;
  const double lr = 1e-3, floor = 1e-4;
  const std::vector<std::pair<std::string, std::shared_ptr<volt::LRScheduler>>> all = {
      {"cosine", std::make_shared<volt::CosineWithWarmup>(warmup, total, floor, lr)},
      {"linear", std::make_shared<volt::LinearWithWarmup>(warmup, total, floor, lr)},
      {"constant", std::make_shared<volt::ConstantLR>(warmup)},
      {"wsd (1-sqrt, last 20%)", std::make_shared<volt::WarmupStableDecay>(warmup, total / 5, total,
                                                                          volt::DecayShape::kOneMinusSqrt, floor, lr)}};
  std::vector<volt::Series> series;
  std::printf("   %-24s %10s %10s %10s %10s\n", "step", "0", "100", "1000", "1900");
  for (const auto& [name, s] : all) {
    volt::Series line{name, {}, {}};
    for (int64_t t = 0; t <= total; t += 10) line.x.push_back(static_cast<double>(t)), line.y.push_back(s->lr_at(t, lr));
    series.push_back(line);
    std::printf("   %-24s %10.2e %10.2e %10.2e %10.2e\n", name.c_str(), s->lr_at(0, lr), s->lr_at(100, lr),
                s->lr_at(1000, lr), s->lr_at(1900, lr));
  }
  volt::write_line_plot_svg("schedules.svg", series, "Learning-rate schedules", "optimizer step", "learning rate");
}

// --- 5 ---------------------------------------------------------------------------------------
bool memory(int64_t batch) {
  std::printf("\n5. Memory: volt memory's estimate against the measured peak (B %lld, T 64)\n",
              static_cast<long long>(batch));
  bool ok = true;
  for (bool checkpointing : {false, true}) {
    volt::MemoryPlan plan;
    plan.model = babygpt();
    plan.micro_batch = batch, plan.seq_len = 64, plan.activation_checkpointing = checkpointing;
    const auto e = volt::estimate_memory(plan);
    const auto t0 = std::chrono::steady_clock::now();
    const double measured = static_cast<double>(volt::measure_training_peak(plan, 5));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("   %-26s activations %7.2f MiB, peak %7.2f MiB estimated, %7.2f MiB measured (%+.1f%%), "
                "5 steps in %.0f ms\n",
                checkpointing ? "activation checkpointing:" : "plain:", e.activations / 1048576.0, e.peak() / 1048576.0,
                measured / 1048576.0, 100 * (e.peak() - measured) / measured, 1000 * seconds);
    ok = ok && std::abs(e.peak() / measured - 1) < 0.15;
  }
  return ok;
}

// --- 6 ---------------------------------------------------------------------------------------
void speed() {
  std::printf("\n6. Matmul speed on this CPU (1024 x 1024 x 1024)\n");
  const torch::Device cpu(torch::kCPU);
  const double f32 = volt::measured_matmul_flops(cpu, torch::kFloat32, 1024, 0.5);
  const double b16 = volt::measured_matmul_flops(cpu, torch::kBFloat16, 1024, 0.5);
  std::printf("   FP32 %.1f GFLOP/s, BF16 %.1f GFLOP/s: bf16-mixed is %s here\n", f32 / 1e9, b16 / 1e9,
              b16 > 1.2 * f32 ? "faster (native BF16 instructions, e.g. AVX512-BF16 or AMX)"
                              : "slower (no native BF16 matmul: every product converts to FP32)");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::printf("usage: %s [--quick]\nPrecision, loss scaling, exact accumulation, schedules and memory, "
                  "measured on BabyGPT (docs/04-precision-and-optimization.md). Writes gradient-magnitudes.svg "
                  "and schedules.svg here.\nData: $VOLT_DATA_DIR, else ../shared/data beside the repository.\n",
                  argv[0]);
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  try {
    torch::set_num_threads(1);
    volt::memory::track_cpu_allocations();
    volt::TextDataOptions o;
    o.path = volt::examples::data_file("corpora/tinyshakespeare/input.txt");
    o.block_size = 64, o.batch_size = 12, o.seed = static_cast<int64_t>(kSeed);
    volt::TextDataModule data(o);
    data.setup("fit");

    formats();
    const bool scaling_helps = loss_scaling(data, quick ? 5 : 200);
    const bool exact = accumulation();
    schedules();
    const bool estimates = memory(quick ? 4 : 12);
    if (!quick) speed();
    if (!scaling_helps || !exact || !estimates) {
      std::printf("\nA claim did not hold: loss scaling %s, exact accumulation %s, memory estimates %s\n",
                  scaling_helps ? "ok" : "FAILED", exact ? "ok" : "FAILED", estimates ? "ok" : "FAILED");
      return 1;
    }
    return 0;
  } catch (const volt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}

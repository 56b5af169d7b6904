// Example 06 (Module 6): Local-LoRA. One random-weight Llama (Llama 2's tokenizer, so 32,000
// tokens), fine-tuned on Tiny Shakespeare three ways at the same batch:
//   full   every weight trains (AdamW: weights + gradients + two moments, all fp32)
//   lora   the base frozen, r = 8 adapters on every Linear of the blocks (PEFT's all-linear)
//   qlora  the same adapters on a base whose block Linears are 4-bit NF4, quantized as they load
// For each: trainable / total parameters (PEFT's print_trainable_parameters), the bytes the
// weights take, the peak of live tensor bytes over the training steps (the counting CPU
// allocator: what CUDA's max_memory_allocated reports on a GPU), step time and the loss.
//
//   cmake --build build --target example06_local_lora
//   ./build/bin/example06_local_lora                       # llama-100m (99.5M), ~5 minutes
//   ./build/bin/example06_local_lora --quick               # llama-tiny, what ctest runs (~20 s)
//   ./build/bin/example06_local_lora --preset llama-100m --steps 20 --batch 4 --seq 256
//
// Exits 1 if an adapter run does not lower the held-out loss, LoRA's peak is not below full
// fine-tuning's, or the NF4 block Linears are not ~3.9x smaller than in bf16.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "example_data.h"
#include "volt/core/memory_stats.h"
#include "volt/io/files.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"
#include "volt/peft/lora.h"
#include "volt/peft/nf4.h"
#include "volt/tokenizers/tokenizer.h"
#include "volt/train/optim.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string preset = "llama-100m";
  int steps = 12, batch = 4, seq = 256;
  int64_t rank = 8;
  std::string work = "local-lora";
};

struct Result {
  std::string mode;
  volt::peft::ParameterCount params;
  int64_t weight_bytes = 0, quantized_bytes = 0, quantized_params = 0, peak_bytes = 0;
  double step_seconds = 0, train_first = 0, train_last = 0, val_before = 0, val_after = 0;
};

double mib(int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

// Tiny Shakespeare through Llama 2's tokenizer: 90% to train, the rest held out.
struct Data {
  torch::Tensor train, val;
  torch::Tensor batch(const torch::Tensor& ids, int b, int t, uint64_t seed) const {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto start = torch::randint(0, ids.size(0) - t - 1, {b}, gen, torch::kLong);
    std::vector<torch::Tensor> rows;
    for (int i = 0; i < b; ++i) rows.push_back(ids.slice(0, start[i].item<int64_t>(), start[i].item<int64_t>() + t + 1));
    return torch::stack(rows);
  }
};

Data load_data(const volt::Tokenizer& tok) {
  const auto text = volt::io::read_file(volt::examples::data_file("corpora/tinyshakespeare/input.txt"));
  const auto ids = tok.encode(text);
  auto all = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong);
  const int64_t n = all.size(0) * 9 / 10;
  return {all.slice(0, 0, n), all.slice(0, n)};
}

double loss_on(volt::CausalLMImpl& m, const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  const bool was = m.is_training();
  m.eval();
  const auto x = rows.slice(1, 0, -1), y = rows.slice(1, 1);
  const double l = volt::causal_lm_loss(m.forward(x), y).item<double>();
  m.train(was);
  return l;
}

int64_t tensor_bytes(torch::nn::Module& m) {
  int64_t b = 0;
  for (const auto& p : m.parameters()) b += static_cast<int64_t>(p.nbytes());
  for (const auto& p : m.buffers()) b += static_cast<int64_t>(p.nbytes());
  return b;
}

Result run(const std::string& mode, const std::string& base, const Data& data, const Options& o) {
  const auto cpu = torch::Device(torch::kCPU);
  volt::memory::reset_peak(cpu);
  const int64_t before = volt::memory::stats(cpu).current_bytes;
  Result r;
  r.mode = mode;
  auto model = mode == "qlora" ? volt::peft::from_pretrained_nf4(base, {"all-linear"}) : volt::from_pretrained(base);
  if (mode != "full") {
    volt::peft::LoraConfig cfg;
    cfg.r = o.rank, cfg.alpha = 2.0 * static_cast<double>(o.rank);
    cfg.target_modules = {"all-linear"};
    volt::peft::inject_lora(*model, cfg);
  }
  for (const auto& kv : model->named_modules()) {
    if (auto* l = dynamic_cast<volt::nn::LinearImpl*>(kv.value().get()); l && l->weight_source) {
      r.quantized_bytes += dynamic_cast<volt::peft::Nf4WeightImpl*>(l->weight_source.get())->tensor().nbytes();
      r.quantized_params += l->in_features * l->out_features;
    }
  }
  r.params = volt::peft::count_parameters(*model);
  r.weight_bytes = tensor_bytes(*model);
  const auto val_rows = data.batch(data.val, 8, o.seq, 99);
  r.val_before = loss_on(*model, val_rows);
  model->train();
  volt::AdamWOptions ao;
  ao.lr = mode == "full" ? 3e-4 : 2e-3;  // adapters take a larger rate, as PEFT recipes do
  volt::AdamW opt(volt::weight_decay_groups(*model, 0.0), ao);
  volt::memory::reset_peak(cpu);
  std::vector<double> times;
  for (int s = 0; s < o.steps; ++s) {
    const auto rows = data.batch(data.train, o.batch, o.seq, 1000 + static_cast<uint64_t>(s));
    const auto t0 = Clock::now();
    opt.zero_grad();
    auto loss = volt::causal_lm_loss(model->forward(rows.slice(1, 0, -1)), rows.slice(1, 1));
    loss.backward();
    opt.step();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    (s == 0 ? r.train_first : r.train_last) = loss.item<double>();
  }
  r.peak_bytes = volt::memory::stats(cpu).peak_bytes - before;
  std::sort(times.begin(), times.end());
  r.step_seconds = times[times.size() / 2];
  r.val_after = loss_on(*model, val_rows);
  std::fflush(stdout);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        VOLT_CHECK(i + 1 < argc, "[example06] ", a, " needs a value");
        return argv[++i];
      };
      if (a == "--quick") {
        o.preset = "llama-tiny", o.steps = 25, o.batch = 4, o.seq = 64;
      } else if (a == "--preset") {
        o.preset = next();
      } else if (a == "--steps") {
        o.steps = std::stoi(next());
      } else if (a == "--batch") {
        o.batch = std::stoi(next());
      } else if (a == "--seq") {
        o.seq = std::stoi(next());
      } else if (a == "--rank") {
        o.rank = std::stoll(next());
      } else if (a == "--help" || a == "-h") {
        std::printf("example06_local_lora [--quick] [--preset NAME] [--steps N] [--batch B] [--seq T] [--rank R]\n");
        return 0;
      } else {
        VOLT_FAIL("[example06] unknown argument ", a, " (see --help)");
      }
    }
    volt::memory::track_cpu_allocations();
    torch::manual_seed(1337);
    const auto tok_path = volt::examples::data_file("tokenizers/llama2/tokenizer.model");
    auto tok = volt::load_tokenizer(tok_path);
    const Data data = load_data(*tok);
    // The "pretrained" base: a random Llama saved in bf16, as checkpoints ship.
    volt::ModelConfig cfg = volt::ModelConfig::preset(o.preset);
    cfg.vocab_size = tok->vocab_size();
    cfg.block_size = std::max<int64_t>(cfg.block_size, o.seq);
    const std::string base = (fs::path(o.work) / (o.preset + "-base")).string();
    {
      volt::CausalLM m(cfg);
      m->to(torch::kBFloat16);
      volt::save_pretrained(*m, base);
    }
    std::printf("Local-LoRA on %s (%s parameters as bf16 in %s), Tiny Shakespeare through Llama 2's tokenizer\n",
                o.preset.c_str(), std::to_string(volt::count_parameters(cfg)).c_str(), base.c_str());
    std::printf("batch %d x %d tokens, %d AdamW steps, r = %lld on all-linear (alpha = 2r)\n\n", o.batch, o.seq,
                o.steps, static_cast<long long>(o.rank));
    std::vector<Result> results;
    for (const char* mode : {"full", "lora", "qlora"}) results.push_back(run(mode, base, data, o));

    std::printf("%-6s %14s %14s %9s %12s %12s %9s %15s %15s\n", "", "trainable", "total", "trainable%",
                "weights MiB", "peak MiB", "step s", "train loss", "held-out loss");
    for (const auto& r : results) {
      std::printf("%-6s %14lld %14lld %9.3f%% %12.1f %12.1f %9.3f %7.3f->%-7.3f %7.3f->%-7.3f\n", r.mode.c_str(),
                  static_cast<long long>(r.params.trainable), static_cast<long long>(r.params.total),
                  100.0 * static_cast<double>(r.params.trainable) / static_cast<double>(r.params.total),
                  mib(r.weight_bytes), mib(r.peak_bytes), r.step_seconds, r.train_first, r.train_last, r.val_before,
                  r.val_after);
    }
    const auto& full = results[0];
    const auto& lora = results[1];
    const auto& qlora = results[2];
    const double bf16_all = 2.0 * static_cast<double>(qlora.params.total - lora.params.trainable);
    const double bf16_linears = 2.0 * static_cast<double>(qlora.quantized_params);
    const double q_ratio = bf16_linears / static_cast<double>(qlora.quantized_bytes);
    // QLoRA's frozen base: NF4 linears + the rest kept at bf16 (embeddings, norms, lm_head).
    const double q_base = static_cast<double>(qlora.quantized_bytes) +
                          2.0 * static_cast<double>(qlora.params.total - lora.params.trainable - qlora.quantized_params);
    std::printf("\nNF4 block Linears: %.2f MiB against %.2f MiB in bf16 (%.2fx smaller, %.3f bits a weight)\n",
                static_cast<double>(qlora.quantized_bytes) / 1048576.0, bf16_linears / 1048576.0, q_ratio,
                8.0 * static_cast<double>(qlora.quantized_bytes) / static_cast<double>(qlora.quantized_params));
    std::printf("QLoRA base (NF4 linears, rest in bf16): %.1f MiB against %.1f MiB for the bf16 model (%.2fx)\n",
                q_base / 1048576.0, bf16_all / 1048576.0, bf16_all / q_base);
    std::printf("LoRA peak / full fine-tuning peak: %.2f; QLoRA peak / full: %.2f\n",
                static_cast<double>(lora.peak_bytes) / static_cast<double>(full.peak_bytes),
                static_cast<double>(qlora.peak_bytes) / static_cast<double>(full.peak_bytes));
    bool ok = true;
    for (const auto& r : {lora, qlora}) {
      if (!(r.val_after < r.val_before)) {
        std::printf("FAIL: %s did not lower the held-out loss\n", r.mode.c_str());
        ok = false;
      }
    }
    if (!(lora.peak_bytes < full.peak_bytes)) std::printf("FAIL: LoRA's peak is not below full fine-tuning's\n"), ok = false;
    if (!(q_ratio > 3.8 && q_ratio < 3.9)) std::printf("FAIL: NF4 linears are %.2fx smaller, not ~3.88x\n", q_ratio), ok = false;
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}

#include "volt/train/throughput.h"

#include <algorithm>

#include "volt/core/check.h"
#ifdef VOLT_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace volt {

double training_flops_per_token(const ModelConfig& c, int64_t seq_len) {
  // 6 N for the matmuls of forward and backward (Kaplan et al.), N the parameters a token runs
  // through: a mixture of experts' active ones, without learned positions (a lookup, no matmul).
  double n = static_cast<double>(count_model_parameters(c).active);
  if (c.learned_positions) n -= static_cast<double>(c.block_size * c.n_embd);
  // Plus attention's scores and mixing, 12 A per key a query sees (A = n_head * head_dim): all
  // T keys, or a sliding layer's window.
  double attention = 0;
  const double a = static_cast<double>(c.n_head * c.head_dim());
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const int64_t keys = c.sliding(l) ? std::min(seq_len, c.sliding_window) : seq_len;
    attention += 12.0 * a * static_cast<double>(keys);
  }
  return 6.0 * n + attention;
}

double measured_matmul_flops(const torch::Device& device, torch::Dtype dtype, int64_t n,
                             double seconds) {
  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().dtype(dtype).device(device);
  const auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  auto c = torch::mm(a, b);  // warm-up: thread pools, kernels, caches
  c.sum().item<float>();
  int64_t runs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds || runs < 2) {
    c = torch::mm(a, b);
    ++runs;
    if (device.is_cuda()) c.sum().item<float>();  // wait for the GPU
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return 2.0 * static_cast<double>(n * n * n) * static_cast<double>(runs) / elapsed;
}

torch::Dtype compute_dtype(const std::string& precision) {
  if (precision.rfind("bf16", 0) == 0) return torch::kBFloat16;
  if (precision == "16-mixed" || precision == "16-true") return torch::kHalf;
  return torch::kFloat32;
}

std::pair<double, std::string> peak_flops(const torch::Device& device, torch::Dtype dtype) {
#ifdef VOLT_CUDA
  if (device.is_cuda()) {
    // Dense (no 2:4 sparsity) Tensor Core peaks from NVIDIA's datasheets, FLOP/s; fp32 is TF32's
    // figure only when TF32 is on, so plain fp32 uses the CUDA-core rate.
    struct Peak {
      const char* name;
      double bf16, fp32;
    };
    static const Peak peaks[] = {{"H200", 989.4e12, 66.9e12},      {"H100 SXM", 989.4e12, 66.9e12},
                                 {"H100 PCIe", 756.0e12, 51.2e12}, {"H100", 989.4e12, 66.9e12},
                                 {"A100", 312.0e12, 19.5e12},      {"L4", 121.0e12, 30.3e12},
                                 {"A10", 125.0e12, 31.2e12}};
    const std::string name = at::cuda::getCurrentDeviceProperties()->name;
    for (const auto& p : peaks) {
      if (name.find(p.name) != std::string::npos) {
        return {dtype == torch::kFloat32 ? p.fp32 : p.bf16,
                std::string("datasheet: NVIDIA ") + p.name};
      }
    }
  }
#endif
  const int64_t n = 1024;
  return {measured_matmul_flops(device, dtype, n), "measured: " + std::to_string(n) + "^3 matmuls"};
}

void StepTimer::on_train_start(Trainer&, LightningModule&) {
  last_ = std::chrono::steady_clock::now();
  seen_ = 0;
  seconds_.clear();
}

void StepTimer::on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor&, const Batch&,
                                   int64_t) {
  const auto now = std::chrono::steady_clock::now();
  if (seen_++ >= warmup_) seconds_.push_back(std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

double StepTimer::median() const {
  if (seconds_.empty()) return 0;
  auto s = seconds_;
  std::sort(s.begin(), s.end());
  const size_t m = s.size() / 2;
  return s.size() % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

}  // namespace volt

// Throughput and model FLOPs utilisation (MFU), as the PaLM paper and nanoGPT's estimate_mfu
// define it: a training step costs 6N FLOPs a token for the weights' matmuls (2N forward, 4N
// backward; N without the position embedding) plus 12 L C T for attention's scores and weighted
// sums (L blocks, width C, context T; the causal mask's skipped half is counted, as PaLM does).
//   MFU = flops_per_token x tokens/s / peak FLOP/s of the device in the compute dtype.
// The peak is the device's datasheet figure where volt knows it (CUDA), else a matmul measured
// on the spot (the CPU): what this machine's BLAS reaches on large square products.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <string>
#include <vector>

#include "volt/models/causal_lm.h"
#include "volt/train/callback.h"

namespace volt {

/// Training FLOPs per token: 6 N + 12 L C T (see above).
double training_flops_per_token(const ModelConfig& cfg, int64_t seq_len);

/// FLOP/s of n x n x n matrix products in `dtype` on `device`, timed over about `seconds`.
double measured_matmul_flops(const torch::Device& device, torch::Dtype dtype, int64_t n = 1024,
                             double seconds = 0.5);

/// A device's peak dense FLOP/s in `dtype` and where the figure comes from ("datasheet: NVIDIA
/// H100 ..." or "measured: 1024^3 matmuls"). CPU: measured_matmul_flops.
std::pair<double, std::string> peak_flops(const torch::Device& device, torch::Dtype dtype);

/// The dtype a precision's matmuls run in (32-true: float32; bf16-*: bfloat16; 16-mixed: half).
torch::Dtype compute_dtype(const std::string& precision);

/// Wall time between consecutive optimizer steps (on_train_batch_end to on_train_batch_end),
/// after the first `warmup` steps: a step's whole cost, data waits and callbacks included.
class StepTimer : public Callback {
 public:
  explicit StepTimer(int64_t warmup) : warmup_(warmup) {}
  std::string name() const override { return "StepTimer"; }
  void on_train_start(Trainer&, LightningModule&) override;
  void on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor&, const Batch&,
                          int64_t) override;
  /// Seconds of each timed step.
  const std::vector<double>& seconds() const { return seconds_; }
  /// Their median (0 when none).
  double median() const;

 private:
  int64_t warmup_, seen_ = 0;
  std::chrono::steady_clock::time_point last_;
  std::vector<double> seconds_;
};

}  // namespace volt

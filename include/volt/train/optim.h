// Optimizers with named parameter groups, so a checkpoint can store their state by parameter
// name and a strategy (DDP, FSDP) can reach the gradients.
//
// AdamW (Loshchilov & Hutter): with g_t the gradient and decoupled weight decay lambda,
//   m_t = b1 m_{t-1} + (1 - b1) g_t,      v_t = b2 v_{t-1} + (1 - b2) g_t^2
//   theta_t = theta_{t-1} - lr * lambda * theta_{t-1}
//             - lr * (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)
// volt's AdamW is "flat": the parameters of a group become views into one contiguous buffer
// (and their gradients into another), so one step is a handful of vectorised ops over the whole
// model instead of ~10 small ops per tensor, and clipping is one norm.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace volt {

struct ParamGroup {
  std::string name;  // "decay" / "no_decay"
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  double lr = 1e-3;
  double initial_lr = 1e-3;  // what schedulers scale
  double weight_decay = 0.0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  /// Zeroes gradients in place (their storage stays, so views and hooks remain valid).
  virtual void zero_grad() = 0;
  /// Gradients of every group, each one contiguous tensor (for clipping and all-reduce).
  virtual std::vector<torch::Tensor> flat_grads() = 0;
  /// Named state tensors ("exp_avg.<param name>", ...) and the step count, for checkpoints.
  virtual std::vector<std::pair<std::string, torch::Tensor>> state_tensors() const = 0;
  virtual void load_state_tensors(const std::map<std::string, torch::Tensor>& state) = 0;
  virtual std::string name() const = 0;
  /// Keeps an fp32 copy of every lower-precision parameter and its state in fp32: each step
  /// updates the copy and writes the rounded result into the parameter (bf16-true's master
  /// weights; without them, updates smaller than half a bf16 ULP of a weight are lost).
  virtual void use_fp32_master_weights();  // default: an error naming the optimizer
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  int64_t step_count() const { return step_count_; }

 protected:
  std::vector<ParamGroup> groups_;
  int64_t step_count_ = 0;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  bool decay_embeddings = false;  // read by weight_decay_groups' callers (see below)
  // One pass over memory: float32 on the CPU through train/adamw_kernel.h; other dtypes and CUDA
  // through LibTorch's fused kernel where it has one (2.4+, core/compat.h); false: tensor ops.
  bool fused = true;
};

class AdamW : public Optimizer {
 public:
  /// Takes ownership of the groups' parameters' storage: call after the module is on its device.
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);
  void step() override;
  void zero_grad() override;
  std::vector<torch::Tensor> flat_grads() override { return flat_grads_; }
  std::vector<std::pair<std::string, torch::Tensor>> state_tensors() const override;
  void load_state_tensors(const std::map<std::string, torch::Tensor>& state) override;
  std::string name() const override { return "AdamW"; }
  void use_fp32_master_weights() override;
  const AdamWOptions& options() const { return options_; }

 private:
  /// One AdamW update of theta (fp32 or not) from grad, with group i's state.
  void update(size_t i, torch::Tensor& theta, const torch::Tensor& grad);

  AdamWOptions options_;
  std::vector<torch::Tensor> flat_params_, flat_grads_, exp_avg_, exp_avg_sq_;
  std::vector<torch::Tensor> denom_;   // scratch of the unfused path, allocated on first use
  std::vector<torch::Tensor> master_;  // fp32 copies of flat_params_ (empty: none)
};

/// Two groups, as GPT-2 recipes use (each group carries its own weight_decay, which AdamW uses
/// instead of AdamWOptions::weight_decay): weight decay on matrices (Linear weights), none on
/// biases, norm weights and embeddings (decaying those hurts and buys nothing). Frozen parameters
/// (requires_grad false) are left out. decay_embeddings: put embedding matrices in the decay group
/// too, as nanoGPT does (every parameter with 2+ dimensions decays there).
std::vector<ParamGroup> weight_decay_groups(torch::nn::Module& module, double weight_decay,
                                            bool decay_embeddings = false);

/// Scales every gradient by min(1, max_norm / ||g||_2) over all of them together; returns ||g||_2.
/// sum_over_ranks: the gradient is split over processes (fsdp) and ||g||^2 is the sum of this
/// function applied to the local part's squared norm (every rank gets the same norm and factor).
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& grads, double max_norm,
                             const std::function<double(double)>& sum_over_ranks = nullptr);

}  // namespace volt

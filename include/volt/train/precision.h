// Precision plugins (Lightning's `precision=`): which dtype the steps compute in, and what happens
// around backward and the optimizer step. The Trainer asks its plugin; nothing else knows.
//   32-true     fp32 weights, fp32 compute.
//   bf16-mixed  fp32 weights and optimizer state; forward passes under bfloat16 autocast (matmuls
//               in bf16, reductions and the loss in fp32). bf16 has fp32's exponent range, so
//               gradients cannot underflow more than in fp32: no loss scaling.
//   16-mixed    as bf16-mixed with float16, whose smallest normal is 6.1e-5: small gradients
//               flush to zero. A dynamic loss scaler multiplies the loss by S before backward
//               (every gradient is then S times larger, clear of the underflow), divides the
//               gradients by S before clipping, skips the step when any of them is inf/nan (S was
//               too large), and adapts S: halve on overflow, double after N clean steps.
//   bf16-true   weights, gradients and compute in bf16; with master_weights the optimizer keeps an
//               fp32 copy of every weight (and fp32 state) and writes the rounded result back.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "volt/core/compat.h"

namespace volt {

class Optimizer;

/// torch.amp.GradScaler's defaults.
struct LossScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // clean steps before the scale grows
};

/// Dynamic loss scaling, as torch.amp.GradScaler does it.
class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});
  /// loss * S.
  torch::Tensor scale(const torch::Tensor& loss) const;
  /// Divides every gradient by S in place; true when all of them are finite afterwards.
  bool unscale(const std::vector<torch::Tensor>& grads) const;
  /// After each optimizer step: on overflow S *= backoff_factor and the clean-step count restarts;
  /// after growth_interval clean steps in a row S *= growth_factor.
  void update(bool found_inf);
  double scale_value() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  const LossScalerOptions& options() const { return options_; }
  void state_dict(nlohmann::json& state) const;
  void load_state_dict(const nlohmann::json& state);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;
};

/// True when every gradient is finite (one fused reduction per tensor, no host sync per element).
bool all_finite(const std::vector<torch::Tensor>& grads);

class PrecisionPlugin {
 public:
  virtual ~PrecisionPlugin() = default;
  virtual std::string name() const = 0;
  /// Before the optimizer is built: bf16-true converts the module's floating-point tensors.
  virtual void convert_module(torch::nn::Module& module) {}
  /// Called with the optimizer configure_optimizers returned (bf16-true: fp32 master weights).
  virtual void connect_optimizer(Optimizer& optimizer) {}
  /// The region that forward passes (training and validation steps) run in; null: none.
  virtual std::unique_ptr<compat::AutocastGuard> forward_context(torch::DeviceType device) const {
    return nullptr;
  }
  /// What backward runs on (16-mixed: loss * S).
  virtual torch::Tensor scale_loss(const torch::Tensor& loss) const { return loss; }
  /// Before clipping and the step: unscale the gradients; false means they are not finite and
  /// this step must be skipped.
  virtual bool unscale_gradients(Optimizer& optimizer) { return true; }
  /// After the step (or the skip).
  virtual void update(bool skipped) {}
  /// The loss scale, when there is one (logged as loss_scale).
  virtual const LossScaler* scaler() const { return nullptr; }
  /// Saved in trainer_state.json for exact resume.
  virtual void state_dict(nlohmann::json& state) const {}
  virtual void load_state_dict(const nlohmann::json& state) {}
};

struct PrecisionOptions {
  bool master_weights = true;  // bf16-true: fp32 master copies in the optimizer
  LossScalerOptions scaler;    // 16-mixed
};

/// "32-true" (or "32"), "bf16-mixed", "16-mixed", "bf16-true" for a device; errors name what is
/// wrong (an unknown name, 16-bit on a CPU whose LibTorch cannot multiply in it).
std::shared_ptr<PrecisionPlugin> make_precision_plugin(const std::string& name, torch::DeviceType device,
                                                       const PrecisionOptions& options = {});

/// The names make_precision_plugin accepts.
const std::vector<std::string>& precision_names();

/// Mixed precision: autocast to a 16-bit dtype, fp32 weights; with a scaler (16-mixed) the loss
/// is scaled and the step skipped on overflow. Public so a program can scale an fp32 run's loss
/// too (what the tests do to inject overflows).
class MixedPrecision : public PrecisionPlugin {
 public:
  /// autocast_dtype: kBFloat16 / kHalf, or nullopt for no autocast (fp32 compute).
  MixedPrecision(std::string name, c10::optional<torch::Dtype> autocast_dtype,
                 std::unique_ptr<LossScaler> scaler);
  std::string name() const override { return name_; }
  std::unique_ptr<compat::AutocastGuard> forward_context(torch::DeviceType device) const override;
  torch::Tensor scale_loss(const torch::Tensor& loss) const override;
  bool unscale_gradients(Optimizer& optimizer) override;
  void update(bool skipped) override;
  const LossScaler* scaler() const override { return scaler_.get(); }
  void state_dict(nlohmann::json& state) const override;
  void load_state_dict(const nlohmann::json& state) override;

 private:
  std::string name_;
  c10::optional<torch::Dtype> dtype_;
  std::unique_ptr<LossScaler> scaler_;
};

}  // namespace volt

#include "volt/train/precision.h"

#include <cmath>

#include "volt/core/check.h"
#include "volt/train/optim.h"

namespace volt {

LossScaler::LossScaler(LossScalerOptions o) : options_(o), scale_(o.init_scale) {
  VOLT_CHECK(o.init_scale > 0 && std::isfinite(o.init_scale), "[precision] loss scaler init_scale must be a "
             "positive number, got ", o.init_scale);
  VOLT_CHECK(o.growth_factor > 1, "[precision] loss scaler growth_factor must be > 1, got ", o.growth_factor);
  VOLT_CHECK(o.backoff_factor > 0 && o.backoff_factor < 1, "[precision] loss scaler backoff_factor must lie in "
             "(0, 1), got ", o.backoff_factor);
  VOLT_CHECK(o.growth_interval >= 1, "[precision] loss scaler growth_interval must be >= 1, got ",
             o.growth_interval);
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const { return loss * scale_; }

bool all_finite(const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  // One flag tensor accumulated on the device, read once: a single host sync per step.
  torch::Tensor bad;
  for (const auto& g : grads) {
    if (!g.defined()) continue;
    auto b = g.isfinite().logical_not().any();
    bad = bad.defined() ? bad.logical_or(b) : b;
  }
  return !bad.defined() || !bad.item<bool>();
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& grads) const {
  torch::NoGradGuard no_grad;
  const double inv = 1.0 / scale_;
  for (const auto& g : grads) {
    if (g.defined()) g.mul_(inv);
  }
  return all_finite(grads);
}

void LossScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ >= options_.growth_interval) {
    // Growing past fp32's range would make every later step overflow.
    if (std::isfinite(scale_ * options_.growth_factor)) scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
}

void LossScaler::state_dict(nlohmann::json& state) const {
  state["scale"] = scale_;
  state["growth_tracker"] = growth_tracker_;
}

void LossScaler::load_state_dict(const nlohmann::json& state) {
  try {
    scale_ = state.at("scale").get<double>();
    growth_tracker_ = state.at("growth_tracker").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[precision] loss scaler state: ", e.what());
  }
}

MixedPrecision::MixedPrecision(std::string name, c10::optional<torch::Dtype> dtype,
                               std::unique_ptr<LossScaler> scaler)
    : name_(std::move(name)), dtype_(dtype), scaler_(std::move(scaler)) {}

std::unique_ptr<compat::AutocastGuard> MixedPrecision::forward_context(torch::DeviceType device) const {
  if (!dtype_) return nullptr;
  return std::make_unique<compat::AutocastGuard>(device, *dtype_);
}

torch::Tensor MixedPrecision::scale_loss(const torch::Tensor& loss) const {
  return scaler_ ? scaler_->scale(loss) : loss;
}

bool MixedPrecision::unscale_gradients(Optimizer& optimizer) {
  return scaler_ ? scaler_->unscale(optimizer.flat_grads()) : true;
}

void MixedPrecision::update(bool skipped) {
  if (scaler_) scaler_->update(skipped);
}

void MixedPrecision::state_dict(nlohmann::json& state) const {
  if (scaler_) scaler_->state_dict(state["scaler"]);
}

void MixedPrecision::load_state_dict(const nlohmann::json& state) {
  if (scaler_ && state.contains("scaler")) scaler_->load_state_dict(state["scaler"]);
}

namespace {

class TruePrecision : public PrecisionPlugin {
 public:
  TruePrecision(std::string name, torch::Dtype dtype, bool master_weights)
      : name_(std::move(name)), dtype_(dtype), master_weights_(master_weights) {}
  std::string name() const override { return name_; }
  void convert_module(torch::nn::Module& m) override {
    if (dtype_ != torch::kFloat32) m.to(dtype_);
  }
  void connect_optimizer(Optimizer& optimizer) override {
    if (dtype_ != torch::kFloat32 && master_weights_) optimizer.use_fp32_master_weights();
  }

 private:
  std::string name_;
  torch::Dtype dtype_;
  bool master_weights_;
};

void check_16bit_matmul(const std::string& name, torch::DeviceType device, torch::Dtype dtype) {
  if (device != torch::kCPU || compat::cpu_matmul_supports(dtype)) return;
  VOLT_FAIL("[trainer] precision '", name, "': this LibTorch (", TORCH_VERSION, ") cannot multiply ",
            dtype == torch::kHalf ? "float16" : "bfloat16", " matrices on the CPU. HINT: on the CPU use ",
            dtype == torch::kHalf ? "bf16-mixed (no loss scaling needed)" : "32-true",
            "; 16-mixed is for CUDA devices");
}

}  // namespace

const std::vector<std::string>& precision_names() {
  static const std::vector<std::string> names = {"32-true", "bf16-mixed", "16-mixed", "bf16-true"};
  return names;
}

std::shared_ptr<PrecisionPlugin> make_precision_plugin(const std::string& name, torch::DeviceType device,
                                                       const PrecisionOptions& o) {
  if (name == "32-true" || name == "32") return std::make_shared<TruePrecision>("32-true", torch::kFloat32, false);
  if (name == "bf16-mixed") return std::make_shared<MixedPrecision>(name, torch::kBFloat16, nullptr);
  if (name == "16-mixed") {
    check_16bit_matmul(name, device, torch::kHalf);
    return std::make_shared<MixedPrecision>(name, torch::kHalf, std::make_unique<LossScaler>(o.scaler));
  }
  if (name == "bf16-true") {
    check_16bit_matmul(name, device, torch::kBFloat16);
    return std::make_shared<TruePrecision>(name, torch::kBFloat16, o.master_weights);
  }
  std::string known;
  for (const auto& n : precision_names()) known += (known.empty() ? "" : ", ") + n;
  VOLT_FAIL("[trainer] precision '", name, "' is not supported (", known, ")");
}

}  // namespace volt

#include "volt/train/lightning_module.h"

#include <filesystem>
#include <set>

#include "volt/core/check.h"
#include "volt/io/safetensors.h"

namespace volt {

void LightningModule::log(const std::string& name, const torch::Tensor& value,
                          const LogOptions& options) {
  if (sink_) sink_(name, value.detach(), options);
}

void LightningModule::log(const std::string& name, double value, const LogOptions& options) {
  log(name, torch::tensor(value, torch::kFloat64), options);
}

std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters(torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  std::set<const void*> seen;
  for (const auto& kv : m.named_parameters()) {
    if (seen.insert(kv.value().unsafeGetTensorImpl()).second)
      out.emplace_back(kv.key(), kv.value());
  }
  return out;
}

void LightningModule::test_step(const Batch&, int64_t) {
  VOLT_FAIL("[trainer] this LightningModule has no test_step");
}

torch::Tensor LightningModule::predict_step(const Batch&, int64_t) {
  VOLT_FAIL("[trainer] this LightningModule has no predict_step");
}

void LightningModule::save_pretrained(const std::string& dir) const {
  auto* self = const_cast<LightningModule*>(this);  // named_parameters() is not const
  io::save_safetensors((std::filesystem::path(dir) / "model.safetensors").string(),
                       unique_named_parameters(*self));
}

void LightningModule::load_pretrained_weights(const std::string& dir) {
  const auto path = (std::filesystem::path(dir) / "model.safetensors").string();
  io::SafetensorsFile file(path);
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : unique_named_parameters(*this)) {
    VOLT_CHECK(file.contains(name), "[checkpoint] ", path, ": missing tensor '", name, "'");
    auto t = file.view(name);
    VOLT_CHECK(t.sizes() == p.sizes(), "[checkpoint] ", path, ": tensor '", name, "' has shape ",
               t.sizes(), ", the model expects ", p.sizes());
    p.copy_(t);
  }
}

}  // namespace volt

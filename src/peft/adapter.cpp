#include "volt/peft/adapter.h"

#include <filesystem>
#include <map>
#include <set>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"
#include "volt/peft/nf4.h"

namespace volt::peft {

namespace fs = std::filesystem;

namespace {

const char* kPrefix = "base_model.model.";

// (PEFT key, our tensor) for every adapter tensor of the model.
std::vector<std::pair<std::string, torch::Tensor>> adapter_tensors(CausalLMImpl& model,
                                                                   const LoraConfig& cfg) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  std::set<std::string> adapted;
  for (auto& [name, l] : lora_layers(model)) {
    adapted.insert(name);
    auto* d = dynamic_cast<LoraDelta*>(l->delta.get());
    out.emplace_back(kPrefix + name + ".lora_A.weight", d->A->weight);
    out.emplace_back(kPrefix + name + ".lora_B.weight", d->B->weight);
  }
  if (cfg.bias != "none") {  // PEFT saves the biases that trained
    for (auto& kv : model.named_parameters()) {
      const std::string& n = kv.key();
      if (n.size() < 5 || n.compare(n.size() - 5, 5, ".bias") != 0 || !kv.value().requires_grad())
        continue;
      if (cfg.bias == "lora_only" && !adapted.count(n.substr(0, n.size() - 5))) continue;
      out.emplace_back(kPrefix + n, kv.value());
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> adapter_state_dict(CausalLMImpl& model,
                                                                      const LoraConfig& cfg) {
  auto t = adapter_tensors(model, cfg);
  VOLT_CHECK(!t.empty(), "[peft] the model has no LoRA adapters to save");
  for (auto& [k, v] : t) v = v.detach().to(torch::kCPU).contiguous();
  return t;
}

void save_adapter(CausalLMImpl& model, const LoraConfig& cfg, const std::string& dir) {
  fs::create_directories(dir);
  io::save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(),
                       adapter_state_dict(model, cfg), {{"format", "pt"}});
  io::write_json((fs::path(dir) / "adapter_config.json").string(), cfg.to_peft_json());
}

LoraConfig read_adapter_config(const std::string& dir) {
  const auto path = (fs::path(dir) / "adapter_config.json").string();
  VOLT_CHECK(fs::exists(path), "[peft] ", dir,
             ": no adapter_config.json (not a PEFT adapter directory)");
  return LoraConfig::from_peft_json(io::read_json(path), path);
}

void load_adapter_weights(CausalLMImpl& model, const std::string& dir) {
  const auto path = (fs::path(dir) / "adapter_model.safetensors").string();
  VOLT_CHECK(fs::exists(path), "[peft] ", dir, ": no adapter_model.safetensors");
  io::SafetensorsFile file(path);
  const auto cfg = read_adapter_config(dir);
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& [key, param] : adapter_tensors(model, cfg)) {
    VOLT_CHECK(file.contains(key), "[peft] ", path, ": missing tensor '", key, "'");
    const auto& info = file.info(key);
    VOLT_CHECK(info.shape == param.sizes().vec(), "[peft] ", path, ": tensor '", key,
               "' has shape ", c10::IntArrayRef(info.shape), ", the model's adapter expects ",
               param.sizes());
    param.copy_(file.view(key));
    used.insert(key);
  }
  for (const auto& n : file.names()) {
    VOLT_CHECK(used.count(n), "[peft] ", path, ": unexpected tensor '", n,
               "' (not an adapter of this model with this adapter_config.json)");
  }
}

LoraConfig load_adapter(CausalLMImpl& model, const std::string& dir) {
  auto cfg = read_adapter_config(dir);
  inject_lora(model, cfg);
  load_adapter_weights(model, dir);
  return cfg;
}

void load_pretrained_nf4(CausalLMImpl& model, const std::string& dir,
                         const std::vector<std::string>& targets) {
  int64_t quantized = 0;
  load_hf_safetensors(model, pretrained_weight_files(dir),
                      [&](const std::string& name, nn::LinearImpl& layer, const torch::Tensor& w) {
                        if (is_target(name, targets)) {
                          quantize_linear_nf4(layer, w);
                          ++quantized;
                        } else {
                          layer.materialize();
                          torch::NoGradGuard no_grad;
                          layer.weight.copy_(w);
                        }
                      });
  VOLT_CHECK(quantized > 0, "[nf4] ", dir, ": no Linear layer matches the targets to quantize");
}

CausalLM from_pretrained_nf4(const std::string& dir, const std::vector<std::string>& targets) {
  CausalLM model{nullptr};
  {
    nn::DeferLinearWeights defer;
    model = CausalLM(load_model_config(dir));
  }
  load_pretrained_nf4(*model, dir, targets);
  model->eval();
  return model;
}

}  // namespace volt::peft

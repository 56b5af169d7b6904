// LoRA (Hu et al. 2021), as Hugging Face PEFT does it: for each targeted Linear,
//   y = W0 x + b + (alpha / r) B A dropout(x),   A (r, in) Kaiming-uniform(a = sqrt 5), B (out, r)
//   = 0,
// so the model is unchanged at step 0; W0 (and every other base weight) is frozen. rsLoRA scales
// by alpha / sqrt(r) instead. A and B are modules registered on the Linear as "lora_A" and
// "lora_B", so parameter names are PEFT's: model.layers.0.self_attn.q_proj.lora_A.weight.
// merge: W0 += (alpha / r) B A (inference at no extra cost); unmerge subtracts it again.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volt/nn/linear.h"

namespace volt::peft {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16.0;  // PEFT's lora_alpha
  double dropout = 0.0;
  /// Linear names (a name matches when it equals a target or ends with "." + target), or
  /// {"all-linear"}: every Linear inside the transformer blocks (not the output layer).
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  bool use_rslora = false;
  std::string bias = "none";  // none | all | lora_only: which biases train
  std::string base_model_name_or_path;

  double scaling() const;
  /// Checks r, alpha, dropout and bias; throws volt::Error naming the bad field, after `where`.
  void validate(const std::string& where = "[lora]") const;
  /// PEFT's adapter_config.json.
  nlohmann::json to_peft_json() const;
  static LoraConfig from_peft_json(const nlohmann::json& j, const std::string& source);
};

/// One adapter: what a targeted Linear adds to its output.
struct LoraDelta : nn::LinearImpl::Delta {
  LoraDelta(torch::nn::Linear a, torch::nn::Linear b, double scaling, double dropout)
      : A(a), B(b), scaling(scaling), p(dropout) {}
  torch::Tensor operator()(const torch::Tensor& x) override;
  /// (alpha / r) B A, (out, in), in dtype.
  torch::Tensor delta_weight(torch::ScalarType dtype) const;
  torch::nn::Linear A, B;
  double scaling, p;
  bool merged = false;
};

/// Whether a module name is targeted (see LoraConfig::target_modules); "all-linear" is every Linear
/// but the output layer (lm_head), as in PEFT.
bool is_target(const std::string& module_name, const std::vector<std::string>& targets);

/// Adds adapters to every targeted nn::Linear of the model and freezes every other parameter
/// (biases stay trainable under bias: all / lora_only). Returns the adapted modules' names.
/// A target that matches nothing is an error listing the Linear names there are.
std::vector<std::string> inject_lora(torch::nn::Module& model, const LoraConfig& cfg);
/// The adapted Linears (name, layer), in registration order.
std::vector<std::pair<std::string, nn::LinearImpl*>> lora_layers(torch::nn::Module& model);

/// W0 += (alpha / r) B A for every adapter (the adapters then add nothing). Quantized weights are
/// not merged into (use merge_and_unload, which dequantizes).
void merge_lora(torch::nn::Module& model);
/// W0 -= (alpha / r) B A: back to the unmerged model.
void unmerge_lora(torch::nn::Module& model);
/// Merges and removes the adapters (and dequantizes NF4 weights to fp32): a plain model again.
void merge_and_unload(torch::nn::Module& model);

struct ParameterCount {
  int64_t trainable = 0, total = 0;
};
/// PEFT's print_trainable_parameters: trainable and total parameters, a quantized weight counted
/// by its logical size.
ParameterCount count_parameters(torch::nn::Module& model);

}  // namespace volt::peft

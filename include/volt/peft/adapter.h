// LoRA adapters on disk, as Hugging Face PEFT writes them, so PEFT loads ours and we load PEFT's:
//   adapter_config.json        peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, lora_dropout,
//                              target_modules, bias, use_rslora, base_model_name_or_path
//   adapter_model.safetensors  base_model.model.<HF name of the Linear>.lora_A.weight (r, in) and
//                              .lora_B.weight (out, r) (+ .bias with bias: all / lora_only)
// and QLoRA's loading: a model whose targeted Linear weights become NF4 as they are read.
#pragma once

#include <string>
#include <vector>

#include "volt/models/causal_lm.h"
#include "volt/peft/lora.h"

namespace volt::peft {

/// The adapter tensors of an injected model under PEFT's names (CPU, contiguous).
std::vector<std::pair<std::string, torch::Tensor>> adapter_state_dict(CausalLMImpl& model, const LoraConfig& cfg);
/// Writes adapter_config.json and adapter_model.safetensors into dir (created if needed).
void save_adapter(CausalLMImpl& model, const LoraConfig& cfg, const std::string& dir);
/// Reads dir/adapter_config.json.
LoraConfig read_adapter_config(const std::string& dir);
/// Copies dir/adapter_model.safetensors into the model's adapters (already injected with the same
/// config). A missing, unexpected or mis-shaped tensor is an error naming it.
void load_adapter_weights(CausalLMImpl& model, const std::string& dir);
/// read_adapter_config + inject_lora + load_adapter_weights.
LoraConfig load_adapter(CausalLMImpl& model, const std::string& dir);

/// from_pretrained with the Linear layers named by `targets` (is_target; {"all-linear"}: all)
/// stored as NF4: each weight is quantized as it is read from the memory-mapped file, so peak
/// memory holds one 16/32-bit weight at a time, never the model.
CausalLM from_pretrained_nf4(const std::string& dir, const std::vector<std::string>& targets);
/// Loads weights into a model built under nn::DeferLinearWeights, quantizing the targeted Linears.
void load_pretrained_nf4(CausalLMImpl& model, const std::string& dir, const std::vector<std::string>& targets);

}  // namespace volt::peft

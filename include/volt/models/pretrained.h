// Hugging Face model directories: config.json + model.safetensors in the GPT2LMHeadModel layout
// (`transformer.h.0.attn.c_attn.weight`, Conv1D weights stored as (in, out)), which transformers
// loads as it is. Reading also accepts the GPT2Model layout (no `transformer.` prefix).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "volt/models/causal_lm.h"

namespace volt {

/// The model's tensors under their Hugging Face names and layouts (CPU, contiguous).
std::vector<std::pair<std::string, torch::Tensor>> to_hf_state_dict(const CausalLMImpl& model);
/// Copies a Hugging Face safetensors file into the model. Every missing, unexpected or
/// mis-shaped tensor is an error naming it.
void load_hf_safetensors(CausalLMImpl& model, const std::string& path);

/// Writes config.json and model.safetensors into dir (created if needed).
void save_pretrained(const CausalLMImpl& model, const std::string& dir);
/// Builds the model from dir/config.json and loads dir/model.safetensors.
CausalLM from_pretrained(const std::string& dir);
/// Reads dir/config.json.
ModelConfig load_model_config(const std::string& dir);

}  // namespace volt

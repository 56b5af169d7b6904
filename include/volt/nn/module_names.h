// The names of an attention layer's and an MLP's projections: Hugging Face's for the family, so
// that state dicts, LoRA targets and PEFT adapters carry transformers' names (GPT-2: c_attn /
// c_proj, c_fc / c_proj; Llama: q_proj .. o_proj, gate_proj / up_proj / down_proj; Phi-3:
// qkv_proj, gate_up_proj; Mixtral's experts: w1 / w3 / w2). Plain strings: no LibTorch here, so
// the config layer stays light.
#pragma once

#include <string>

namespace volt::nn {

struct AttentionNames {
  std::string q = "q_proj", k = "k_proj", v = "v_proj", qkv = "qkv_proj", out = "o_proj";
  std::string q_norm = "q_norm", k_norm = "k_norm";
};

struct MLPNames {
  std::string fc = "c_fc", proj = "c_proj";  // plain
  std::string gate = "gate_proj", up = "up_proj", down = "down_proj",
              gate_up = "gate_up_proj";  // gated
};

}  // namespace volt::nn

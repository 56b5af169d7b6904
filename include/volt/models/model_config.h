// One ModelConfig for every decoder family (litgpt's Config): each difference between GPT-2,
// Llama, Mistral, Qwen, Gemma, Phi and the mixtures of experts is a value, and one CausalLM is
// built from the values. A new family is a mapping from its config.json and tensor names plus
// the values that differ (models/hf_config.cpp, the only place that knows family names).
//   gpt2     LayerNorm, learned positions, fused c_attn (Conv1D layout), GELU MLP, tied
//   llama    RMSNorm, RoPE (llama3 scaling in 3.1), grouped-query attention, SwiGLU
//   mistral  llama + a sliding window
//   qwen2    llama + q/k/v biases;  qwen3: per-head QK-norm, explicit head_dim
//   gemma2/3 (1 + w) RMSNorm before and after each branch, sqrt(C) embedding scale, GeGLU,
//            query_pre_attn_scalar, local/global layers (own RoPE base in Gemma 3), soft-caps
//   phi3     fused qkv_proj and gate_up_proj, partial rotary
//   mixtral, qwen3_moe: a sparse MoE MLP (router + top-k experts)
// Derived fields are filled and checked in one place (validate()). No LibTorch here: the config
// layer is also what the config.json fuzzer runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "volt/nn/module_names.h"

namespace volt {

/// The module names of one family's checkpoints (transformers'), so that a state dict, LoRA
/// targets and PEFT adapters carry Hugging Face's names. Names are values: the math never reads
/// them.
struct ModuleNames {
  std::string body = "model";  // "transformer" for GPT-2
  std::string embed = "embed_tokens", pos_embed = "wpe", layers = "layers", final_norm = "norm";
  std::string attn = "self_attn", mlp = "mlp";
  std::string norm_attn_in = "input_layernorm", norm_attn_out = "post_attention_layernorm";
  std::string norm_mlp_in = "post_attention_layernorm", norm_mlp_out = "post_feedforward_layernorm";
  nn::AttentionNames attention;
  nn::MLPNames mlp_proj;
  std::string router = "gate", experts = "experts";
  nn::MLPNames expert;  // Mixtral: w1 (gate), w3 (up), w2 (down)
  /// GPT-2's Conv1D: every Linear weight stored (in, out) on disk.
  bool conv1d = false;
  /// GPT-2's checkpoints always have biases: a bias-free model writes zeros (and reads them back).
  bool zero_biases_on_disk = false;
};

struct RopeScaling {
  /// "" (none), "llama3" (Llama 3.1's frequency-dependent scaling), "linear" (position
  /// interpolation, Gemma 3's global layers) or "longrope" (Phi-3.5: per-frequency factors, short
  /// up to original_max_position_embeddings and long beyond, and cos, sin scaled by
  /// attention_factor).
  std::string type;
  double factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  std::vector<double> short_factor, long_factor;  // longrope: one per rotated frequency
  double attention_factor = 0;  // longrope; 0: sqrt(1 + ln(factor) / ln(original))
};

struct ModelConfig {
  /// Hugging Face's model_type and architecture: read and written by hf_config.cpp, never in math.
  std::string model_type = "gpt2";

  // Sizes.
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_kv_head = 0;  // key/value heads (grouped-query attention); 0: n_head
  int64_t n_embd = 768;
  int64_t head_dim_override = 0;  // HF head_dim when it is not n_embd / n_head; 0: derived
  int64_t block_size = 1024;      // the context length
  int64_t vocab_size = 50257;
  int64_t n_inner = 0;  // MLP width; 0: 4 * n_embd

  // Embeddings and positions.
  bool learned_positions = true;      // GPT-2's wpe; else RoPE
  double embedding_multiplier = 1.0;  // Gemma: sqrt(n_embd), rounded to the activations' dtype

  // Norms.
  std::string norm = "layernorm";  // "layernorm" | "rmsnorm"
  bool norm_unit_offset = false;   // Gemma: y = x_hat * (1 + w)
  bool norm_bias = true;           // LayerNorm's bias (nanoGPT's bias switch)
  double layer_norm_eps = 1e-5;
  bool post_attention_norm =
      false;  // Gemma 2/3: a norm on the attention's output before the residual add
  bool post_mlp_norm = false;  // ... and on the MLP's
  bool qk_norm = false;        // Qwen3, Gemma 3: RMSNorm over each head of q and k

  // Attention.
  bool qkv_bias = true;              // biases of q, k, v (GPT-2, Qwen2: true; Llama: false)
  bool attn_out_bias = true;         // bias of the output projection (Qwen2: false)
  bool fused_qkv = true;             // one projection (GPT-2's c_attn, Phi-3's qkv_proj)
  double query_pre_attn_scalar = 0;  // Gemma: scores scaled by its -1/2 power; 0: head_dim's
  double attn_softcap = 0;           // Gemma 2: scores = c tanh(scores / c); 0: none
  int64_t sliding_window = 0;        // tokens a sliding layer sees, itself included; 0: none
  /// Per layer, "full_attention" or "sliding_attention" (Gemma's local / global pattern). Empty:
  /// every layer sliding when sliding_window > 0 (Mistral), else full.
  std::vector<std::string> layer_types;
  double rope_theta = 10000.0;     // RoPE base (of full-attention layers)
  double rope_local_theta = 0;     // Gemma 3's base of sliding layers; 0: rope_theta
  RopeScaling rope_scaling;        // of full-attention layers
  RopeScaling rope_local_scaling;  // of sliding layers with their own base
                                   // (rope_parameters.sliding_attention)
  double rotary_fraction = 1.0;    // partial rotary: the share of each head's channels that rotate

  // MLP.
  bool gated_mlp = false;               // SwiGLU / GeGLU (else GPT-2's plain MLP)
  bool fused_gate_up = false;           // Phi-3's gate_up_proj
  std::string activation = "gelu_new";  // HF names: gelu, gelu_new, gelu_pytorch_tanh, silu
  bool mlp_bias = true;

  // Mixture of experts (n_experts > 0).
  int64_t n_experts = 0, n_experts_per_tok = 2;
  int64_t moe_inner = 0;  // each expert's width; 0: n_inner
  bool norm_topk_prob = true;
  double router_aux_loss_coef = 0.0;
  int64_t decoder_sparse_step = 1;  // Qwen3-MoE: layer i is sparse when (i + 1) % step == 0 ...
  std::vector<int64_t> mlp_only_layers;  // ... and i is not listed here

  // Head.
  bool tie_word_embeddings = true;  // lm_head shares the token embedding's weight
  double final_softcap = 0;         // Gemma 2: logits = c tanh(logits / c); 0: none

  double dropout = 0.0;  // one rate for embeddings, attention and residuals
  double initializer_range = 0.02;
  /// Residual projections drawn with std / sqrt(2 n_layer) (GPT-2's init).
  bool scale_residual_init = true;
  // The special ids config.json and generation_config.json carry (the tokenizer's; none: null).
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;   // one, or several (Llama 3.1 ends turns on 3 ids)
  std::string torch_dtype = "float32";  // the weights' dtype on disk, as config.json says it
  ModuleNames names;                    // transformers' tensor names for this family

  /// nanoGPT's one bias switch (a recipe's model.bias): LayerNorm, attention and MLP biases.
  void set_bias(bool on) { norm_bias = qkv_bias = attn_out_bias = mlp_bias = on; }

  // Derived.
  int64_t head_dim() const { return head_dim_override > 0 ? head_dim_override : n_embd / n_head; }
  int64_t kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  int64_t mlp_width() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  int64_t expert_width() const { return moe_inner > 0 ? moe_inner : mlp_width(); }
  int64_t rotary_dim() const;
  bool sliding(int64_t layer) const;
  bool moe_layer(int64_t layer) const;
  /// Throws volt::Error naming the first inconsistent field.
  void validate() const;

  /// A named preset: the real sizes of published models (gpt2 .. gpt2-xl, llama-2-7b, llama-3-8b,
  /// llama-3.1-8b/70b, llama-3.2-1b/3b, mistral-7b-v0.1, qwen2.5-0.5b .. 7b, qwen3-0.6b .. 32b,
  /// qwen3-30b-a3b, gemma-2-2b/9b, gemma-3-1b .. 27b, phi-3-mini, phi-3.5-mini, mixtral-8x7b) and
  /// volt's small ones (babygpt-*, llama-tiny, llama-100m, ...).
  static ModelConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();

  /// Hugging Face config.json (models/hf_config.cpp).
  nlohmann::json to_hf_json() const;
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& source);
  /// generation_config.json: the special ids (what transformers' generate stops on).
  nlohmann::json generation_config_json() const;
};

}  // namespace volt

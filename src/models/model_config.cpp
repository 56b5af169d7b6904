#include "volt/models/model_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>

#include "volt/core/check.h"
#include "volt/core/nearest_key.h"

namespace volt {

int64_t ModelConfig::rotary_dim() const {
  if (learned_positions) return 0;
  // transformers: int(head_dim * partial_rotary_factor), rounded down to whole pairs.
  const auto d = static_cast<int64_t>(static_cast<double>(head_dim()) * rotary_fraction);
  return d - d % 2;
}

bool ModelConfig::sliding(int64_t layer) const {
  if (sliding_window <= 0) return false;
  if (layer_types.empty()) return true;  // Mistral: every layer
  return layer_types.at(static_cast<size_t>(layer)) == "sliding_attention";
}

bool ModelConfig::moe_layer(int64_t layer) const {
  if (n_experts <= 0) return false;
  if (std::find(mlp_only_layers.begin(), mlp_only_layers.end(), layer) != mlp_only_layers.end())
    return false;
  return (layer + 1) % decoder_sparse_step == 0;
}

void ModelConfig::validate() const {
  VOLT_CHECK(n_layer > 0, "[model] n_layer must be positive, got ", n_layer);
  VOLT_CHECK(n_head > 0, "[model] n_head must be positive, got ", n_head);
  VOLT_CHECK(n_embd > 0 && (head_dim_override > 0 || n_embd % n_head == 0), "[model] n_embd (",
             n_embd, ") must be a positive multiple of n_head (", n_head, ")");
  VOLT_CHECK(block_size > 0, "[model] block_size must be positive, got ", block_size);
  VOLT_CHECK(vocab_size > 0, "[model] vocab_size must be positive, got ", vocab_size);
  VOLT_CHECK(dropout >= 0.0 && dropout < 1.0, "[model] dropout must be in [0, 1), got ", dropout);
  // Far beyond any real model (Llama-3-405B: 16384 wide, MLP 53248, 126 layers), and small enough
  // that every parameter count and tensor size below is exact in 64 bits.
  constexpr int64_t kMaxWidth = int64_t{1} << 20, kMaxLength = int64_t{1} << 24, kMaxLayers = 4096;
  VOLT_CHECK(n_layer <= kMaxLayers, "[model] n_layer ", n_layer, " exceeds ", kMaxLayers);
  VOLT_CHECK(n_embd <= kMaxWidth && mlp_width() > 0 && mlp_width() <= kMaxWidth &&
                 n_head <= kMaxWidth && head_dim() > 0 && head_dim() <= kMaxWidth &&
                 n_head * head_dim() <= kMaxWidth,
             "[model] widths beyond ", kMaxWidth, ": n_embd ", n_embd, ", MLP ", mlp_width(),
             ", n_head ", n_head, ", head_dim ", head_dim());
  VOLT_CHECK(vocab_size <= kMaxLength && block_size <= kMaxLength, "[model] vocab_size ",
             vocab_size, " or block_size ", block_size, " exceeds ", kMaxLength);
  auto check_id = [&](const char* what, int64_t id) {
    VOLT_CHECK(id >= 0 && id < vocab_size, "[model] ", what, " ", id,
               " is outside the vocabulary (size ", vocab_size, ")");
  };
  if (bos_token_id) check_id("bos_token_id", *bos_token_id);
  if (pad_token_id) check_id("pad_token_id", *pad_token_id);
  for (auto e : eos_token_ids) check_id("eos_token_id", e);

  VOLT_CHECK(norm == "layernorm" || norm == "rmsnorm", "[model] norm '", norm,
             "' is not one of layernorm, rmsnorm");
  VOLT_CHECK(!norm_unit_offset || norm == "rmsnorm",
             "[model] norm_unit_offset is an RMSNorm option");
  VOLT_CHECK(layer_norm_eps > 0, "[model] layer_norm_eps must be positive, got ", layer_norm_eps);
  static const std::vector<std::string> activations = {"gelu", "gelu_new", "gelu_pytorch_tanh",
                                                       "silu"};
  VOLT_CHECK(std::find(activations.begin(), activations.end(), activation) != activations.end(),
             "[model] activation '", activation,
             "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, silu)");
  VOLT_CHECK(kv_heads() > 0 && kv_heads() <= kMaxWidth && n_head % kv_heads() == 0,
             "[model] n_head (", n_head, ") must be a multiple of n_kv_head (", kv_heads(), ")");
  VOLT_CHECK(!learned_positions || (kv_heads() == n_head && !qk_norm),
             "[model] learned positions (GPT-2) come without grouped-query attention and QK-norm");
  if (!learned_positions) {
    VOLT_CHECK(rope_theta > 0 && rope_local_theta >= 0, "[model] rope_theta must be positive, got ",
               rope_theta);
    VOLT_CHECK(rotary_fraction > 0 && rotary_fraction <= 1 && rotary_dim() >= 2,
               "[model] rotary_fraction ", rotary_fraction, " leaves no rotated pair in a head of ",
               head_dim());
    const auto& s = rope_scaling;
    VOLT_CHECK(s.type.empty() || s.type == "llama3" || s.type == "linear" || s.type == "longrope",
               "[model] rope_scaling type '", s.type,
               "' is not supported (llama3, linear, longrope, or none)");
    if (s.type == "llama3") {
      VOLT_CHECK(
          s.factor >= 1 && s.high_freq_factor > s.low_freq_factor &&
              s.original_max_position_embeddings > 0,
          "[model] rope_scaling (llama3) needs factor >= 1, high_freq_factor > low_freq_factor and "
          "original_max_position_embeddings > 0");
    }
    if (s.type == "linear")
      VOLT_CHECK(s.factor > 0, "[model] rope_scaling (linear) needs factor > 0, got ", s.factor);
    const auto& l = rope_local_scaling;
    VOLT_CHECK(l.type.empty() || ((l.type == "linear" || l.type == "llama3") && l.factor > 0),
               "[model] rope_local_scaling must be linear or llama3 with factor > 0, got '", l.type,
               "' factor ", l.factor);
    if (s.type == "longrope") {
      const auto pairs = static_cast<size_t>(rotary_dim() / 2);
      VOLT_CHECK(s.short_factor.size() == pairs && s.long_factor.size() == pairs &&
                     s.original_max_position_embeddings > 0,
                 "[model] rope_scaling (longrope) needs short_factor and long_factor of ", pairs,
                 " values (got ", s.short_factor.size(), " and ", s.long_factor.size(),
                 ") and original_max_position_embeddings > 0");
    }
  }
  VOLT_CHECK(sliding_window >= 0, "[model] sliding_window must be >= 0, got ", sliding_window);
  VOLT_CHECK(layer_types.empty() || static_cast<int64_t>(layer_types.size()) == n_layer,
             "[model] layer_types has ", layer_types.size(), " entries for ", n_layer, " layers");
  for (const auto& t : layer_types) {
    VOLT_CHECK(t == "full_attention" || t == "sliding_attention", "[model] layer type '", t,
               "' is not one of full_attention, sliding_attention");
  }
  VOLT_CHECK(
      attn_softcap >= 0 && final_softcap >= 0 && query_pre_attn_scalar >= 0 &&
          embedding_multiplier > 0,
      "[model] soft-caps, query_pre_attn_scalar and embedding_multiplier must not be negative");
  VOLT_CHECK(!fused_gate_up || gated_mlp, "[model] fused_gate_up needs a gated MLP");
  if (n_experts > 0) {
    VOLT_CHECK(n_experts <= 4096 && n_experts_per_tok >= 1 && n_experts_per_tok <= n_experts,
               "[model] ", n_experts_per_tok, " experts per token of ", n_experts);
    VOLT_CHECK(expert_width() > 0 && expert_width() <= kMaxWidth, "[model] expert width ",
               expert_width());
    VOLT_CHECK(gated_mlp, "[model] mixture-of-experts layers are gated MLPs");
    VOLT_CHECK(decoder_sparse_step >= 1, "[model] decoder_sparse_step must be >= 1, got ",
               decoder_sparse_step);
    VOLT_CHECK(router_aux_loss_coef >= 0, "[model] router_aux_loss_coef must be >= 0, got ",
               router_aux_loss_coef);
  }
}

namespace {

// Presets: the config.json of each published model (only what differs from its family's
// transformers defaults), read by from_hf_json like any other; volt's small ones besides.
const std::map<std::string, std::string>& preset_json() {
  static const std::map<std::string, std::string> p = {
      // GPT-2 (openai-community/gpt2*), and nanoGPT-sized bias-free BabyGPTs on 65 characters.
      {"gpt2", R"({"model_type": "gpt2"})"},
      {"gpt2-medium", R"({"model_type": "gpt2", "n_layer": 24, "n_head": 16, "n_embd": 1024})"},
      {"gpt2-large", R"({"model_type": "gpt2", "n_layer": 36, "n_head": 20, "n_embd": 1280})"},
      {"gpt2-xl", R"({"model_type": "gpt2", "n_layer": 48, "n_head": 25, "n_embd": 1600})"},
      {"babygpt-tiny",
       R"({"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 64, "n_positions": 64,
          "vocab_size": 65, "bias": false, "activation_function": "gelu"})"},
      {"babygpt-shakespeare",
       R"({"model_type": "gpt2", "n_layer": 4, "n_head": 4, "n_embd": 128, "n_positions": 64,
          "vocab_size": 65, "bias": false, "activation_function": "gelu"})"},
      {"babygpt-small",
       R"({"model_type": "gpt2", "n_layer": 6, "n_head": 6, "n_embd": 384, "n_positions": 256,
          "vocab_size": 65, "bias": false, "activation_function": "gelu"})"},
      // Llama (meta-llama/*), TinyLlama, and volt's random-weight Llamas for tests and benchmarks.
      {"llama-tiny",
       R"({"model_type": "llama", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 176,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128})"},
      {"llama-100m",
       R"({"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 8,
          "num_attention_heads": 12, "num_key_value_heads": 4, "max_position_embeddings": 1024})"},
      {"tinyllama-1.1b", R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
          "num_hidden_layers": 22, "num_key_value_heads": 4, "rms_norm_eps": 1e-5})"},
      {"llama-2-7b",
       R"({"model_type": "llama", "max_position_embeddings": 4096, "rms_norm_eps": 1e-5})"},
      {"llama-2-70b", R"({"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672,
          "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
          "max_position_embeddings": 4096, "rms_norm_eps": 1e-5})"},
      {"llama-3-8b", R"({"model_type": "llama", "vocab_size": 128256, "intermediate_size": 14336,
          "num_key_value_heads": 8, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0})"},
      {"llama-3.1-8b", R"({"model_type": "llama", "vocab_size": 128256, "intermediate_size": 14336,
          "num_key_value_heads": 8, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
          "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 8192}})"},
      {"llama-3.1-70b", R"({"model_type": "llama", "vocab_size": 128256, "hidden_size": 8192,
          "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
          "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
          "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 8192}})"},
      {"llama-3.2-1b",
       R"({"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
          "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
          "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true,
          "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 8192}})"},
      {"llama-3.2-3b",
       R"({"model_type": "llama", "vocab_size": 128256, "hidden_size": 3072, "intermediate_size": 8192,
          "num_hidden_layers": 28, "num_attention_heads": 24, "num_key_value_heads": 8, "head_dim": 128,
          "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true,
          "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 8192}})"},
      // One small random model per family, for tests, make interop and examples: every feature on
      // (windows shorter than a 32-token block, soft-caps that bite, partial rotary, experts).
      {"mistral-tiny",
       R"({"model_type": "mistral", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "max_position_embeddings": 128, "sliding_window": 16})"},
      {"qwen2-tiny",
       R"({"model_type": "qwen2", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "max_position_embeddings": 128, "tie_word_embeddings": true})"},
      {"qwen3-tiny",
       R"({"model_type": "qwen3", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
          "max_position_embeddings": 128, "tie_word_embeddings": true})"},
      {"mixtral-tiny",
       R"({"model_type": "mixtral", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 64,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "max_position_embeddings": 128, "num_local_experts": 4, "num_experts_per_tok": 2,
          "router_aux_loss_coef": 0.02})"},
      {"gemma2-tiny",
       R"({"model_type": "gemma2", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
          "query_pre_attn_scalar": 24, "sliding_window": 16, "attn_logit_softcapping": 20.0,
          "final_logit_softcapping": 15.0, "max_position_embeddings": 128})"},
      {"gemma3-tiny",
       R"({"model_type": "gemma3_text", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
          "query_pre_attn_scalar": 24, "sliding_window": 16, "sliding_window_pattern": 3,
          "final_logit_softcapping": 15.0, "max_position_embeddings": 128})"},
      {"phi3-tiny",
       R"({"model_type": "phi3", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 128,
          "partial_rotary_factor": 0.5})"},
      // A Qwen3-MoE-shaped model small enough for tests and examples (every layer sparse).
      {"qwen3-moe-tiny",
       R"({"model_type": "qwen3_moe", "vocab_size": 65, "hidden_size": 64, "intermediate_size": 128,
          "moe_intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "head_dim": 16, "num_experts": 8, "num_experts_per_tok": 2, "norm_topk_prob": true,
          "max_position_embeddings": 128, "router_aux_loss_coef": 0.01})"},
      // Mistral-7B-v0.1 and Mixtral-8x7B-v0.1 (mistralai/*).
      {"mistral-7b-v0.1",
       R"({"model_type": "mistral", "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
          "sliding_window": 4096})"},
      {"mixtral-8x7b",
       R"({"model_type": "mixtral", "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
          "num_local_experts": 8, "num_experts_per_tok": 2, "router_aux_loss_coef": 0.02})"},
      // Qwen2.5 (Qwen/Qwen2.5-*: model_type qwen2) and Qwen3 (Qwen/Qwen3-*).
      {"qwen2.5-0.5b", R"({"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
          "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "rope_theta": 1000000.0,
          "tie_word_embeddings": true})"},
      {"qwen2.5-1.5b", R"({"model_type": "qwen2", "hidden_size": 1536, "intermediate_size": 8960,
          "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2, "rope_theta": 1000000.0,
          "tie_word_embeddings": true})"},
      {"qwen2.5-3b", R"({"model_type": "qwen2", "hidden_size": 2048, "intermediate_size": 11008,
          "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 2, "rope_theta": 1000000.0,
          "tie_word_embeddings": true})"},
      {"qwen2.5-7b",
       R"({"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944,
          "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "rope_theta": 1000000.0})"},
      {"qwen3-0.6b", R"({"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072,
          "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0, "tie_word_embeddings": true})"},
      {"qwen3-1.7b", R"({"model_type": "qwen3", "hidden_size": 2048, "intermediate_size": 6144,
          "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0, "tie_word_embeddings": true})"},
      {"qwen3-4b", R"({"model_type": "qwen3", "hidden_size": 2560, "intermediate_size": 9728,
          "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0, "tie_word_embeddings": true})"},
      {"qwen3-8b", R"({"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288,
          "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0})"},
      {"qwen3-14b", R"({"model_type": "qwen3", "hidden_size": 5120, "intermediate_size": 17408,
          "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 8, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0})"},
      {"qwen3-32b", R"({"model_type": "qwen3", "hidden_size": 5120, "intermediate_size": 25600,
          "num_hidden_layers": 64, "num_attention_heads": 64, "num_key_value_heads": 8, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0})"},
      {"qwen3-30b-a3b",
       R"({"model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144,
          "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
          "num_experts": 128, "num_experts_per_tok": 8, "norm_topk_prob": true, "max_position_embeddings": 40960,
          "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001})"},
      // Gemma 2 and Gemma 3's text models (google/gemma-2-*, google/gemma-3-*-pt).
      {"gemma-2-2b", R"({"model_type": "gemma2"})"},
      {"gemma-2-9b", R"({"model_type": "gemma2", "hidden_size": 3584, "intermediate_size": 14336,
          "num_hidden_layers": 42, "num_attention_heads": 16, "num_key_value_heads": 8})"},
      {"gemma-3-1b", R"({"model_type": "gemma3_text", "vocab_size": 262144, "hidden_size": 1152,
          "intermediate_size": 6912, "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1,
          "max_position_embeddings": 32768, "sliding_window": 512, "sliding_window_pattern": 6})"},
      {"gemma-3-4b",
       R"({"model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240,
          "num_hidden_layers": 34, "num_attention_heads": 8, "num_key_value_heads": 4, "sliding_window": 1024,
          "sliding_window_pattern": 6, "rope_scaling": {"rope_type": "linear", "factor": 8.0}})"},
      {"gemma-3-12b",
       R"({"model_type": "gemma3_text", "hidden_size": 3840, "intermediate_size": 15360,
          "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 8, "sliding_window": 1024,
          "sliding_window_pattern": 6, "rope_scaling": {"rope_type": "linear", "factor": 8.0}})"},
      {"gemma-3-27b",
       R"({"model_type": "gemma3_text", "hidden_size": 5376, "intermediate_size": 21504,
          "num_hidden_layers": 62, "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128,
          "query_pre_attn_scalar": 168, "sliding_window": 1024, "sliding_window_pattern": 6,
          "rope_scaling": {"rope_type": "linear", "factor": 8.0}})"},
      // Phi-3 (microsoft/Phi-3-mini-4k-instruct, Phi-3.5-mini-instruct: its LongRoPE factors).
      {"phi-3-mini", R"({"model_type": "phi3", "num_hidden_layers": 32, "num_attention_heads": 32,
          "sliding_window": 2047})"},
      {"phi-3.5-mini", R"({"model_type": "phi3", "num_hidden_layers": 32, "num_attention_heads": 32,
          "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "sliding_window": 262144,
          "rope_scaling": {"type": "longrope",
            "short_factor": [1.0, 1.0199999809265137, 1.0299999713897705, 1.0299999713897705, 1.0499999523162842,
              1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0699999332427979,
              1.0999999046325684, 1.1099998950958252, 1.1599998474121094, 1.1599998474121094, 1.1699998378753662,
              1.2899998426437378, 1.339999794960022, 1.679999828338623, 1.7899998426437378, 1.8199998140335083,
              1.8499997854232788, 1.8799997568130493, 1.9099997282028198, 1.9399996995925903, 1.9899996519088745,
              2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346,
              2.0199997425079346, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
              2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
              2.0799996852874756, 2.0899996757507324, 2.189999580383301, 2.2199995517730713, 2.5899994373321533,
              2.729999542236328, 2.749999523162842, 2.8399994373321533],
            "long_factor": [1.0800000429153442, 1.1100000143051147, 1.1399999856948853, 1.340000033378601,
              1.5899999141693115, 1.600000023841858, 1.6200000047683716, 2.620000123977661, 3.2300000190734863,
              3.2300000190734863, 4.789999961853027, 7.400000095367432, 7.700000286102295, 9.09000015258789,
              12.199999809265137, 17.670000076293945, 24.46000099182129, 28.57000160217285, 30.420001983642578,
              30.840002059936523, 32.590003967285156, 32.93000411987305, 42.320003509521484, 44.96000289916992,
              50.340003967285156, 50.45000457763672, 57.55000305175781, 57.93000411987305, 58.21000289916992,
              60.1400032043457, 62.61000442504883, 62.62000274658203, 62.71000289916992, 63.1400032043457,
              63.1400032043457, 63.77000427246094, 63.93000411987305, 63.96000289916992, 63.970001220703125,
              64.02999877929688, 64.06999969482422, 64.08000183105469, 64.12000274658203, 64.41000366210938,
              64.4800033569336, 64.51000213623047, 64.52999877929688, 64.83999633789062]}})"},
  };
  return p;
}

}  // namespace

ModelConfig ModelConfig::preset(const std::string& name_or_alias) {
  // The short names people type for the model a preset mirrors.
  static const std::map<std::string, std::string> aliases = {
      {"mistral", "mistral-7b-v0.1"},  {"mistral-7b", "mistral-7b-v0.1"},
      {"llama-2-7b-hf", "llama-2-7b"}, {"tinyllama", "tinyllama-1.1b"},
      {"gpt2-small", "gpt2"},          {"mixtral", "mixtral-8x7b"}};
  const auto alias = aliases.find(name_or_alias);
  const std::string& name = alias != aliases.end() ? alias->second : name_or_alias;
  const auto it = preset_json().find(name);
  if (it == preset_json().end()) {
    std::string all;
    for (const auto& n : preset_names()) all += (all.empty() ? "" : ", ") + n;
    const std::string near = nearest_key(name, preset_names());
    VOLT_FAIL("[model] unknown preset '", name, "'",
              near.empty() ? "" : " (did you mean '" + near + "'?)", "; known: ", all);
  }
  return from_hf_json(nlohmann::json::parse(it->second), "preset " + name);
}

std::vector<std::string> ModelConfig::preset_names() {
  std::vector<std::string> names;
  for (const auto& kv : preset_json()) names.push_back(kv.first);
  return names;
}

}  // namespace volt

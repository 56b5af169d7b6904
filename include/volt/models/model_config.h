// One ModelConfig for decoder-only families. Variants are plain values; derived fields are
// filled and checked in one place (validate()). Today: the GPT-2 architecture (nanoGPT's GPT).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace volt {

struct ModelConfig {
  std::string model_type = "gpt2";  // the Hugging Face model_type this mirrors
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_embd = 768;
  int64_t block_size = 1024;       // the context length (HF n_positions)
  int64_t vocab_size = 50257;
  int64_t n_inner = 0;             // MLP width; 0 means 4 * n_embd
  bool bias = true;                // biases in Linear layers and LayerNorms (GPT-2: true)
  double dropout = 0.0;            // one rate for embeddings, attention and residuals
  bool tie_word_embeddings = true; // lm_head shares wte's weight
  double layer_norm_eps = 1e-5;
  std::string activation = "gelu"; // "gelu" (exact, nanoGPT) or "gelu_new" (tanh, HF GPT-2)
  double initializer_range = 0.02;

  int64_t head_dim() const { return n_embd / n_head; }
  int64_t mlp_width() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  /// Throws volt::Error naming the first inconsistent field.
  void validate() const;

  /// A named preset: babygpt-{tiny,small,shakespeare}, gpt2, gpt2-medium, gpt2-large, gpt2-xl.
  static ModelConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();

  /// Hugging Face config.json (GPT2Config keys; volt's extra keys "bias" and "dropout" ride along
  /// and transformers ignores them).
  nlohmann::json to_hf_json() const;
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& source);
};

/// Parameter count of the model this config builds (tied weights counted once).
int64_t count_parameters(const ModelConfig& cfg);

}  // namespace volt

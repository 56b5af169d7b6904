// One ModelConfig for decoder-only families. Variants are plain values; derived fields are
// filled and checked in one place (validate()).
//   gpt2             LayerNorm, learned positions, fused QKV, GELU MLP, tied embeddings
//   llama, mistral   RMSNorm, RoPE (optionally Llama 3.1's frequency scaling), grouped-query
//                    attention (n_kv_head < n_head), SwiGLU MLP; mistral adds a sliding window
// The config layer reads and writes every family's Hugging Face config.json and counts its
// parameters; CausalLM builds the gpt2 family (the others are the model issue's next step).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace volt {

struct ModelConfig {
  std::string model_type = "gpt2";  // the Hugging Face model_type this mirrors
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_embd = 768;
  int64_t block_size = 1024;  // the context length (HF n_positions)
  int64_t vocab_size = 50257;
  int64_t n_inner = 0;              // MLP width; 0 means 4 * n_embd
  bool bias = true;                 // biases in Linear layers and LayerNorms (GPT-2: true)
  double dropout = 0.0;             // one rate for embeddings, attention and residuals
  bool tie_word_embeddings = true;  // lm_head shares wte's weight
  double layer_norm_eps = 1e-5;
  std::string activation = "gelu";  // "gelu" (exact, nanoGPT) or "gelu_new" (tanh, HF GPT-2)
  double initializer_range = 0.02;
  // Llama / Mistral (ignored by gpt2).
  int64_t n_kv_head = 0;          // key/value heads (grouped-query attention); 0 means n_head
  int64_t head_dim_override = 0;  // HF head_dim when it is not n_embd / n_head; 0: derived
  double rope_theta = 10000.0;    // RoPE base
  struct RopeScaling {
    std::string type;  // "" (none) or "llama3" (Llama 3.1's frequency-dependent scaling)
    double factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 8192;
  } rope_scaling;
  int64_t sliding_window = 0;  // mistral: each token attends to at most this many; 0: no window
  // The special ids config.json and generation_config.json carry (the tokenizer's; none: null).
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;   // one, or several (Llama 3.1 ends turns on 3 ids)
  std::string torch_dtype = "float32";  // the weights' dtype on disk, as config.json says it

  int64_t head_dim() const { return head_dim_override > 0 ? head_dim_override : n_embd / n_head; }
  int64_t kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  bool is_llama_family() const { return model_type == "llama" || model_type == "mistral"; }
  int64_t mlp_width() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  /// Throws volt::Error naming the first inconsistent field.
  void validate() const;

  /// A named preset: babygpt-{tiny,small,shakespeare}, gpt2, gpt2-medium, gpt2-large, gpt2-xl,
  /// tinyllama-1.1b, llama-2-7b, llama-3-8b, llama-3.1-8b, mistral-7b-v0.1.
  static ModelConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();

  /// Hugging Face config.json: GPT2Config keys for gpt2 (volt's extra keys "bias" and "dropout"
  /// ride along; transformers ignores them), LlamaConfig / MistralConfig keys for the others.
  nlohmann::json to_hf_json() const;
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& source);
  /// generation_config.json: the special ids (what transformers' generate stops on).
  nlohmann::json generation_config_json() const;
};

/// Parameter count of the model this config builds (tied weights counted once).
int64_t count_parameters(const ModelConfig& cfg);

/// One Linear layer of a transformer block, by its Hugging Face name inside the block.
struct LinearShape {
  std::string
      name;  // "attn.c_attn", "mlp.c_proj" (gpt2); "self_attn.q_proj", "mlp.down_proj" (llama)
  int64_t in, out;
};

/// The Linear layers of one block, in order: what LoRA targets (by the name's last part), what
/// QLoRA quantizes, and 2 * in * out FLOPs per token each in a forward pass.
std::vector<LinearShape> block_linears(const ModelConfig& cfg);

}  // namespace volt

// A decoder-only causal language model built from a ModelConfig. It knows nothing about
// training: it maps token ids to next-token logits.
//   gpt2:   h_0 = wte[x] + wpe[pos];  h_l = h_{l-1} + Attn(LN(h_{l-1}));  h_l += MLP(LN(h_l))
//           logits = LN_f(h_L) W_e^T            (weights tied with the token embedding)
//   llama / mistral: h_0 = E[x];  h_l = h_{l-1} + GQA(RMSNorm(h_{l-1}), RoPE(pos));
//           h_l += SwiGLU(RMSNorm(h_l));  logits = RMSNorm(h_L) W_out^T
// Parameter names are Hugging Face's: GPT-2's under transformer. once exported (pretrained.cpp),
// Llama's exactly (model.layers.0.self_attn.q_proj.weight, ...).
#pragma once

#include <torch/torch.h>

#include "volt/models/model_config.h"
#include "volt/nn/attention.h"
#include "volt/nn/block_wrapper.h"
#include "volt/nn/kv_cache.h"
#include "volt/nn/layer_norm.h"
#include "volt/nn/mlp.h"

namespace volt {

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& cfg);
  /// key_start: see nn::CausalSelfAttentionImpl::forward (undefined = plain causal).
  torch::Tensor forward(torch::Tensor x, nn::KVCache* cache = nullptr, int64_t layer = 0,
                        const torch::Tensor& key_start = torch::Tensor());

  nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  nn::CausalSelfAttention attn{nullptr};
  nn::GeluMLP mlp{nullptr};
};
TORCH_MODULE(Block);

class LlamaBlockImpl : public torch::nn::Module {
 public:
  explicit LlamaBlockImpl(const ModelConfig& cfg);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                        nn::KVCache* cache, int64_t layer, const torch::Tensor& key_start);

  nn::RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  nn::GroupedQueryAttention self_attn{nullptr};
  nn::SwiGLUMLP mlp{nullptr};
};
TORCH_MODULE(LlamaBlock);

/// transformers' LlamaModel: the embedding, the blocks and the final norm (named "model").
class LlamaBodyImpl : public torch::nn::Module {
 public:
  explicit LlamaBodyImpl(const ModelConfig& cfg);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  nn::RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaBody);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& cfg);

  /// input_ids: (B, T) int64. position_ids: (B, T) or undefined (0..T-1, or continuing after the
  /// cache). document_ids: (B, T) or undefined (one document per row); for packed rows, tokens
  /// with different ids never attend to each other (each id's tokens contiguous; position_ids
  /// should then restart at 0 per document). Not combined with a cache.
  /// Returns logits (B, T, vocab_size).
  torch::Tensor forward(const torch::Tensor& input_ids,
                        const torch::Tensor& position_ids = torch::Tensor(),
                        nn::KVCache* cache = nullptr,
                        const torch::Tensor& document_ids = torch::Tensor());
  /// A cache sized for this model.
  nn::KVCache make_cache(int64_t batch, int64_t capacity) const;
  /// GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections scaled by
  /// 1/sqrt(2 n_layer) so the residual stream's variance does not grow with depth.
  void reset_parameters();
  /// The initial value of one parameter (by its name in this module): what reset_parameters
  /// draws, for a parameter allocated later (volt init writes a model one tensor at a time).
  void init_parameter(const std::string& name, torch::Tensor& p) const;

  const ModelConfig& config() const { return cfg_; }
  /// The metadata fields (special ids, torch_dtype) may change; the architecture may not.
  ModelConfig& config_mutable() { return cfg_; }

  /// Activation checkpointing per transformer block (Hugging Face's gradient_checkpointing):
  /// in training with gradients on, each block keeps only its input and recomputes the rest in
  /// backward (nn/checkpoint.h). Same function and gradients, less memory, ~1/3 more compute.
  void set_activation_checkpointing(bool on) { checkpointing_ = on; }
  bool activation_checkpointing() const { return checkpointing_; }

  /// The transformer blocks, in forward order.
  std::vector<torch::nn::Module*> blocks();
  /// Runs every block through `wrapper` (null: directly). A strategy's hook (dist/fsdp.h).
  void set_block_wrapper(nn::BlockWrapper wrapper) { block_wrapper_ = std::move(wrapper); }

  /// The token embedding (wte for gpt2, model.embed_tokens for llama).
  const torch::Tensor& embedding_weight() const;

  // gpt2
  torch::nn::Embedding wte{nullptr};  // (vocab_size, C)
  torch::nn::Embedding wpe{nullptr};  // (block_size, C)
  torch::nn::Dropout drop{nullptr};
  torch::nn::ModuleList h{nullptr};  // n_layer x Block
  nn::LayerNorm ln_f{nullptr};
  // llama / mistral
  LlamaBody model{nullptr};
  // both: (C) -> (vocab_size); null when tied to the embedding
  torch::nn::Linear lm_head{nullptr};

 private:
  torch::Tensor forward_llama(const torch::Tensor& input_ids, torch::Tensor pos, nn::KVCache* cache,
                              const torch::Tensor& key_start);
  /// Runs one block, through nn::checkpoint when checkpointing applies.
  torch::Tensor run_block(size_t index, torch::nn::Module& block, const nn::BlockFn& fn,
                          const torch::Tensor& x, bool checkpointed);
  ModelConfig cfg_;
  bool checkpointing_ = false;
  nn::BlockWrapper block_wrapper_;
  torch::Tensor inv_freq_;  // RoPE frequencies (llama), a buffer so .to(device) moves it
};
TORCH_MODULE(CausalLM);

/// Mean cross-entropy of logits (B, T, V) against labels (B, T); label -100 is ignored.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace volt

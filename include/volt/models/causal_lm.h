// A decoder-only causal language model built from a ModelConfig's values: one block for every
// family (no family names in the math). It knows nothing about training: it maps token ids to
// next-token logits.
//   h_0 = m E[x] (+ P[pos] with learned positions)          m: Gemma's sqrt(C), else 1
//   a_l = Attn(N_a(h_{l-1}), RoPE(pos))                       N: LayerNorm or RMSNorm
//   h'  = h_{l-1} + N_a'(a_l)                                 N_a': Gemma 2/3's post-norm, else identity
//   h_l = h' + N_m'(MLP(N_m(h')))                             MLP: plain, gated, or a mixture of experts
//   logits = cap(N_f(h_L) W_out^T)                            cap: Gemma 2's c tanh(z / c), else identity
// Parameter names are Hugging Face's for the family (config.names): model.layers.0.self_attn.q_proj
// .weight for Llama, transformer.h.0.attn.c_attn.weight for GPT-2 (whose Conv1D weights are
// transposed on disk only, in pretrained.cpp).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "volt/models/model_config.h"
#include "volt/nn/attention.h"
#include "volt/nn/block_wrapper.h"
#include "volt/nn/embedding.h"
#include "volt/nn/kv_cache.h"
#include "volt/nn/mlp.h"
#include "volt/nn/moe.h"
#include "volt/nn/norm.h"

namespace volt {

/// The nn options a config gives one layer (what the blocks are built from).
nn::AttentionOptions attention_options(const ModelConfig& c, int64_t layer);
nn::MLPOptions mlp_options(const ModelConfig& c);
nn::MoEOptions moe_options(const ModelConfig& c);
nn::NormOptions norm_options(const ModelConfig& c);

/// One transformer block of any family.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& cfg, int64_t layer);
  /// cos, sin: this layer's RoPE for the tokens (undefined with learned positions). key_start:
  /// see nn::AttentionImpl::forward.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin, nn::KVCache* cache,
                        int64_t layer, const torch::Tensor& key_start);

  nn::Norm norm_attn_in{nullptr}, norm_attn_out{nullptr}, norm_mlp_in{nullptr}, norm_mlp_out{nullptr};
  nn::Attention attn{nullptr};
  nn::MLP mlp{nullptr};  // a dense layer's
  nn::MoE moe{nullptr};  // a mixture-of-experts layer's
};
TORCH_MODULE(Block);

/// The embeddings, the blocks and the final norm (transformers' LlamaModel / GPT2Model), registered
/// under the family's name ("model", "transformer").
class BodyImpl : public torch::nn::Module {
 public:
  explicit BodyImpl(const ModelConfig& cfg);
  nn::Embedding embed{nullptr};      // (vocab_size, C), the token embedding
  nn::Embedding pos_embed{nullptr};  // (block_size, C) with learned positions, else null
  torch::nn::ModuleList layers{nullptr};
  nn::Norm final_norm{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(Body);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& cfg);

  /// input_ids: (B, T) int64. position_ids: (B, T) or undefined (0..T-1, or continuing after the
  /// cache). document_ids: (B, T) or undefined (one document per row); for packed rows, tokens
  /// with different ids never attend to each other (each id's tokens contiguous; position_ids
  /// should then restart at 0 per document). Not combined with a cache.
  /// Returns logits (B, T, vocab_size).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids = torch::Tensor(),
                        nn::KVCache* cache = nullptr, const torch::Tensor& document_ids = torch::Tensor());
  /// The hidden states after the final norm (B, T, C): what the head multiplies (the fused
  /// cross-entropy of training takes them, with head_weight()).
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const torch::Tensor& position_ids = torch::Tensor(),
                              nn::KVCache* cache = nullptr, const torch::Tensor& document_ids = torch::Tensor());
  /// Logits from final hidden states: h W_out^T, soft-capped where the config says so.
  torch::Tensor logits(const torch::Tensor& hidden) const;
  /// A cache sized for this model.
  nn::KVCache make_cache(int64_t batch, int64_t capacity) const;
  /// The initial weights: N(0, initializer_range) matrices (GPT-2 scales its residual projections
  /// by 1/sqrt(2 n_layer) so the residual stream's variance does not grow with depth), zero
  /// biases, identity norms.
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
  BlockImpl& block(int64_t i) { return *body->layers[static_cast<size_t>(i)]->as<BlockImpl>(); }
  /// Runs every block through `wrapper` (null: directly). A strategy's hook (distributed/fsdp.h).
  void set_block_wrapper(nn::BlockWrapper wrapper) { block_wrapper_ = std::move(wrapper); }

  /// The token embedding (vocab_size, C).
  const torch::Tensor& embedding_weight() const { return body->embed->weight; }
  /// The output projection (vocab_size, C): the embedding when tied.
  const torch::Tensor& head_weight() const { return lm_head ? lm_head->weight : body->embed->weight; }

  /// Mixture-of-experts models: the load-balancing loss of the last forward's routing (undefined
  /// for dense models, and before any forward).
  torch::Tensor router_aux_loss() const;

  Body body{nullptr};
  nn::Linear lm_head{nullptr};  // (C) -> (vocab_size); null when tied to the embedding

 private:
  // Runs one block, through nn::checkpoint when checkpointing applies.
  torch::Tensor run_block(size_t index, torch::nn::Module& block, const nn::BlockFn& fn, const torch::Tensor& x,
                          bool checkpointed);
  ModelConfig cfg_;
  bool checkpointing_ = false;
  nn::BlockWrapper block_wrapper_;
  // RoPE frequencies (buffers, so .to(device) moves them): full-attention layers' and, where they
  // differ, sliding layers' (Gemma 3's local base); LongRoPE's long-context set.
  torch::Tensor inv_freq_, local_inv_freq_, long_inv_freq_;
  double rope_attention_factor_ = 1.0;  // LongRoPE scales cos and sin by this
};
TORCH_MODULE(CausalLM);

/// Mean cross-entropy of logits (B, T, V) against labels (B, T); label -100 is ignored.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);

/// Parameters of the model a config builds, counted on the built module (on the meta device: no
/// memory): total (tied weights once) and active per token (a mixture of experts runs k of E);
/// in_blocks: inside the transformer blocks (the rest, embeddings, final norm and head, is FSDP's
/// root unit).
struct ParameterCount {
  int64_t total = 0, active = 0, embedding = 0, in_blocks = 0;
};
ParameterCount count_model_parameters(const ModelConfig& cfg);
/// The total alone.
int64_t count_parameters(const ModelConfig& cfg);

/// One Linear layer of a transformer block, by its Hugging Face name inside the block.
struct LinearShape {
  std::string name;  // "attn.c_attn", "mlp.c_proj" (gpt2); "self_attn.q_proj", "mlp.experts.3.down_proj"
  int64_t in, out;
};
/// The Linear layers of block `layer`, in registration order, read off the built module: what
/// LoRA targets (by the name's last part), what QLoRA quantizes, and 2 * in * out FLOPs per token
/// each in a forward pass (a mixture of experts: its router and every expert).
std::vector<LinearShape> block_linears(const ModelConfig& cfg, int64_t layer = 0);

}  // namespace volt

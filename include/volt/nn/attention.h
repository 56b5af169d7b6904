// Causal self-attention: the function every model uses (causal_attention), GPT-2's module (one
// fused QKV projection) and Llama's (separate projections, RoPE, grouped-query attention, an
// optional sliding window as in Mistral).
//   Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head) + M) V,  M_ij = -inf for j > i
// A sliding window W also hides keys more than W - 1 positions back: M_ij = -inf for j <= i - W.
// Packed rows (several documents per row) narrow the mask further, so no token sees another
// document: with start(i) the index of the first token of query i's document,
//   M_ij = -inf unless start(i) <= j <= i
// Every path (LibTorch 2.x's fused kernel, volt's CPU kernel, the explicit softmax) computes this
// same function.
#pragma once

#include <torch/torch.h>

#include "volt/nn/linear.h"

#include "volt/nn/kv_cache.h"
#include "volt/nn/rope.h"

namespace volt::nn {

/// document_ids: (B, T), tokens with equal ids in a contiguous run form one document. Returns the
/// (B, T) int64 `key_start`: for each token, the index of its document's first token, i.e. the
/// first key it may attend to. Computed once per forward and shared by every layer.
torch::Tensor document_key_start(const torch::Tensor& document_ids);

/// q: (B, nh, T, hd); k, v: (B, nkv, S, hd), nh a multiple of nkv (grouped-query attention:
/// each group of nh / nkv query heads shares one key/value head), S >= T (the first S - T keys
/// come from a cache). Query i sits at position S - T + i and sees keys lo_i .. S - T + i, with
/// lo_i = max(key_start[b, i] (0 when undefined), S - T + i - window + 1 (when window > 0)).
/// dropout_p > 0 drops attention probabilities (training only). Returns (B, nh, T, hd).
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_start = torch::Tensor(), int64_t window = 0,
                               double dropout_p = 0.0);

struct CausalSelfAttentionOptions {
  CausalSelfAttentionOptions(int64_t n_embd, int64_t n_head) : n_embd_(n_embd), n_head_(n_head) {}
  TORCH_ARG(int64_t, n_embd);
  TORCH_ARG(int64_t, n_head);
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(double, dropout) = 0.0;
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const CausalSelfAttentionOptions& options);
  /// x: (B, T, C). With a cache, x holds only the new tokens and attends to the cached ones too.
  /// key_start: (B, T) int64 from document_key_start, or undefined (plain causal): query i sees
  /// keys key_start[b, i] .. i only. Not combined with a cache.
  torch::Tensor forward(const torch::Tensor& x, KVCache* cache = nullptr, int64_t layer = 0,
                        const torch::Tensor& key_start = torch::Tensor());

  CausalSelfAttentionOptions options;
  Linear c_attn{nullptr};  // (C) -> (3C): queries, keys, values of all heads
  Linear c_proj{nullptr};  // (C) -> (C)
  torch::nn::Dropout attn_dropout{nullptr}, resid_dropout{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

struct GroupedQueryAttentionOptions {
  int64_t n_embd = 0, n_head = 0, n_kv_head = 0, head_dim = 0;
  bool bias = false;
  double dropout = 0.0;
  int64_t sliding_window = 0;  // 0: none
};

/// Llama's attention (transformers' LlamaAttention / MistralAttention), with Hugging Face's
/// module names: q, k, v projected separately, RoPE on q and k, n_kv_head key/value heads.
class GroupedQueryAttentionImpl : public torch::nn::Module {
 public:
  explicit GroupedQueryAttentionImpl(const GroupedQueryAttentionOptions& options);
  /// x: (B, T, C); cos, sin: (B, T, head_dim) from rope_cos_sin for these tokens' positions. A
  /// cache holds post-RoPE keys of n_kv_head heads. key_start as in causal_attention.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        KVCache* cache = nullptr, int64_t layer = 0,
                        const torch::Tensor& key_start = torch::Tensor());

  GroupedQueryAttentionOptions options;
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
};
TORCH_MODULE(GroupedQueryAttention);

}  // namespace volt::nn

// Multi-head causal self-attention (GPT-2): one fused QKV projection, scaled dot-product
// attention with a causal mask, an output projection.
//   Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head) + M) V,  M_ij = -inf for j > i
// Packed rows (several documents per row) narrow the mask further, so no token sees another
// document: with start(i) the index of the first token of query i's document,
//   M_ij = -inf unless start(i) <= j <= i
// Every path (LibTorch 2.x's fused kernel, volt's CPU kernel, the explicit softmax) computes this
// same function.
#pragma once

#include <torch/torch.h>

#include "volt/nn/kv_cache.h"

namespace volt::nn {

/// document_ids: (B, T), tokens with equal ids in a contiguous run form one document. Returns the
/// (B, T) int64 `key_start`: for each token, the index of its document's first token, i.e. the
/// first key it may attend to. Computed once per forward and shared by every layer.
torch::Tensor document_key_start(const torch::Tensor& document_ids);

struct CausalSelfAttentionOptions {
  CausalSelfAttentionOptions(int64_t n_embd, int64_t n_head) : n_embd_(n_embd), n_head_(n_head) {}
  TORCH_ARG(int64_t, n_embd);
  TORCH_ARG(int64_t, n_head);
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(int64_t, max_seq_len) = 1024;  // size of the cached causal mask
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
  torch::nn::Linear c_attn{nullptr};  // (C) -> (3C): queries, keys, values of all heads
  torch::nn::Linear c_proj{nullptr};  // (C) -> (C)
  torch::nn::Dropout attn_dropout{nullptr}, resid_dropout{nullptr};

 private:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& key_start);
  /// True where query i may not see key j: (T, S), or (B, 1, T, S) with key_start.
  torch::Tensor blocked_mask(int64_t t, int64_t s, const torch::Tensor& key_start) const;
  torch::Tensor causal_mask_;  // (max_seq_len, max_seq_len) bool, true above the diagonal
};
TORCH_MODULE(CausalSelfAttention);

}  // namespace volt::nn

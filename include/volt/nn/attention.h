// Multi-head causal self-attention (GPT-2): one fused QKV projection, scaled dot-product
// attention with a causal mask, an output projection.
//   Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head) + M) V,  M_ij = -inf for j > i
#pragma once

#include <torch/torch.h>

#include "volt/nn/kv_cache.h"

namespace volt::nn {

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
  torch::Tensor forward(const torch::Tensor& x, KVCache* cache = nullptr, int64_t layer = 0);

  CausalSelfAttentionOptions options;
  torch::nn::Linear c_attn{nullptr};  // (C) -> (3C): queries, keys, values of all heads
  torch::nn::Linear c_proj{nullptr};  // (C) -> (C)
  torch::nn::Dropout attn_dropout{nullptr}, resid_dropout{nullptr};

 private:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
  torch::Tensor causal_mask_;  // (max_seq_len, max_seq_len) bool, true above the diagonal
};
TORCH_MODULE(CausalSelfAttention);

}  // namespace volt::nn

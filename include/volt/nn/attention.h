// Causal self-attention: the function every model uses (causal_attention) and the one module
// every decoder family builds from values (Attention): fused or separate q/k/v projections with
// their own bias switches, grouped-query attention, RoPE on all or part of each head, per-head
// QK-norm (Qwen3, Gemma 3), a score scale other than 1/sqrt(d) (Gemma's query_pre_attn_scalar),
// soft-capped scores (Gemma 2) and a sliding window (Mistral, Gemma's local layers).
//   Attention(Q, K, V) = softmax(cap(s Q K^T) + M) V,  M_ij = -inf for j > i,
//   s = 1/sqrt(d_head) unless given, cap(z) = c tanh(z / c) when c > 0 (else z)
// A sliding window W also hides keys more than W - 1 positions back: M_ij = -inf for j <= i - W.
// Packed rows (several documents per row) narrow the mask further, so no token sees another
// document: with start(i) the index of the first token of query i's document,
//   M_ij = -inf unless start(i) <= j <= i
// Every path (LibTorch 2.x's fused kernel, volt's CPU kernel, the explicit softmax) computes this
// same function.
#pragma once

#include <torch/torch.h>

#include "volt/nn/kv_cache.h"
#include "volt/nn/linear.h"
#include "volt/nn/module_names.h"
#include "volt/nn/norm.h"
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
/// dropout_p > 0 drops attention probabilities (training only). scale: the score scale (0:
/// 1/sqrt(hd)); softcap: c in c tanh(score / c) (0: none). Returns (B, nh, T, hd).
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v,
                               const torch::Tensor& key_start = torch::Tensor(), int64_t window = 0,
                               double dropout_p = 0.0, double scale = 0.0, double softcap = 0.0);

struct AttentionOptions {
  int64_t n_embd = 0, n_head = 0, n_kv_head = 0, head_dim = 0;
  bool qkv_bias = false;   // biases of the q, k, v projections (Qwen2: yes; its o_proj: no)
  bool out_bias = false;   // bias of the output projection
  bool fused_qkv = false;  // one (q | k | v) projection
  int64_t rotary_dim = 0;  // RoPE on the first rotary_dim channels of each head; 0: no RoPE
  bool qk_norm = false;    // RMSNorm over each head of q and k, before RoPE
  NormOptions qk_norm_options{"rmsnorm", 1e-6, false, false};
  double scale = 0.0;          // the score scale; 0: 1/sqrt(head_dim)
  double softcap = 0.0;        // c in c tanh(score / c); 0: none
  int64_t sliding_window = 0;  // 0: none
  double dropout = 0.0;  // attention probabilities and the output (GPT-2's attn and resid dropout)
  AttentionNames names;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& options);
  /// x: (B, T, C). cos, sin: (B, T, rotary_dim) for these tokens' positions (undefined without
  /// RoPE). With a cache, x holds only the new tokens and attends to the cached ones too (the
  /// cache holds post-RoPE keys of n_kv_head heads). key_start: (B, T) int64 from
  /// document_key_start, or undefined (plain causal); not combined with a cache.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos = torch::Tensor(),
                        const torch::Tensor& sin = torch::Tensor(), KVCache* cache = nullptr,
                        int64_t layer = 0, const torch::Tensor& key_start = torch::Tensor());

  AttentionOptions options;
  Linear qkv{nullptr};                        // fused_qkv: (C) -> (nh + 2 nkv) hd
  Linear q{nullptr}, k{nullptr}, v{nullptr};  // else each projection
  Linear out{nullptr};                        // (nh hd) -> (C)
  Norm q_norm{nullptr}, k_norm{nullptr};      // qk_norm: over head_dim
  torch::nn::Dropout resid_dropout{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace volt::nn

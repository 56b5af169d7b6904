#include "volt/nn/attention.h"

#include <cmath>
#include <limits>

#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/nn/cpu_attention.h"

namespace volt::nn {

torch::Tensor document_key_start(const torch::Tensor& document_ids) {
  VOLT_CHECK(document_ids.dim() == 2, "[attention] document_ids must be (B, T), got ",
             document_ids.sizes());
  const int64_t b = document_ids.size(0), t = document_ids.size(1);
  auto idx_options = document_ids.options().dtype(torch::kLong);
  if (t == 0) return torch::zeros({b, 0}, idx_options);
  // Token i starts a document when its id differs from token i-1's (token 0 always does); the
  // running maximum of the start indices is then the start of the current document.
  auto changed = document_ids.narrow(1, 1, t - 1).ne(document_ids.narrow(1, 0, t - 1));
  auto is_start = torch::cat({torch::ones({b, 1}, changed.options()), changed}, 1);  // (B, T)
  auto index = torch::arange(t, idx_options).expand({b, t});
  auto starts = torch::where(is_start, index, torch::zeros_like(index));
  return std::get<0>(torch::cummax(starts, 1));  // (B, T)
}

namespace {

// True where query i may not see key j: (T, S), or (B, 1, T, S) with key_lo.
torch::Tensor blocked_mask(int64_t t, int64_t s, const torch::Tensor& key_lo, const torch::Device& device) {
  auto idx = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto key = torch::arange(s, idx).view({1, s});
  auto query_pos = torch::arange(s - t, s, idx).view({t, 1});
  auto future = key.gt(query_pos);  // (T, S)
  if (!key_lo.defined()) return future;
  auto before = key.view({1, 1, 1, s}).lt(key_lo.view({key_lo.size(0), 1, t, 1}));  // (B, 1, T, S)
  return before.logical_or(future);
}

}  // namespace

torch::Tensor causal_attention(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                               const torch::Tensor& key_start, int64_t window, double dropout_p, double scale,
                               double softcap) {
  VOLT_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && k_in.sizes() == v_in.sizes() &&
                 q_in.size(1) % k_in.size(1) == 0 && k_in.size(2) >= q_in.size(2),
             "[attention] incompatible shapes q ", q_in.sizes(), ", k ", k_in.sizes(), ", v ", v_in.sizes());
  const double default_scale = 1.0 / std::sqrt(static_cast<double>(q_in.size(-1)));
  if (scale <= 0.0) scale = default_scale;
  // The fused kernels scale by 1/sqrt(hd): another scale is folded into q (the same scores).
  const auto q = softcap > 0.0 || scale == default_scale ? q_in : q_in * (scale / default_scale);
  const int64_t t = q.size(2), s = k_in.size(2), groups = q.size(1) / k_in.size(1);
  // Grouped-query attention: each key/value head serves `groups` query heads (transformers'
  // repeat_kv: head h of the queries reads head h / groups of the keys).
  auto k = groups > 1 ? k_in.repeat_interleave(groups, 1) : k_in;
  auto v = groups > 1 ? v_in.repeat_interleave(groups, 1) : v_in;
  // The first visible key of each query: its document's start and the window's left edge.
  torch::Tensor key_lo = key_start;
  if (window > 0 && s > window) {
    auto pos = torch::arange(s - t, s, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
    auto edge = (pos - (window - 1)).clamp_min(0).view({1, t}).expand({q.size(0), t});
    key_lo = key_lo.defined() ? torch::maximum(key_lo, edge) : edge.contiguous();
  }
#if VOLT_TORCH_AT_LEAST(2, 0)
  if (dropout_p == 0.0 && softcap == 0.0) {
    // Fused kernel; is_causal aligns the mask to the top-left, so with a cache (t < s), packed
    // documents or a window pass an explicit keep-mask (true = attend) instead.
    if (t == s && !key_lo.defined()) return compat::scaled_dot_product_attention(q, k, v, c10::nullopt, true);
    c10::optional<torch::Tensor> keep = blocked_mask(t, s, key_lo, q.device()).logical_not();
    return compat::scaled_dot_product_attention(q, k, v, keep, false);
  }
#endif
  if (dropout_p == 0.0 && softcap == 0.0 && cpu_fused_attention_available(q) && (!key_lo.defined() || t == s)) {
    return cpu_causal_attention(q, k, v, key_lo);
  }
  auto att = torch::matmul(q, k.transpose(-2, -1)) * (softcap > 0.0 ? scale : default_scale);  // (B, nh, T, S)
  if (softcap > 0.0) att = torch::tanh(att / softcap) * softcap;  // Gemma 2: before the mask
  // Every query sees at least itself, so no row is all -inf (softmax stays finite).
  att.masked_fill_(blocked_mask(t, s, key_lo, q.device()), -std::numeric_limits<float>::infinity());
  // In fp32 at least, as transformers does (float64 stays float64: checks run in it).
  const auto softmax_dtype = q.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  att = torch::softmax(att, -1, softmax_dtype).to(q.scalar_type());
  if (dropout_p > 0.0) att = torch::dropout(att, dropout_p, /*train=*/true);
  return torch::matmul(att, v);  // (B, nh, T, hd)
}

AttentionImpl::AttentionImpl(const AttentionOptions& o) : options(o) {
  VOLT_CHECK(o.n_head > 0 && o.n_kv_head > 0 && o.n_head % o.n_kv_head == 0 && o.head_dim > 0,
             "[attention] n_head (", o.n_head, ") must be a positive multiple of n_kv_head (", o.n_kv_head,
             ") and head_dim (", o.head_dim, ") positive");
  VOLT_CHECK(o.rotary_dim >= 0 && o.rotary_dim <= o.head_dim && o.rotary_dim % 2 == 0, "[attention] rotary_dim ",
             o.rotary_dim, " must be even and at most head_dim ", o.head_dim);
  const int64_t q_out = o.n_head * o.head_dim, kv_out = o.n_kv_head * o.head_dim;
  if (o.fused_qkv) {
    qkv = register_module(o.names.qkv, Linear(o.n_embd, q_out + 2 * kv_out, o.qkv_bias));
  } else {
    q = register_module(o.names.q, Linear(o.n_embd, q_out, o.qkv_bias));
    k = register_module(o.names.k, Linear(o.n_embd, kv_out, o.qkv_bias));
    v = register_module(o.names.v, Linear(o.n_embd, kv_out, o.qkv_bias));
  }
  out = register_module(o.names.out, Linear(q_out, o.n_embd, o.out_bias));
  if (o.qk_norm) {
    q_norm = register_module(o.names.q_norm, Norm(o.head_dim, o.qk_norm_options));
    k_norm = register_module(o.names.k_norm, Norm(o.head_dim, o.qk_norm_options));
  }
  resid_dropout = register_module("resid_dropout", torch::nn::Dropout(o.dropout));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                     KVCache* cache, int64_t layer, const torch::Tensor& key_start) {
  const int64_t b = x.size(0), t = x.size(1), hd = options.head_dim;
  const int64_t nh = options.n_head, nkv = options.n_kv_head;
  if (key_start.defined()) {
    VOLT_CHECK(cache == nullptr, "[attention] key_start (packed documents) cannot be combined with a KV cache");
    VOLT_CHECK(key_start.dim() == 2 && key_start.size(0) == b && key_start.size(1) == t &&
                   key_start.scalar_type() == torch::kLong,
               "[attention] key_start must be (B, T) = (", b, ", ", t, ") int64, got ", key_start.sizes(), " ",
               key_start.scalar_type());
  }
  torch::Tensor qh, kh, vh;  // (B, T, heads * hd)
  if (options.fused_qkv) {
    auto parts = qkv(x).split_with_sizes({nh * hd, nkv * hd, nkv * hd}, -1);
    qh = parts[0], kh = parts[1], vh = parts[2];
  } else {
    qh = q(x), kh = k(x), vh = v(x);
  }
  auto heads = [&](const torch::Tensor& y, int64_t n) { return y.view({b, t, n, hd}).transpose(1, 2); };
  auto qs = heads(qh, nh), ks = heads(kh, nkv), vs = heads(vh, nkv);  // (B, heads, T, hd)
  if (options.qk_norm) qs = q_norm(qs), ks = k_norm(ks);
  if (options.rotary_dim > 0) {
    VOLT_CHECK(cos.defined() && sin.defined(), "[attention] RoPE needs cos and sin for the positions");
    qs = apply_rope(qs, cos, sin), ks = apply_rope(ks, cos, sin);
  }
  if (cache != nullptr) std::tie(ks, vs) = cache->append(layer, ks, vs);  // (B, nkv, S, hd)
  const double p = is_training() ? options.dropout : 0.0;
  auto y = causal_attention(qs, ks, vs, key_start, options.sliding_window, p, options.scale, options.softcap);
  y = out(y.transpose(1, 2).contiguous().view({b, t, nh * hd}));  // (B, T, C)
  return p > 0.0 ? resid_dropout(y) : y;
}

}  // namespace volt::nn

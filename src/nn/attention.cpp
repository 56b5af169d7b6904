#include "volt/nn/attention.h"

#include <cmath>
#include <limits>

#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/nn/cpu_attention.h"

namespace volt::nn {

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const CausalSelfAttentionOptions& o)
    : options(o) {
  const int64_t c = o.n_embd();
  c_attn = register_module("c_attn", Linear(c, 3 * c, o.bias()));
  c_proj = register_module("c_proj", Linear(c, c, o.bias()));
  attn_dropout = register_module("attn_dropout", torch::nn::Dropout(o.dropout()));
  resid_dropout = register_module("resid_dropout", torch::nn::Dropout(o.dropout()));
}

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

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k_in, const torch::Tensor& v_in,
                               const torch::Tensor& key_start, int64_t window, double dropout_p) {
  VOLT_CHECK(q.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && k_in.sizes() == v_in.sizes() &&
                 q.size(1) % k_in.size(1) == 0 && k_in.size(2) >= q.size(2),
             "[attention] incompatible shapes q ", q.sizes(), ", k ", k_in.sizes(), ", v ", v_in.sizes());
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
  if (dropout_p == 0.0) {
    // Fused kernel; is_causal aligns the mask to the top-left, so with a cache (t < s), packed
    // documents or a window pass an explicit keep-mask (true = attend) instead.
    if (t == s && !key_lo.defined()) return compat::scaled_dot_product_attention(q, k, v, c10::nullopt, true);
    c10::optional<torch::Tensor> keep = blocked_mask(t, s, key_lo, q.device()).logical_not();
    return compat::scaled_dot_product_attention(q, k, v, keep, false);
  }
#endif
  if (dropout_p == 0.0 && cpu_fused_attention_available(q) && (!key_lo.defined() || t == s)) {
    return cpu_causal_attention(q, k, v, key_lo);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto att = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, nh, T, S)
  // Every query sees at least itself, so no row is all -inf (softmax stays finite).
  att.masked_fill_(blocked_mask(t, s, key_lo, q.device()), -std::numeric_limits<float>::infinity());
  att = torch::softmax(att, -1);
  if (dropout_p > 0.0) att = torch::dropout(att, dropout_p, /*train=*/true);
  return torch::matmul(att, v);  // (B, nh, T, hd)
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, KVCache* cache,
                                               int64_t layer, const torch::Tensor& key_start) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  if (key_start.defined()) {
    VOLT_CHECK(cache == nullptr, "[attention] key_start (packed documents) cannot be combined "
               "with a KV cache");
    VOLT_CHECK(key_start.dim() == 2 && key_start.size(0) == b && key_start.size(1) == t &&
                   key_start.scalar_type() == torch::kLong,
               "[attention] key_start must be (B, T) = (", b, ", ", t, ") int64, got ",
               key_start.sizes(), " ", key_start.scalar_type());
  }
  const int64_t nh = options.n_head(), hs = c / nh;
  auto qkv = c_attn(x).split(c, 2);  // 3 x (B, T, C)
  auto q = qkv[0].view({b, t, nh, hs}).transpose(1, 2);  // (B, nh, T, hs)
  auto k = qkv[1].view({b, t, nh, hs}).transpose(1, 2);
  auto v = qkv[2].view({b, t, nh, hs}).transpose(1, 2);
  if (cache != nullptr) std::tie(k, v) = cache->append(layer, k, v);  // (B, nh, S, hs)
  const double p = is_training() ? options.dropout() : 0.0;
  auto y = causal_attention(q, k, v, key_start, 0, p).transpose(1, 2).contiguous().view({b, t, c});
  y = c_proj(y);
  return options.dropout() > 0.0 ? resid_dropout(y) : y;
}

GroupedQueryAttentionImpl::GroupedQueryAttentionImpl(const GroupedQueryAttentionOptions& o) : options(o) {
  VOLT_CHECK(o.n_head > 0 && o.n_kv_head > 0 && o.n_head % o.n_kv_head == 0 && o.head_dim > 0,
             "[attention] n_head (", o.n_head, ") must be a positive multiple of n_kv_head (",
             o.n_kv_head, ") and head_dim (", o.head_dim, ") positive");
  auto linear = [&](const char* name, int64_t in, int64_t out) {
    return register_module(name, Linear(in, out, o.bias));
  };
  q_proj = linear("q_proj", o.n_embd, o.n_head * o.head_dim);
  k_proj = linear("k_proj", o.n_embd, o.n_kv_head * o.head_dim);
  v_proj = linear("v_proj", o.n_embd, o.n_kv_head * o.head_dim);
  // transformers gives o_proj a bias only with attention_bias too.
  o_proj = linear("o_proj", o.n_head * o.head_dim, o.n_embd);
}

torch::Tensor GroupedQueryAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                                 const torch::Tensor& sin, KVCache* cache,
                                                 int64_t layer, const torch::Tensor& key_start) {
  const int64_t b = x.size(0), t = x.size(1), hd = options.head_dim;
  auto heads = [&](const torch::Tensor& y, int64_t n) { return y.view({b, t, n, hd}).transpose(1, 2); };
  auto q = apply_rope(heads(q_proj(x), options.n_head), cos, sin);      // (B, nh, T, hd)
  auto k = apply_rope(heads(k_proj(x), options.n_kv_head), cos, sin);   // (B, nkv, T, hd)
  auto v = heads(v_proj(x), options.n_kv_head);
  if (cache != nullptr) std::tie(k, v) = cache->append(layer, k, v);   // (B, nkv, S, hd)
  const double p = is_training() ? options.dropout : 0.0;
  auto y = causal_attention(q, k, v, key_start, options.sliding_window, p);  // (B, nh, T, hd)
  return o_proj(y.transpose(1, 2).contiguous().view({b, t, options.n_head * hd}));
}

}  // namespace volt::nn

#include "volt/nn/attention.h"

#include <cmath>
#include <limits>

#include "volt/core/compat.h"
#include "volt/nn/cpu_attention.h"

namespace volt::nn {

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const CausalSelfAttentionOptions& o)
    : options(o) {
  const int64_t c = o.n_embd();
  c_attn = register_module("c_attn", torch::nn::Linear(torch::nn::LinearOptions(c, 3 * c).bias(o.bias())));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(c, c).bias(o.bias())));
  attn_dropout = register_module("attn_dropout", torch::nn::Dropout(o.dropout()));
  resid_dropout = register_module("resid_dropout", torch::nn::Dropout(o.dropout()));
  const int64_t n = o.max_seq_len();
  // A buffer (not a parameter) so .to(device) moves it; not part of the state dict's weights.
  causal_mask_ = register_buffer(
      "causal_mask", torch::ones({n, n}, torch::kBool).triu(1));
}

torch::Tensor CausalSelfAttentionImpl::attend(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v) {
  const int64_t t = q.size(2), s = k.size(2);
  const bool dropout = is_training() && options.dropout() > 0.0;
#if VOLT_TORCH_AT_LEAST(2, 0)
  if (!dropout) {
    // Fused kernel; is_causal aligns the mask to the top-left, so with a cache (t < s) pass an
    // explicit mask instead.
    if (t == s) return compat::scaled_dot_product_attention(q, k, v, c10::nullopt, true);
    auto keep = causal_mask_.narrow(0, s - t, t).narrow(1, 0, s).logical_not();
    return compat::scaled_dot_product_attention(q, k, v, keep, false);
  }
#endif
  if (!dropout && nn::cpu_fused_attention_available(q)) return cpu_causal_attention(q, k, v);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto att = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, nh, T, S)
  // Query i sits at absolute position s - t + i: it may see keys 0 .. s - t + i.
  att.masked_fill_(causal_mask_.narrow(0, s - t, t).narrow(1, 0, s),
                   -std::numeric_limits<float>::infinity());
  att = torch::softmax(att, -1);
  if (dropout) att = attn_dropout(att);
  return torch::matmul(att, v);  // (B, nh, T, hs)
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, KVCache* cache,
                                               int64_t layer) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  const int64_t nh = options.n_head(), hs = c / nh;
  auto qkv = c_attn(x).split(c, 2);  // 3 x (B, T, C)
  auto q = qkv[0].view({b, t, nh, hs}).transpose(1, 2);  // (B, nh, T, hs)
  auto k = qkv[1].view({b, t, nh, hs}).transpose(1, 2);
  auto v = qkv[2].view({b, t, nh, hs}).transpose(1, 2);
  if (cache != nullptr) std::tie(k, v) = cache->append(layer, k, v);  // (B, nh, S, hs)
  auto y = attend(q, k, v).transpose(1, 2).contiguous().view({b, t, c});  // (B, T, C)
  y = c_proj(y);
  return options.dropout() > 0.0 ? resid_dropout(y) : y;
}

}  // namespace volt::nn

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
  c_attn = register_module("c_attn", torch::nn::Linear(torch::nn::LinearOptions(c, 3 * c).bias(o.bias())));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(c, c).bias(o.bias())));
  attn_dropout = register_module("attn_dropout", torch::nn::Dropout(o.dropout()));
  resid_dropout = register_module("resid_dropout", torch::nn::Dropout(o.dropout()));
  const int64_t n = o.max_seq_len();
  // A buffer (not a parameter) so .to(device) moves it; not part of the state dict's weights.
  causal_mask_ = register_buffer(
      "causal_mask", torch::ones({n, n}, torch::kBool).triu(1));
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

torch::Tensor CausalSelfAttentionImpl::blocked_mask(int64_t t, int64_t s,
                                                    const torch::Tensor& key_start) const {
  // Query i sits at absolute position s - t + i: it may see keys 0 .. s - t + i.
  auto future = causal_mask_.narrow(0, s - t, t).narrow(1, 0, s);  // (T, S)
  // LibTorch's Module::to(dtype), unlike PyTorch's, converts every buffer, bool ones included:
  // after model->to(torch::kFloat64) the mask holds 1.0 / 0.0 and masked_fill needs bool again.
  if (future.scalar_type() != torch::kBool) future = future.ne(0);
  if (!key_start.defined()) return future;
  // ... and, in a packed row, none before its document's first token.
  auto key = torch::arange(s, key_start.options()).view({1, 1, 1, s});
  auto before = key.lt(key_start.view({key_start.size(0), 1, t, 1}));  // (B, 1, T, S)
  return before.logical_or(future);
}

torch::Tensor CausalSelfAttentionImpl::attend(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v,
                                              const torch::Tensor& key_start) {
  const int64_t t = q.size(2), s = k.size(2);
  const bool dropout = is_training() && options.dropout() > 0.0;
#if VOLT_TORCH_AT_LEAST(2, 0)
  if (!dropout) {
    // Fused kernel; is_causal aligns the mask to the top-left, so with a cache (t < s) or packed
    // documents pass an explicit keep-mask (true = attend) instead.
    if (t == s && !key_start.defined()) {
      return compat::scaled_dot_product_attention(q, k, v, c10::nullopt, true);
    }
    c10::optional<torch::Tensor> keep = blocked_mask(t, s, key_start).logical_not();
    return compat::scaled_dot_product_attention(q, k, v, keep, false);
  }
#endif
  if (!dropout && nn::cpu_fused_attention_available(q)) {
    return cpu_causal_attention(q, k, v, key_start);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto att = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, nh, T, S)
  // Every query sees at least itself, so no row is all -inf (softmax stays finite).
  att.masked_fill_(blocked_mask(t, s, key_start), -std::numeric_limits<float>::infinity());
  att = torch::softmax(att, -1);
  if (dropout) att = attn_dropout(att);
  return torch::matmul(att, v);  // (B, nh, T, hs)
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
  auto y = attend(q, k, v, key_start).transpose(1, 2).contiguous().view({b, t, c});  // (B, T, C)
  y = c_proj(y);
  return options.dropout() > 0.0 ? resid_dropout(y) : y;
}

}  // namespace volt::nn

// Rotary position embeddings (RoPE, Su et al. 2021), as Llama and Mistral use them. Each pair of
// channels (i, i + d/2) of a query or key at position m is rotated by the angle m * w_i:
//   w_i = theta^(-2i/d),  i = 0 .. d/2 - 1
//   RoPE(x, m) = x * cos(m w) + rotate_half(x) * sin(m w),  rotate_half([a, b]) = [-b, a]
// so the score <RoPE(q, m), RoPE(k, n)> depends on the positions only through m - n.
// Llama 3.1 stretches the context by scaling the frequencies (transformers'
// _compute_llama3_parameters): wavelengths 2 pi / w_i longer than L / low_freq_factor are divided
// by `factor`, those shorter than L / high_freq_factor kept, the band between interpolated
// (L = original_max_position_embeddings). "linear" scaling (position interpolation) divides every
// frequency by `factor`. Partial rotary (Phi, StableLM): only the first rotary_dim channels of each
// head rotate; the rest pass through.
#pragma once

#include <torch/torch.h>

#include <string>

namespace volt::nn {

struct RopeOptions {
  int64_t head_dim = 64;  // the rotated channels of a head (rotary_dim <= the head's width)
  double theta = 10000.0;
  std::string scaling;  // "", "llama3" or "linear"
  double factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

/// The d/2 frequencies w_i, float32, computed with transformers' operations in its order (so the
/// angles match it to the last bit on the same device).
torch::Tensor rope_inv_freq(const RopeOptions& options);

/// cos and sin of the angles for position ids (B, T): each (B, T, head_dim), float32.
std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const torch::Tensor& inv_freq,
                                                     const torch::Tensor& position_ids);

/// x (B, heads, T, head_dim) rotated by cos and sin (B, T, rotary_dim); with rotary_dim < head_dim
/// the remaining channels pass through unchanged. Result in x's dtype.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin);

}  // namespace volt::nn

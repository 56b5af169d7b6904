#include "volt/nn/rope.h"

#include <cmath>

#include "volt/core/check.h"

namespace volt::nn {

torch::Tensor rope_inv_freq(const RopeOptions& o) {
  VOLT_CHECK(o.head_dim > 0 && o.head_dim % 2 == 0, "[rope] head_dim must be even, got ",
             o.head_dim);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  // 1 / theta^(arange(0, d, 2) / d), as transformers writes it.
  auto exponents = torch::arange(0, o.head_dim, 2, torch::kLong).to(torch::kFloat32) /
                   static_cast<double>(o.head_dim);
  auto inv_freq = 1.0 / torch::pow(torch::scalar_tensor(o.theta, f32), exponents);
  if (o.scaling.empty()) return inv_freq;
  VOLT_CHECK(o.scaling == "llama3" || o.scaling == "linear", "[rope] scaling '", o.scaling,
             "' is not supported (llama3, linear)");
  if (o.scaling == "linear") return inv_freq / o.factor;
  const double old_len = static_cast<double>(o.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / o.low_freq_factor;
  const double high_freq_wavelen = old_len / o.high_freq_factor;
  auto wavelen = 2 * M_PI / inv_freq;
  // Long wavelengths (low frequencies) are interpolated by `factor`; short ones kept.
  auto scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / o.factor, inv_freq);
  auto smooth = (old_len / wavelen - o.low_freq_factor) / (o.high_freq_factor - o.low_freq_factor);
  auto smoothed = (1 - smooth) * scaled / o.factor + smooth * scaled;
  auto medium = wavelen.ge(high_freq_wavelen).logical_and(wavelen.le(low_freq_wavelen));
  return torch::where(medium, smoothed, scaled);
}

std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const torch::Tensor& inv_freq,
                                                     const torch::Tensor& position_ids) {
  VOLT_CHECK(position_ids.dim() == 2, "[rope] position_ids must be (B, T), got ",
             position_ids.sizes());
  // (B, T, d/2) angles m * w_i, in float32 whatever the model's dtype (angles reach 1e5 rad).
  auto freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) *
               inv_freq.to(position_ids.device()).view({1, 1, -1});
  auto emb = torch::cat({freqs, freqs}, -1);  // (B, T, d): both halves of each pair
  return {emb.cos(), emb.sin()};
}

torch::Tensor apply_rope(const torch::Tensor& x_in, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
  const int64_t rotary = cos.size(-1);
  if (rotary < x_in.size(-1)) {  // partial rotary: the tail of each head passes through
    auto head = apply_rope(x_in.narrow(-1, 0, rotary), cos, sin);
    return torch::cat({head, x_in.narrow(-1, rotary, x_in.size(-1) - rotary)}, -1);
  }
  const auto& x = x_in;
  const int64_t half = x.size(-1) / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  auto c = cos.unsqueeze(1).to(x.scalar_type()), s = sin.unsqueeze(1).to(x.scalar_type());
  return x * c + rotated * s;
}

}  // namespace volt::nn

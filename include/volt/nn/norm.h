// The normalisations of decoder-only models, one module chosen by options:
//   LayerNorm (GPT-2; nanoGPT's bias switch):  y = (x - mean(x)) / sqrt(var(x) + eps) * w + b
//   RMSNorm (Llama, Mistral, Qwen, Phi):        y = x / sqrt(mean(x^2) + eps) * w
//   RMSNorm with a unit offset (Gemma):         y = x / sqrt(mean(x^2) + eps) * (1 + w), w = 0 at
//   init
// RMSNorm computes in float32 whatever the input's dtype. Llama then casts the normalised value
// back and multiplies by w in the input's dtype; Gemma multiplies in float32 and casts the result,
// as transformers does for each, so half-precision runs match it.
#pragma once

#include <torch/torch.h>

#include <string>

namespace volt::nn {

struct NormOptions {
  std::string kind = "layernorm";  // "layernorm" | "rmsnorm"
  double eps = 1e-5;
  bool bias = true;          // LayerNorm only
  bool unit_offset = false;  // RMSNorm only: scale by (1 + w)
};

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t dim, NormOptions options);
  /// Normalises over the last dimension.
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  NormOptions options;
  int64_t dim;
  torch::Tensor weight;  // (dim)
  torch::Tensor bias;    // (dim) or undefined
};
TORCH_MODULE(Norm);

}  // namespace volt::nn

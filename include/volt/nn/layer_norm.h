// The two normalisations of decoder-only models.
// LayerNorm with an optional bias (GPT-2; nanoGPT's option: PyTorch's LayerNorm always has one):
//   y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias
// RMSNorm (Llama, Mistral): no centring, no bias; cheaper, and as good in practice:
//   y = x / sqrt(mean(x^2) + eps) * weight
#pragma once

#include <torch/torch.h>

namespace volt::nn {

class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, bool bias, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // (dim)
  torch::Tensor bias;    // (dim) or undefined
  int64_t dim;
  double eps;
};
TORCH_MODULE(LayerNorm);

class RMSNormImpl : public torch::nn::Module {
 public:
  explicit RMSNormImpl(int64_t dim, double eps = 1e-6);
  /// Normalises in float32 whatever the input's dtype, then multiplies by the weight in the
  /// input's dtype, as transformers' LlamaRMSNorm does (so half-precision runs match it).
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // (dim)
  int64_t dim;
  double eps;
};
TORCH_MODULE(RMSNorm);

}  // namespace volt::nn

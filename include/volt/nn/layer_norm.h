// LayerNorm with an optional bias (nanoGPT's: PyTorch's LayerNorm always has one).
//   y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias
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

}  // namespace volt::nn

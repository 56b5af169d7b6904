#include "volt/nn/layer_norm.h"

namespace volt::nn {

LayerNormImpl::LayerNormImpl(int64_t dim_, bool use_bias, double eps_) : dim(dim_), eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
  if (use_bias) bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x, {dim}, weight, bias, eps);
}

}  // namespace volt::nn

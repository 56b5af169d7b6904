#include "volt/nn/embedding.h"

#include "volt/nn/linear.h"

namespace volt::nn {

EmbeddingImpl::EmbeddingImpl(int64_t num_, int64_t dim_) : num(num_), dim(dim_) {
  weight = register_parameter("weight", empty_parameter({num, dim}));
  if (!weight.is_meta()) {
    torch::NoGradGuard no_grad;
    weight.normal_();
  }
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
  return torch::embedding(weight, ids);
}

}  // namespace volt::nn

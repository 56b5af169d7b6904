// A lookup table E (num, dim): rows by id, as torch::nn::Embedding (same parameter name "weight",
// same N(0, 1) default init), made on the meta device under nn::MetaParameters like volt's other
// layers so a model's size can be read off its module without memory.
#pragma once

#include <torch/torch.h>

namespace volt::nn {

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num, int64_t dim);
  /// ids (any shape) -> (..., dim)
  torch::Tensor forward(const torch::Tensor& ids);

  int64_t num, dim;
  torch::Tensor weight;  // (num, dim)
};
TORCH_MODULE(Embedding);

}  // namespace volt::nn

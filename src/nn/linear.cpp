#include "volt/nn/linear.h"

#include <cmath>

namespace volt::nn {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool use_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (use_bias) bias = register_parameter("bias", torch::empty({out}));
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
    bias.uniform_(-bound, bound);
  }
}

torch::Tensor LinearImpl::effective_weight() const { return weight_source ? weight_source->weight() : weight; }

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  auto y = torch::linear(x, effective_weight(), bias);
  return delta ? y + (*delta)(x) : y;
}

}  // namespace volt::nn

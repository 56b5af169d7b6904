#include "volt/nn/mlp.h"

namespace volt::nn {

GeluMLPImpl::GeluMLPImpl(int64_t n_embd, int64_t hidden, bool bias, double p,
                         std::string activation)
    : approximate_(activation == "gelu_new" ? "tanh" : "none"), p_(p) {
  c_fc = register_module("c_fc", torch::nn::Linear(torch::nn::LinearOptions(n_embd, hidden).bias(bias)));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, n_embd).bias(bias)));
  dropout = register_module("dropout", torch::nn::Dropout(p));
}

torch::Tensor GeluMLPImpl::forward(const torch::Tensor& x) {
  auto y = c_proj(torch::gelu(c_fc(x), approximate_));
  return p_ > 0.0 ? dropout(y) : y;
}

}  // namespace volt::nn

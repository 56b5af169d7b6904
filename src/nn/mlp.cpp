#include "volt/nn/mlp.h"

namespace volt::nn {

GeluMLPImpl::GeluMLPImpl(int64_t n_embd, int64_t hidden, bool bias, double p,
                         std::string activation)
    : approximate_(activation == "gelu_new" ? "tanh" : "none"), p_(p) {
  c_fc = register_module("c_fc", Linear(n_embd, hidden, bias));
  c_proj = register_module("c_proj", Linear(hidden, n_embd, bias));
  dropout = register_module("dropout", torch::nn::Dropout(p));
}

torch::Tensor GeluMLPImpl::forward(const torch::Tensor& x) {
  auto y = c_proj(torch::gelu(c_fc(x), approximate_));
  return p_ > 0.0 ? dropout(y) : y;
}

SwiGLUMLPImpl::SwiGLUMLPImpl(int64_t n_embd, int64_t hidden, bool bias) {
  auto linear = [&](const char* name, int64_t in, int64_t out) {
    return register_module(name, Linear(in, out, bias));
  };
  gate_proj = linear("gate_proj", n_embd, hidden);
  up_proj = linear("up_proj", n_embd, hidden);
  down_proj = linear("down_proj", hidden, n_embd);
}

torch::Tensor SwiGLUMLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

}  // namespace volt::nn

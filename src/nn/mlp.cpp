#include "volt/nn/mlp.h"

#include "volt/core/check.h"

namespace volt::nn {

torch::Tensor activate(const torch::Tensor& z, const std::string& a) {
  if (a == "silu") return torch::silu(z);
  if (a == "gelu_tanh") return torch::gelu(z, "tanh");
  if (a == "gelu") return torch::gelu(z);
  VOLT_FAIL("[mlp] activation '", a, "' is not one of silu, gelu, gelu_tanh");
}

MLPImpl::MLPImpl(const MLPOptions& o) : options(o) {
  activate(torch::zeros({1}), o.activation);  // an unknown activation fails here, not in forward
  if (!o.gated) {
    fc = register_module(o.names.fc, Linear(o.n_embd, o.hidden, o.bias));
    proj = register_module(o.names.proj, Linear(o.hidden, o.n_embd, o.bias));
  } else if (o.fused_gate_up) {
    gate_up = register_module(o.names.gate_up, Linear(o.n_embd, 2 * o.hidden, o.bias));
    down = register_module(o.names.down, Linear(o.hidden, o.n_embd, o.bias));
  } else {
    gate = register_module(o.names.gate, Linear(o.n_embd, o.hidden, o.bias));
    up = register_module(o.names.up, Linear(o.n_embd, o.hidden, o.bias));
    down = register_module(o.names.down, Linear(o.hidden, o.n_embd, o.bias));
  }
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  torch::Tensor y;
  if (!options.gated) {
    y = proj(activate(fc(x), options.activation));
  } else if (options.fused_gate_up) {
    auto gu = gate_up(x).chunk(2, -1);  // gate first, then up (Phi-3's layout)
    y = down(activate(gu[0], options.activation) * gu[1]);
  } else {
    y = down(activate(gate(x), options.activation) * up(x));
  }
  return options.dropout > 0.0 ? dropout(y) : y;
}

}  // namespace volt::nn

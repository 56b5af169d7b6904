// The feed-forward blocks, chosen by options.
// Plain (GPT-2): expand, activate, project back.
//   MLP(x) = W_2 act(W_1 x + b_1) + b_2,  W_1: (H, C), W_2: (C, H)
// Gated (Shazeer 2020): SwiGLU with SiLU (Llama, Mistral, Qwen, Phi-3), GeGLU with tanh-GELU
// (Gemma):
//   MLP(x) = W_down (act(W_gate x) * (W_up x)),  W_gate, W_up: (H, C), W_down: (C, H)
// Phi-3 stores W_gate and W_up as one (2H, C) matrix, gate first (fused_gate_up).
// Activations: "gelu" (exact, erf), "gelu_tanh" (GPT-2's gelu_new, Gemma's gelu_pytorch_tanh),
// "silu" (z sigmoid(z)).
#pragma once

#include <torch/torch.h>

#include <string>

#include "volt/nn/linear.h"
#include "volt/nn/module_names.h"

namespace volt::nn {

struct MLPOptions {
  int64_t n_embd = 0, hidden = 0;
  bool gated = false;
  bool fused_gate_up = false;
  bool bias = false;
  std::string activation = "gelu_tanh";
  double dropout = 0.0;  // on the output (GPT-2's resid dropout)
  MLPNames names;
};

/// act(z) by name; errors name an unknown one.
torch::Tensor activate(const torch::Tensor& z, const std::string& activation);

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const MLPOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  MLPOptions options;
  Linear fc{nullptr}, proj{nullptr};  // plain
  Linear gate{nullptr}, up{nullptr},
      down{nullptr};  // gated (gate_up instead of gate, up when fused)
  Linear gate_up{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(MLP);

}  // namespace volt::nn

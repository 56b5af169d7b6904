// The feed-forward blocks.
// GPT-2: expand, GELU, project back.
//   MLP(x) = W_2 GELU(W_1 x + b_1) + b_2,  W_1: (4C, C), W_2: (C, 4C)
// Llama / Mistral (SwiGLU, Shazeer 2020): a gated unit, SiLU(z) = z * sigmoid(z):
//   MLP(x) = W_down (SiLU(W_gate x) * (W_up x)),  W_gate, W_up: (F, C), W_down: (C, F)
#pragma once

#include <torch/torch.h>

#include "volt/nn/linear.h"

#include <string>

namespace volt::nn {

class GeluMLPImpl : public torch::nn::Module {
 public:
  /// activation: "gelu" (exact, erf) or "gelu_new" (GPT-2's tanh approximation).
  GeluMLPImpl(int64_t n_embd, int64_t hidden, bool bias, double dropout, std::string activation);
  torch::Tensor forward(const torch::Tensor& x);

  Linear c_fc{nullptr};    // (C) -> (hidden)
  Linear c_proj{nullptr};  // (hidden) -> (C)
  torch::nn::Dropout dropout{nullptr};

 private:
  std::string approximate_;  // "none" or "tanh", as torch::gelu takes it
  double p_;
};
TORCH_MODULE(GeluMLP);

class SwiGLUMLPImpl : public torch::nn::Module {
 public:
  SwiGLUMLPImpl(int64_t n_embd, int64_t hidden, bool bias);
  torch::Tensor forward(const torch::Tensor& x);

  // Hugging Face's names, so the state dict maps one to one.
  Linear gate_proj{nullptr};  // (C) -> (F)
  Linear up_proj{nullptr};    // (C) -> (F)
  Linear down_proj{nullptr};  // (F) -> (C)
};
TORCH_MODULE(SwiGLUMLP);

}  // namespace volt::nn

// A sparse mixture-of-experts feed-forward block (Mixtral, Qwen3-MoE): a router scores E experts
// per token, each token goes through its top k, and their outputs are mixed by the router's
// probabilities:
//   p = softmax(W_r x),  S = topk(p, k),  y = sum_{e in S} w_e MLP_e(x),
//   w_e = p_e / sum_{j in S} p_j  (norm_topk_prob; Mixtral always), else w_e = p_e
// Tokens are grouped by expert (sorted by expert id) so that each expert runs one matmul over all
// of its tokens, instead of a loop over tokens.
// Training adds the Switch Transformer's load-balancing loss over every MoE layer's router logits
// (transformers' load_balancing_loss_func, Fedus et al. 2021, eq. 4-6):
//   L_aux = E * sum_e f_e P_e,  f_e = the share of (token, slot) picks that went to e,
//   P_e = the mean router probability of e,
// which is 1 when routing is uniform and grows as it collapses onto few experts.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "volt/nn/mlp.h"

namespace volt::nn {

struct MoEOptions {
  int64_t n_embd = 0, expert_hidden = 0, n_experts = 0, top_k = 2;
  bool norm_topk_prob = true;
  std::string activation = "silu";
  std::string router_name = "gate", experts_name = "experts";
  MLPNames expert_names;  // each expert's gate / up / down (Mixtral: w1 / w3 / w2)
};

class MoEImpl : public torch::nn::Module {
 public:
  explicit MoEImpl(const MoEOptions& options);
  /// x: (B, T, C) -> (B, T, C). Keeps this call's router logits (N, E) for the auxiliary loss.
  torch::Tensor forward(const torch::Tensor& x);
  /// The router logits of the last forward (undefined before one).
  const torch::Tensor& router_logits() const { return router_logits_; }

  MoEOptions options;
  Linear router{nullptr};                  // (C) -> (E), no bias
  torch::nn::ModuleList experts{nullptr};  // E gated MLPs

 private:
  torch::Tensor router_logits_;
};
TORCH_MODULE(MoE);

/// The load-balancing loss over the router logits of every MoE layer of one forward (each (N, E),
/// concatenated as transformers does), for E experts and top-k routing.
torch::Tensor load_balancing_loss(const std::vector<torch::Tensor>& router_logits,
                                  int64_t n_experts, int64_t top_k);

}  // namespace volt::nn

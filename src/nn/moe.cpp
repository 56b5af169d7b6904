#include "volt/nn/moe.h"

#include "volt/core/check.h"

namespace volt::nn {

MoEImpl::MoEImpl(const MoEOptions& o) : options(o) {
  VOLT_CHECK(o.n_experts > 0 && o.top_k > 0 && o.top_k <= o.n_experts, "[moe] top_k (", o.top_k,
             ") must be in [1, n_experts (", o.n_experts, ")]");
  router = register_module(o.router_name, Linear(o.n_embd, o.n_experts, false));
  experts = register_module(o.experts_name, torch::nn::ModuleList());
  MLPOptions m;
  m.n_embd = o.n_embd, m.hidden = o.expert_hidden, m.gated = true, m.activation = o.activation;
  m.names = o.expert_names;
  for (int64_t e = 0; e < o.n_experts; ++e) experts->push_back(MLP(m));
}

torch::Tensor MoEImpl::forward(const torch::Tensor& x_in) {
  const int64_t c = x_in.size(-1), k = options.top_k, n_experts = options.n_experts;
  const auto x = x_in.reshape({-1, c});  // (N, C)
  router_logits_ = router(x);  // (N, E)
  // The router's softmax in fp32 at least, as transformers does (float64 stays float64).
  const auto fp = router_logits_.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto probs = torch::softmax(router_logits_.to(fp), -1);
  auto [weights, chosen] = probs.topk(k, -1);  // (N, k) each
  if (options.norm_topk_prob) weights = weights / weights.sum(-1, /*keepdim=*/true);
  weights = weights.to(x.scalar_type());
  // Group the N k (token, slot) picks by expert: one gather, one matmul chain and one scatter-add
  // per expert that was picked at all.
  const auto flat = chosen.reshape({-1});                                 // (N k)
  const auto order = std::get<1>(flat.sort(/*stable=*/true, 0, false));  // picks sorted by expert
  const auto token = order.div(k, "floor");                              // each pick's token
  const auto pick_weight = weights.reshape({-1}).index_select(0, order);  // (N k)
  const auto counts = torch::bincount(flat, {}, n_experts).cpu();
  auto y = torch::zeros_like(x);
  int64_t start = 0;
  const auto* count = counts.data_ptr<int64_t>();
  for (int64_t e = 0; e < n_experts; ++e) {
    if (count[e] == 0) continue;
    const auto rows = token.narrow(0, start, count[e]);
    auto h = experts[e]->as<MLPImpl>()->forward(x.index_select(0, rows));  // (n_e, C)
    y = y.index_add(0, rows, h * pick_weight.narrow(0, start, count[e]).unsqueeze(1));
    start += count[e];
  }
  return y.view(x_in.sizes());
}

torch::Tensor load_balancing_loss(const std::vector<torch::Tensor>& router_logits, int64_t n_experts, int64_t top_k) {
  VOLT_CHECK(!router_logits.empty(), "[moe] no router logits: the model has no MoE layer");
  const auto logits = torch::cat(router_logits, 0);               // (layers N, E)
  const auto fp = logits.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto probs = torch::softmax(logits.to(fp), -1);
  const auto chosen = std::get<1>(probs.topk(top_k, -1));         // (L N, k)
  const auto mask = torch::one_hot(chosen, n_experts).to(fp);  // (L N, k, E)
  const auto tokens_per_expert = mask.mean(0);                    // (k, E)
  const auto prob_per_expert = probs.mean(0);                     // (E)
  return (tokens_per_expert * prob_per_expert.unsqueeze(0)).sum() * static_cast<double>(n_experts);
}

}  // namespace volt::nn

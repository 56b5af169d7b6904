#include "volt/train/optim.h"

#include <cmath>
#include <set>

#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/train/adamw_kernel.h"

namespace volt {

namespace {

// Makes every parameter of a group a view into one flat buffer, and its gradient a view into a
// second one. Autograd accumulates into an existing .grad in place, so the views stay valid.
std::pair<torch::Tensor, torch::Tensor> flatten_group(ParamGroup& g) {
  VOLT_CHECK(!g.params.empty(), "[optim] parameter group '", g.name, "' is empty");
  const auto opts = g.params.front().options();
  int64_t total = 0;
  for (size_t i = 0; i < g.params.size(); ++i) {
    const auto& p = g.params[i];
    VOLT_CHECK(p.device() == opts.device() && p.scalar_type() == opts.dtype(),
               "[optim] parameter '", g.names[i], "' is on ", p.device(), " as ", p.scalar_type(),
               " but its group '", g.name, "' is on ", opts.device(), " as ",
               c10::typeMetaToScalarType(opts.dtype()));
    total += p.numel();
  }
  torch::NoGradGuard no_grad;
  auto flat = torch::empty({total}, opts);
  auto grads = torch::zeros({total}, opts);
  int64_t off = 0;
  for (auto& p : g.params) {
    const int64_t n = p.numel();
    flat.narrow(0, off, n).copy_(p.detach().reshape({-1}));
    p.set_data(flat.narrow(0, off, n).view(p.sizes()));
    p.mutable_grad() = grads.narrow(0, off, n).view(p.sizes());
    off += n;
  }
  return {flat, grads};
}

bool is_embedding_param(torch::nn::Module& module, const torch::Tensor& p) {
  auto owns = [&](torch::nn::Module& m) {
    auto* e = dynamic_cast<torch::nn::EmbeddingImpl*>(&m);
    return e && e->weight.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
  };
  // modules(include_self=false): the module itself may live on the stack, not in a shared_ptr.
  if (owns(module)) return true;
  for (const auto& m : module.modules(/*include_self=*/false)) {
    if (owns(*m)) return true;
  }
  return false;
}

}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions o) : options_(o) {
  VOLT_CHECK(o.lr >= 0, "[AdamW] invalid learning rate: ", o.lr);
  VOLT_CHECK(o.beta1 >= 0 && o.beta1 < 1, "[AdamW] invalid beta1: ", o.beta1);
  VOLT_CHECK(o.beta2 >= 0 && o.beta2 < 1, "[AdamW] invalid beta2: ", o.beta2);
  VOLT_CHECK(o.eps >= 0, "[AdamW] invalid eps: ", o.eps);
  VOLT_CHECK(o.weight_decay >= 0, "[AdamW] invalid weight_decay: ", o.weight_decay);
  groups_ = std::move(groups);
  for (auto& g : groups_) {
    if (g.lr <= 0) g.lr = g.initial_lr = o.lr;  // groups without their own rate take the default
    if (g.params.empty()) continue;
    auto [flat, grads] = flatten_group(g);
    flat_params_.push_back(flat);
    flat_grads_.push_back(grads);
    exp_avg_.push_back(torch::zeros_like(flat));
    exp_avg_sq_.push_back(torch::zeros_like(flat));
  }
  denom_.resize(flat_params_.size());
  groups_.erase(std::remove_if(groups_.begin(), groups_.end(),
                               [](const ParamGroup& g) { return g.params.empty(); }),
                groups_.end());
}

void Optimizer::use_fp32_master_weights() {
  VOLT_FAIL("[optim] ", name(),
            " cannot keep fp32 master weights (bf16-true with master_weights); "
            "use AdamW or set trainer.master_weights=false");
}

void AdamW::use_fp32_master_weights() {
  torch::NoGradGuard no_grad;
  if (!master_.empty()) return;
  bool any_low = false;
  for (const auto& p : flat_params_) any_low = any_low || p.scalar_type() != torch::kFloat32;
  if (!any_low) return;  // fp32 parameters are their own master copy
  for (size_t i = 0; i < flat_params_.size(); ++i) {
    master_.push_back(flat_params_[i].to(torch::kFloat32));
    exp_avg_[i] = exp_avg_[i].to(torch::kFloat32);
    exp_avg_sq_[i] = exp_avg_sq_[i].to(torch::kFloat32);
    denom_[i] = torch::Tensor();
  }
}

void AdamW::step() {
  torch::NoGradGuard no_grad;
  ++step_count_;
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (master_.empty()) {
      update(i, flat_params_[i], flat_grads_[i]);
      continue;
    }
    update(i, master_[i], flat_grads_[i].to(torch::kFloat32));
    flat_params_[i].copy_(master_[i]);  // round to the parameter's dtype
  }
}

void AdamW::update(size_t i, torch::Tensor& theta, const torch::Tensor& grad) {
  const auto& g = groups_[i];
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step_count_));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step_count_));
  if (options_.fused && theta.device().is_cpu() && theta.scalar_type() == torch::kFloat32 &&
      grad.scalar_type() == torch::kFloat32 && grad.is_contiguous()) {
    kernels::adamw_step_cpu(
        theta.data_ptr<float>(), grad.data_ptr<float>(), exp_avg_[i].data_ptr<float>(),
        exp_avg_sq_[i].data_ptr<float>(), theta.numel(),
        {static_cast<float>(g.lr), static_cast<float>(g.weight_decay), static_cast<float>(b1),
         static_cast<float>(b2), static_cast<float>(options_.eps), static_cast<float>(bc1),
         static_cast<float>(std::sqrt(bc2))});
    return;
  }
  // Other dtypes and devices: LibTorch's own fused kernel where it has one (2.4+, compat.h).
  if (options_.fused &&
      compat::try_fused_adamw_step(theta, grad, exp_avg_[i], exp_avg_sq_[i], step_count_, g.lr, b1,
                                   b2, g.weight_decay, options_.eps)) {
    return;
  }
  if (g.weight_decay != 0.0) theta.mul_(1.0 - g.lr * g.weight_decay);  // decoupled decay
  exp_avg_[i].lerp_(grad, 1.0 - b1);
  exp_avg_sq_[i].mul_(b2).addcmul_(grad, grad, 1.0 - b2);
  auto& denom = denom_[i];  // kept between steps: no parameter-sized allocation per step
  if (!denom.defined()) denom = torch::empty_like(exp_avg_sq_[i]);
  torch::sqrt_out(denom, exp_avg_sq_[i]);
  denom.div_(std::sqrt(bc2)).add_(options_.eps);
  theta.addcdiv_(exp_avg_[i], denom, -g.lr / bc1);
}

void AdamW::zero_grad() {
  for (auto& g : flat_grads_) g.zero_();
}

std::vector<std::pair<std::string, torch::Tensor>> AdamW::state_tensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i < groups_.size(); ++i) {
    int64_t off = 0;
    for (size_t j = 0; j < groups_[i].params.size(); ++j) {
      const auto& p = groups_[i].params[j];
      const int64_t n = p.numel();
      out.emplace_back("exp_avg." + groups_[i].names[j],
                       exp_avg_[i].narrow(0, off, n).view(p.sizes()));
      out.emplace_back("exp_avg_sq." + groups_[i].names[j],
                       exp_avg_sq_[i].narrow(0, off, n).view(p.sizes()));
      if (!master_.empty()) {
        out.emplace_back("master." + groups_[i].names[j],
                         master_[i].narrow(0, off, n).view(p.sizes()));
      }
      off += n;
    }
  }
  out.emplace_back("step", torch::tensor({step_count_}, torch::kLong));
  return out;
}

void AdamW::load_state_tensors(const std::map<std::string, torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  auto get = [&](const std::string& key) -> const torch::Tensor& {
    auto it = state.find(key);
    VOLT_CHECK(it != state.end(), "[AdamW] optimizer state has no '", key, "'");
    return it->second;
  };
  for (size_t i = 0; i < groups_.size(); ++i) {
    int64_t off = 0;
    for (size_t j = 0; j < groups_[i].params.size(); ++j) {
      const auto& p = groups_[i].params[j];
      const int64_t n = p.numel();
      for (auto* buf : {&exp_avg_[i], &exp_avg_sq_[i]}) {
        const std::string key =
            (buf == &exp_avg_[i] ? "exp_avg." : "exp_avg_sq.") + groups_[i].names[j];
        const auto& t = get(key);
        VOLT_CHECK(t.numel() == n, "[AdamW] optimizer state '", key, "' has ", t.numel(),
                   " values, the parameter has ", n);
        buf->narrow(0, off, n).copy_(t.reshape({-1}));
      }
      if (!master_.empty()) {
        const std::string key = "master." + groups_[i].names[j];
        const auto& t = get(key);
        VOLT_CHECK(t.numel() == n, "[AdamW] optimizer state '", key, "' has ", t.numel(),
                   " values, the parameter has ", n);
        master_[i].narrow(0, off, n).copy_(t.reshape({-1}));
      }
      off += n;
    }
  }
  step_count_ = get("step").item<int64_t>();
}

std::vector<ParamGroup> weight_decay_groups(torch::nn::Module& module, double weight_decay,
                                            bool decay_embeddings) {
  ParamGroup decay{"decay", {}, {}, 0, 0, weight_decay};
  ParamGroup no_decay{"no_decay", {}, {}, 0, 0, 0.0};
  std::set<const void*> seen;  // a tied parameter appears once
  for (const auto& kv : module.named_parameters()) {
    const auto& p = kv.value();
    if (!p.requires_grad() || !seen.insert(p.unsafeGetTensorImpl()).second) continue;
    const bool decays = p.dim() >= 2 && (decay_embeddings || !is_embedding_param(module, p));
    auto& g = decays ? decay : no_decay;
    g.names.push_back(kv.key());
    g.params.push_back(p);
  }
  return {decay, no_decay};
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& grads, double max_norm,
                             const std::function<double(double)>& sum_over_ranks) {
  torch::NoGradGuard no_grad;
  VOLT_CHECK(!grads.empty() || sum_over_ranks, "[clip] no gradients to clip");
  std::vector<torch::Tensor> norms;
  for (const auto& g : grads)
    norms.push_back(g.scalar_type() == torch::kFloat32 ? g.norm() : g.to(torch::kFloat32).norm());
  torch::Tensor norm;
  if (sum_over_ranks) {
    const double local =
        norms.empty() ? 0.0 : torch::stack(norms).to(torch::kFloat64).pow(2).sum().item<double>();
    norm = torch::tensor(std::sqrt(sum_over_ranks(local)), torch::kFloat32);
  } else {
    norm = norms.size() == 1 ? norms.front() : torch::stack(norms).norm();
  }
  if (max_norm > 0) {
    auto coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);
    for (auto g : grads) g.mul_(coef.to(g.device()).to(g.scalar_type()));
  }
  return norm;
}

}  // namespace volt

#include "volt/nn/checkpoint.h"

#include <memory>

#include "volt/core/compat.h"

namespace volt::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The block function travels from forward to backward inside the autograd context.
struct FnHolder : torch::CustomClassHolder {
  explicit FnHolder(BlockFn f) : fn(std::move(f)) {}
  BlockFn fn;
};

// The default generator of x's device, and the CPU's (dropout masks on either).
std::vector<at::Generator> generators(const torch::Device& device) {
  std::vector<at::Generator> out{at::globalContext().defaultGenerator(torch::Device(torch::kCPU))};
  if (!device.is_cpu()) out.push_back(at::globalContext().defaultGenerator(device));
  return out;
}

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  // Arguments: fn (not a tensor), x, params (each one an input of the node).
  static torch::Tensor forward(AutogradContext* ctx, const BlockFn& fn, const torch::Tensor& x,
                               torch::TensorList params) {
    ctx->saved_data["fn"] = c10::IValue::make_capsule(c10::make_intrusive<FnHolder>(fn));
    const auto gens = generators(x.device());
    for (size_t i = 0; i < gens.size(); ++i) ctx->saved_data["rng" + std::to_string(i)] = gens[i].get_state();
    const auto dtype = compat::active_autocast_dtype(x.device().type());
    ctx->saved_data["autocast"] = dtype ? static_cast<int64_t>(*dtype) : int64_t{-1};
    std::vector<torch::Tensor> saved{x};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    return fn(x);  // grad mode is off here: nothing inside is kept for backward
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const auto holder = ctx->saved_data["fn"].toCapsule();
    const BlockFn& fn = static_cast<FnHolder*>(holder.get())->fn;

    // Replay the first pass's random streams, then put the current ones back.
    const auto gens = generators(x.device());
    std::vector<torch::Tensor> now;
    for (size_t i = 0; i < gens.size(); ++i) {
      auto g = gens[i];
      now.push_back(g.get_state());
      g.set_state(ctx->saved_data["rng" + std::to_string(i)].toTensor());
    }
    torch::Tensor y;
    torch::Tensor x_again = x.detach().requires_grad_(x.requires_grad());
    {
      torch::AutoGradMode enable(true);
      const int64_t dtype = ctx->saved_data["autocast"].toInt();
      std::unique_ptr<compat::AutocastGuard> autocast;
      if (dtype >= 0) {
        autocast = std::make_unique<compat::AutocastGuard>(x.device().type(), static_cast<torch::Dtype>(dtype));
      }
      y = fn(x_again);
    }
    for (size_t i = 0; i < gens.size(); ++i) {
      auto g = gens[i];
      g.set_state(now[i]);
    }

    // Gradients with respect to whatever needs one: x and the parameters that require grad.
    std::vector<torch::Tensor> wrt;
    std::vector<size_t> slot;  // position of each in the returned list (after fn's empty slot)
    if (x.requires_grad()) wrt.push_back(x_again), slot.push_back(1);
    for (size_t i = 1; i < saved.size(); ++i) {
      if (saved[i].requires_grad()) wrt.push_back(saved[i]), slot.push_back(i + 1);
    }
    variable_list out(saved.size() + 1);  // fn, x, params...
    if (wrt.empty() || !y.requires_grad()) return out;
    const auto grads = torch::autograd::grad({y}, wrt, {grad_out[0]}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); ++i) out[slot[i]] = grads[i];
    return out;
  }
};

}  // namespace

torch::Tensor checkpoint(const BlockFn& fn, const torch::Tensor& x, const std::vector<torch::Tensor>& params) {
  if (!torch::GradMode::is_enabled()) return fn(x);
  return CheckpointFunction::apply(fn, x, torch::TensorList(params));
}

}  // namespace volt::nn

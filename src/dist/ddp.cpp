#include "volt/dist/ddp.h"

#include "volt/core/check.h"

namespace volt::dist {

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> params,
                                 int64_t bucket_bytes)
    : group_(std::move(group)), params_(std::move(params)) {
  where_.resize(params_.size());
  seen_.assign(params_.size(), false);
  // Reverse order: the last layers' gradients are computed first. As PyTorch's DDP does, a bucket
  // takes parameters until it reaches bucket_bytes, then closes (so small tensors such as norms
  // ride along with the large one that follows them instead of travelling alone).
  int64_t fill = 0;
  bool open = false;
  for (size_t k = params_.size(); k-- > 0;) {
    if (!open) buckets_.emplace_back(), fill = 0, open = true;
    auto& b = buckets_.back();
    where_[k] = {buckets_.size() - 1, b.params.size()};
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    fill += params_[k].numel() * 4;
    if (fill >= bucket_bytes) open = false;
  }
  for (auto& b : buckets_) {
    const int64_t n = b.offsets.back() + params_[b.params.back()].numel();
    b.flat = torch::zeros({n}, params_[b.params.front()].options().dtype(torch::kFloat32));
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    // The hook sees this backward's contribution g; the gradient the step needs is what .grad
    // already holds (earlier micro-batches) plus g.
    hook_ids_.push_back(params_[k].register_hook([this, k](const torch::Tensor& g) {
      if (armed_) on_gradient(k, g);
    }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < params_.size() && k < hook_ids_.size(); ++k) params_[k].remove_hook(hook_ids_[k]);
}

void GradientReducer::prepare_for_backward() {
  armed_ = true;
  seen_.assign(params_.size(), false);
  for (auto& b : buckets_) b.ready = 0, b.pending.reset();
  next_launch_ = 0;
}

void GradientReducer::on_gradient(size_t k, const torch::Tensor& g) {
  VOLT_CHECK(!seen_[k], "[ddp] parameter ", k, " received two gradients in one backward (a parameter used "
             "twice through a reentrant path is not supported)");
  seen_[k] = true;
  auto& b = buckets_[where_[k].first];
  const int64_t off = b.offsets[where_[k].second], n = params_[k].numel();
  torch::NoGradGuard no_grad;
  auto slot = b.flat.slice(0, off, off + n);
  slot.copy_(g.reshape({-1}));
  if (params_[k].grad().defined()) slot.add_(params_[k].grad().reshape({-1}));
  ++b.ready;
  // Buckets launch strictly in index order on every rank (Gloo pairs collectives by order): a
  // complete bucket waits for the ones before it.
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == static_cast<int64_t>(buckets_[next_launch_].params.size())) {
    launch(buckets_[next_launch_++]);
  }
}

void GradientReducer::launch(Bucket& b) { b.pending = group_->all_reduce_sum_async(b.flat); }

void GradientReducer::finish() {
  VOLT_CHECK(armed_, "[ddp] finish() without prepare_for_backward()");
  armed_ = false;
  torch::NoGradGuard no_grad;
  // Every rank launches the same buckets in the same order (Gloo matches collectives by order):
  // a bucket not complete here is launched now, its missing gradients as the accumulated .grad
  // (or zero), on every rank alike.
  for (; next_launch_ < buckets_.size(); ++next_launch_) {
    auto& b = buckets_[next_launch_];
    for (size_t s = 0; s < b.params.size(); ++s) {
      const size_t k = b.params[s];
      if (seen_[k]) continue;
      auto slot = b.flat.slice(0, b.offsets[s], b.offsets[s] + params_[k].numel());
      const auto& acc = params_[k].grad();
      if (acc.defined()) {
        slot.copy_(acc.reshape({-1}));
      } else {
        slot.zero_();
      }
    }
    launch(b);
  }
  for (auto& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    for (size_t s = 0; s < b.params.size(); ++s) {
      auto& p = params_[b.params[s]];
      const auto sum = b.flat.slice(0, b.offsets[s], b.offsets[s] + p.numel()).view(p.sizes()).to(p.scalar_type());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(sum);
      } else {
        p.mutable_grad() = sum.clone();
      }
    }
  }
}

void broadcast_module(ProcessGroup& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) group.broadcast(p, 0);
  for (auto& b : module.buffers()) {
    if (b.is_floating_point() || b.scalar_type() == torch::kLong || b.scalar_type() == torch::kInt) group.broadcast(b, 0);
  }
}

}  // namespace volt::dist

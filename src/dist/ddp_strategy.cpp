#include "volt/dist/ddp_strategy.h"

#include <set>

#include "volt/core/check.h"

#include "volt/train/lightning_module.h"

namespace volt::dist {

DDPStrategy::DDPStrategy(std::shared_ptr<ProcessGroup> group, int64_t bucket_bytes)
    : DataParallelStrategy(std::move(group)), bucket_bytes_(bucket_bytes) {}

void DDPStrategy::setup(LightningModule& m) {
  if (!group_) return;
  for (const auto& p : m.parameters()) {
    VOLT_CHECK(p.device().is_cpu(), "[ddp] the model is on ", p.device(), ": CUDA tensors need NCCL, which this "
               "build of volt does not use yet (ddp runs on CPU with Gloo)");
  }
  broadcast_module(*group_, m);
  std::vector<torch::Tensor> trainable;
  std::set<const void*> seen;
  for (const auto& p : m.parameters()) {
    if (p.requires_grad() && seen.insert(p.unsafeGetTensorImpl()).second) trainable.push_back(p);
  }
  reducer_ = std::make_unique<GradientReducer>(group_, trainable, bucket_bytes_);
}

void DDPStrategy::before_backward(bool last) {
  if (reducer_ && last && !armed_) {
    reducer_->prepare_for_backward();
    armed_ = true;
  }
}

void DDPStrategy::finish_gradients() {
  if (!reducer_) return;
  if (!armed_) reducer_->prepare_for_backward();  // every rank must reduce, even one that had no backward
  reducer_->finish();
  armed_ = false;
}

}  // namespace volt::dist

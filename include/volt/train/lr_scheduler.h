// Learning-rate schedules, stepped once per optimizer step. Each maps a step to a rate:
//   warmup (t < W):          lr(t) = lr_max * (t + 1) / (W + 1)
//   cosine (W <= t <= D):    lr(t) = lr_min + 1/2 (1 + cos(pi (t - W) / (D - W))) (lr_max - lr_min)
//   after D:                 lr(t) = lr_min
// (nanoGPT's get_lr, so a volt run and a nanoGPT run see the same rates.)
#pragma once

#include <memory>
#include <string>

#include "volt/core/config.h"
#include "volt/train/optim.h"

namespace volt {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  /// The rate for a group whose base rate is base_lr, at optimizer step `step` (0-based).
  virtual double lr_at(int64_t step, double base_lr) const = 0;
  /// Sets every group's lr for the coming step.
  void apply(Optimizer& opt, int64_t step) const {
    for (auto& g : opt.param_groups()) g.lr = lr_at(step, g.initial_lr);
  }
};

class ConstantLR : public LRScheduler {
 public:
  double lr_at(int64_t, double base_lr) const override { return base_lr; }
};

class CosineWithWarmup : public LRScheduler {
 public:
  /// min_lr is absolute for a group whose base rate is `reference_lr`, scaled for other groups.
  CosineWithWarmup(int64_t warmup_steps, int64_t decay_steps, double min_lr, double reference_lr);
  double lr_at(int64_t step, double base_lr) const override;

 private:
  int64_t warmup_, decay_;
  double min_ratio_;
};

/// Reads the `scheduler:` section: name (cosine | constant), warmup_steps, decay_steps
/// (default: trainer max_steps), min_lr.
std::shared_ptr<LRScheduler> scheduler_from(ConfigSection& section, double base_lr,
                                            int64_t default_decay_steps);

}  // namespace volt

#include "volt/train/lr_scheduler.h"

#include <cmath>

#include "volt/core/check.h"

namespace volt {

CosineWithWarmup::CosineWithWarmup(int64_t warmup_steps, int64_t decay_steps, double min_lr,
                                   double reference_lr)
    : warmup_(warmup_steps), decay_(decay_steps), min_ratio_(reference_lr > 0 ? min_lr / reference_lr : 0) {
  VOLT_CHECK(warmup_steps >= 0, "[scheduler] warmup_steps must be >= 0, got ", warmup_steps);
  VOLT_CHECK(decay_steps > warmup_steps, "[scheduler] decay_steps (", decay_steps,
             ") must exceed warmup_steps (", warmup_steps, ")");
  VOLT_CHECK(min_lr >= 0 && min_lr <= reference_lr, "[scheduler] min_lr ", min_lr,
             " must lie in [0, lr = ", reference_lr, "]");
}

double CosineWithWarmup::lr_at(int64_t step, double base_lr) const {
  const double min_lr = base_lr * min_ratio_;
  if (step < warmup_) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_ + 1);
  if (step > decay_) return min_lr;
  const double ratio = static_cast<double>(step - warmup_) / static_cast<double>(decay_ - warmup_);
  const double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
  return min_lr + coeff * (base_lr - min_lr);
}

std::shared_ptr<LRScheduler> scheduler_from(ConfigSection& s, double base_lr,
                                            int64_t default_decay_steps) {
  const auto name = s.get<std::string>("name", "cosine");
  if (name == "constant") return std::make_shared<ConstantLR>();
  VOLT_CHECK(name == "cosine", "[config] scheduler.name '", name, "' is not known (cosine, constant)");
  const auto warmup = s.get<int64_t>("warmup_steps", 0);
  const auto decay = s.get<int64_t>("decay_steps", default_decay_steps);
  VOLT_CHECK(decay > 0, "[config] scheduler.decay_steps is needed when trainer.max_steps is not set");
  const auto min_lr = s.get<double>("min_lr", base_lr * 0.1);
  return std::make_shared<CosineWithWarmup>(warmup, decay, min_lr, base_lr);
}

}  // namespace volt

// Learning-rate schedules, stepped once per optimizer step (the Trainer calls apply(opt, t) before
// optimizer step t = 0, 1, ...; LearningRateMonitor logs the rates it set). Each maps a step to a
// rate. Every schedule shares one warmup over W = warmup_steps steps:
//   warmup (t < W):          lr(t) = lr_max * (t + 1) / (W + 1)
// cosine (nanoGPT's get_lr, so a volt run and a nanoGPT run see the same rates), D = decay_steps:
//   cosine (W <= t <= D):    lr(t) = lr_min + 1/2 (1 + cos(pi (t - W) / (D - W))) (lr_max - lr_min)
//   after D:                 lr(t) = lr_min
// linear, D = decay_steps:
//   linear (W <= t <= D):    lr(t) = lr_min + (lr_max - lr_min) (D - t) / (D - W)
//   after D:                 lr(t) = lr_min
// constant:
//   after warmup (t >= W):   lr(t) = lr_max                (W = 0: lr_max at every step)
// wsd (warmup-stable-decay, MiniCPM), T = total_steps, K = decay_steps (the length of the final
// decay phase, not its end), S = T - K the step where the decay starts, p = (t - S) / K:
//   stable (W <= t < S):     lr(t) = lr_max
//   decay (S <= t <= T):     lr(t) = lr_min + (lr_max - lr_min) f(p), f by decay_shape:
//                              linear:  f(p) = 1 - p
//                              cosine:  f(p) = 1/2 (1 + cos(pi p))
//                              1-sqrt:  f(p) = 1 - sqrt(p)    (Hägele et al. 2024, "Scaling Laws
//                                       and Compute-Optimal Training Beyond Fixed Training Durations")
//   after T:                 lr(t) = lr_min
// lr_min (min_lr) is absolute for the reference rate (the optimizer's lr); a parameter group whose
// base rate is b runs the same curve scaled by b / lr_ref, so it ends at b * min_lr / lr_ref.
//
// Hugging Face: with min_lr 0, linear equals get_linear_schedule_with_warmup(num_warmup_steps = W,
// num_training_steps = D), lr * max(0, (D - t) / (D - W)), at every t >= W; wsd equals
// get_wsd_schedule(num_warmup_steps = W, num_decay_steps = K, num_training_steps = T,
// decay_type = decay_shape, min_lr_ratio = min_lr / lr) at every t >= W. Only the warmup differs:
// HF ramps lr * t / W (0 at t = 0), volt keeps nanoGPT's (t + 1) / (W + 1) for every schedule, so
// switching schedules never changes the warmup. Both reach lr_max at t = W.
//
// The YAML `scheduler:` section (read by scheduler_from):
//   name: cosine | linear | constant | wsd            (default cosine)
//   cosine, linear:  warmup_steps (0), decay_steps D (trainer.max_steps), min_lr (lr / 10)
//   constant:        warmup_steps (0)
//   wsd:             warmup_steps (0), decay_steps K (total_steps / 10, at least 1),
//                    total_steps T (trainer.max_steps), decay_shape (linear), min_lr (lr / 10)
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

/// lr_max after an optional warmup; with warmup_steps 0 the base rate at every step.
class ConstantLR : public LRScheduler {
 public:
  explicit ConstantLR(int64_t warmup_steps = 0);
  double lr_at(int64_t step, double base_lr) const override;
  int64_t warmup_steps() const { return warmup_; }

 private:
  int64_t warmup_;
};

/// Warmup over W steps, then a decay from lr_max at W to min_lr at D = decay_steps, then min_lr:
/// what cosine and linear share; `decay(p)` is the curve, 1 at p = 0 to 0 at p = 1.
class WarmupThenDecay : public LRScheduler {
 public:
  /// min_lr is absolute for a group whose base rate is `reference_lr`, scaled for other groups.
  WarmupThenDecay(int64_t warmup_steps, int64_t decay_steps, double min_lr, double reference_lr);
  double lr_at(int64_t step, double base_lr) const override;

 protected:
  /// The share of lr_max - min_lr left at step t (W <= t <= D).
  virtual double decay(int64_t step) const = 0;
  int64_t warmup_, decay_;

 private:
  double min_ratio_;
};

class CosineWithWarmup : public WarmupThenDecay {
 public:
  using WarmupThenDecay::WarmupThenDecay;

 protected:
  double decay(int64_t step) const override;
};

/// Warmup, then a straight line from lr_max at step W to min_lr at step D = decay_steps.
class LinearWithWarmup : public WarmupThenDecay {
 public:
  using WarmupThenDecay::WarmupThenDecay;

 protected:
  double decay(int64_t step) const override;
};

/// The curve of warmup-stable-decay's final phase.
enum class DecayShape { kLinear, kCosine, kOneMinusSqrt };

/// "linear", "cosine" or "1-sqrt" (the YAML spelling).
std::string to_string(DecayShape shape);

/// Warmup over W steps, lr_max until T - K, then decay to min_lr over the last K = decay_steps
/// steps of T = total_steps.
class WarmupStableDecay : public LRScheduler {
 public:
  /// min_lr is absolute for a group whose base rate is `reference_lr`, scaled for other groups.
  WarmupStableDecay(int64_t warmup_steps, int64_t decay_steps, int64_t total_steps, DecayShape shape,
                    double min_lr, double reference_lr);
  double lr_at(int64_t step, double base_lr) const override;
  /// The first step of the decay phase, T - K.
  int64_t decay_start() const { return total_ - decay_; }

 private:
  int64_t warmup_, decay_, total_;
  DecayShape shape_;
  double min_ratio_;
};

/// Reads the `scheduler:` section (keys above). default_total_steps is trainer max_steps (<= 0
/// when not set): the default decay end of cosine and linear and the default total_steps of wsd.
/// A key of another schedule is an error here unless null (so `--scheduler.min_lr=null` drops a
/// file's key when an override switches schedule); unknown keys are left unread, for the caller's
/// finish() to report with a suggestion.
std::shared_ptr<LRScheduler> scheduler_from(ConfigSection& section, double base_lr,
                                            int64_t default_total_steps);

}  // namespace volt

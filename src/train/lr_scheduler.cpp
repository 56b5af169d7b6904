#include "volt/train/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "volt/core/check.h"

namespace volt {

namespace {

/// The warmup every schedule shares (nanoGPT's): lr_max * (t + 1) / (W + 1) for t < W.
double warmup_lr(int64_t step, int64_t warmup_steps, double base_lr) {
  return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps + 1);
}

void check_min_lr(double min_lr, double reference_lr) {
  VOLT_CHECK(min_lr >= 0 && min_lr <= reference_lr, "[scheduler] min_lr ", min_lr,
             " must lie in [0, lr = ", reference_lr, "]");
}

double min_ratio_of(double min_lr, double reference_lr) { return reference_lr > 0 ? min_lr / reference_lr : 0; }

}  // namespace

ConstantLR::ConstantLR(int64_t warmup_steps) : warmup_(warmup_steps) {
  VOLT_CHECK(warmup_steps >= 0, "[scheduler] warmup_steps must be >= 0, got ", warmup_steps);
}

double ConstantLR::lr_at(int64_t step, double base_lr) const {
  if (warmup_ > 0 && step < warmup_) return warmup_lr(step, warmup_, base_lr);
  return base_lr;
}

WarmupThenDecay::WarmupThenDecay(int64_t warmup_steps, int64_t decay_steps, double min_lr, double reference_lr)
    : warmup_(warmup_steps), decay_(decay_steps), min_ratio_(min_ratio_of(min_lr, reference_lr)) {
  VOLT_CHECK(warmup_steps >= 0, "[scheduler] warmup_steps must be >= 0, got ", warmup_steps);
  VOLT_CHECK(decay_steps > warmup_steps, "[scheduler] decay_steps (", decay_steps,
             ") must exceed warmup_steps (", warmup_steps, ")");
  check_min_lr(min_lr, reference_lr);
}

double WarmupThenDecay::lr_at(int64_t step, double base_lr) const {
  const double min_lr = base_lr * min_ratio_;
  if (step < warmup_) return warmup_lr(step, warmup_, base_lr);
  if (step > decay_) return min_lr;
  return min_lr + decay(step) * (base_lr - min_lr);
}

double CosineWithWarmup::decay(int64_t step) const {
  const double ratio = static_cast<double>(step - warmup_) / static_cast<double>(decay_ - warmup_);
  return 0.5 * (1.0 + std::cos(M_PI * ratio));
}

double LinearWithWarmup::decay(int64_t step) const {
  // (D - t) / (D - W) as Hugging Face writes it, so that with min_lr 0 the rates agree exactly.
  return static_cast<double>(decay_ - step) / static_cast<double>(decay_ - warmup_);
}

std::string to_string(DecayShape shape) {
  switch (shape) {
    case DecayShape::kLinear: return "linear";
    case DecayShape::kCosine: return "cosine";
    case DecayShape::kOneMinusSqrt: return "1-sqrt";
  }
  return "?";
}

WarmupStableDecay::WarmupStableDecay(int64_t warmup_steps, int64_t decay_steps, int64_t total_steps,
                                     DecayShape shape, double min_lr, double reference_lr)
    : warmup_(warmup_steps),
      decay_(decay_steps),
      total_(total_steps),
      shape_(shape),
      min_ratio_(min_ratio_of(min_lr, reference_lr)) {
  VOLT_CHECK(warmup_steps >= 0, "[scheduler] warmup_steps must be >= 0, got ", warmup_steps);
  VOLT_CHECK(decay_steps >= 1, "[scheduler] decay_steps must be >= 1, got ", decay_steps);
  VOLT_CHECK(decay_steps <= total_steps, "[scheduler] decay_steps (", decay_steps,
             ") must not exceed total_steps (", total_steps, ")");
  VOLT_CHECK(warmup_steps + decay_steps <= total_steps, "[scheduler] warmup_steps (", warmup_steps,
             ") + decay_steps (", decay_steps, ") must not exceed total_steps (", total_steps,
             "): the decay would start at step ", total_steps - decay_steps, ", inside the warmup");
  check_min_lr(min_lr, reference_lr);
}

double WarmupStableDecay::lr_at(int64_t step, double base_lr) const {
  const double min_lr = base_lr * min_ratio_;
  if (step < warmup_) return warmup_lr(step, warmup_, base_lr);
  const int64_t start = total_ - decay_;
  if (step < start) return base_lr;
  if (step > total_) return min_lr;
  const double p = static_cast<double>(step - start) / static_cast<double>(decay_);
  double f = 0;
  switch (shape_) {
    case DecayShape::kLinear: f = 1.0 - p; break;
    case DecayShape::kCosine: f = 0.5 * (1.0 + std::cos(M_PI * p)); break;
    case DecayShape::kOneMinusSqrt: f = 1.0 - std::sqrt(p); break;
  }
  return min_lr + f * (base_lr - min_lr);
}

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

DecayShape decay_shape_from(const std::string& name) {
  for (auto s : {DecayShape::kLinear, DecayShape::kCosine, DecayShape::kOneMinusSqrt}) {
    if (to_string(s) == name) return s;
  }
  VOLT_FAIL("[config] scheduler.decay_shape '", name, "' is not one of linear, cosine, 1-sqrt");
}

}  // namespace

std::shared_ptr<LRScheduler> scheduler_from(ConfigSection& s, double base_lr, int64_t default_total_steps) {
  const std::vector<std::string> names = {"cosine", "linear", "constant", "wsd"};
  const auto name = s.get<std::string>("name", "cosine");
  VOLT_CHECK(std::find(names.begin(), names.end(), name) != names.end(), "[config] ", s.full("name"), " '",
             name, "' is not one of ", joined(names));

  // A key of another schedule (min_lr under constant, total_steps under cosine) is an error, not a
  // silent no-op, unless it is null (`--scheduler.min_lr=null` drops a file's key when an override
  // switches schedule); keys of no schedule are left to the caller's finish(), which suggests a
  // spelling.
  std::vector<std::string> own = {"name", "warmup_steps"};
  if (name == "cosine" || name == "linear") own.insert(own.end(), {"decay_steps", "min_lr"});
  if (name == "wsd") own.insert(own.end(), {"decay_steps", "total_steps", "decay_shape", "min_lr"});
  for (const auto& k : s.keys()) {
    const bool any = k == "decay_steps" || k == "min_lr" || k == "total_steps" || k == "decay_shape";
    if (!any || std::find(own.begin(), own.end(), k) != own.end()) continue;
    VOLT_CHECK(!s.has(k), "[config] ", s.full(k), " does not apply to scheduler '", name,
               "' (its keys: ", joined(own), "; set it to null to drop it)");
    s.mark(k);
  }

  const auto warmup = s.get<int64_t>("warmup_steps", 0);
  VOLT_CHECK(warmup >= 0, "[config] ", s.full("warmup_steps"), " must be >= 0, got ", warmup);
  if (name == "constant") return std::make_shared<ConstantLR>(warmup);

  const auto min_lr = s.get<double>("min_lr", base_lr * 0.1);
  VOLT_CHECK(min_lr >= 0, "[config] ", s.full("min_lr"), " must be >= 0, got ", min_lr);

  if (name == "cosine" || name == "linear") {
    const bool given = s.has("decay_steps");
    const auto decay = s.get<int64_t>("decay_steps", default_total_steps);
    if (given) {
      VOLT_CHECK(decay > 0, "[config] ", s.full("decay_steps"), " must be > 0, got ", decay);
    } else {
      VOLT_CHECK(decay > 0, "[config] scheduler.decay_steps is needed when trainer.max_steps is not set");
      VOLT_CHECK(warmup < decay, "[config] ", s.full("warmup_steps"), " (", warmup,
                 ") must be less than decay_steps, which defaults to trainer.max_steps (", decay, ")");
    }
    if (name == "linear") return std::make_shared<LinearWithWarmup>(warmup, decay, min_lr, base_lr);
    return std::make_shared<CosineWithWarmup>(warmup, decay, min_lr, base_lr);
  }

  // wsd
  const bool total_given = s.has("total_steps");
  const auto total = s.get<int64_t>("total_steps", default_total_steps);
  if (total_given) {
    VOLT_CHECK(total > 0, "[config] ", s.full("total_steps"), " must be > 0, got ", total);
  } else {
    VOLT_CHECK(total > 0, "[config] scheduler.total_steps is needed when trainer.max_steps is not set");
  }
  const auto decay = s.get<int64_t>("decay_steps", std::max<int64_t>(1, total / 10));
  VOLT_CHECK(decay > 0, "[config] ", s.full("decay_steps"), " must be > 0, got ", decay);
  VOLT_CHECK(decay <= total, "[config] ", s.full("decay_steps"), " (", decay, ") must not exceed total_steps (",
             total, total_given ? ")" : ", trainer.max_steps)");
  const auto shape = decay_shape_from(s.get<std::string>("decay_shape", "linear"));
  return std::make_shared<WarmupStableDecay>(warmup, decay, total, shape, min_lr, base_lr);
}

}  // namespace volt

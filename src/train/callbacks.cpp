#include "volt/train/callbacks.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "volt/core/check.h"
#include "volt/peft/lora.h"
#include "volt/train/trainer.h"

namespace volt {

namespace fs = std::filesystem;

namespace {
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
}  // namespace

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions o) : options_(std::move(o)) {
  VOLT_CHECK(options_.mode == "min" || options_.mode == "max", "[ModelCheckpoint] mode '",
             options_.mode, "' must be min or max");
  VOLT_CHECK(options_.save_top_k >= -1, "[ModelCheckpoint] save_top_k must be >= -1, got ",
             options_.save_top_k);
}

std::string ModelCheckpoint::dirpath(const Trainer& t) const {
  return options_.dirpath.empty() ? (fs::path(t.run_dir()) / "checkpoints").string()
                                  : options_.dirpath;
}

void ModelCheckpoint::save_last(Trainer& t) {
  if (!options_.save_last) return;
  t.save_checkpoint((fs::path(dirpath(t)) / "last").string());
  last_saved_step_ = t.global_step();
}

std::optional<double> ModelCheckpoint::score_now(Trainer& t) {
  if (options_.monitor.empty()) return -static_cast<double>(t.global_step());  // the newest is best
  auto it = t.callback_metrics().find(options_.monitor);
  if (it != t.callback_metrics().end()) return options_.mode == "min" ? it->second : -it->second;
  std::string logged;
  for (const auto& kv : t.callback_metrics()) logged += (logged.empty() ? "" : ", ") + kv.first;
  const std::string what =
      str("[ModelCheckpoint] monitor '", options_.monitor,
          "' was never logged (logged: ", logged.empty() ? "nothing yet" : logged, ")");
  // Lightning: before the first validation a validation metric cannot exist yet: warn and wait.
  VOLT_CHECK(!validated_, what);
  if (!warned_missing_) {
    t.print(
        what +
        "; no top-k checkpoint until it is (trainer.checkpoint.monitor: none keeps the newest)");
    warned_missing_ = true;
  }
  return std::nullopt;
}

void ModelCheckpoint::update_best() {
  auto best = std::min_element(top_k_.begin(), top_k_.end(),
                               [](auto& a, auto& b) { return a.second < b.second; });
  if (best == top_k_.end()) return;
  best_model_path_ = best->first;
  best_score_ = options_.monitor.empty() ? 0
                : options_.mode == "min" ? best->second
                                         : -best->second;
}

void ModelCheckpoint::save(Trainer& t) {
  if (t.in_nonfinite_streak()) return;  // never replace a good checkpoint with a diverged state
  const auto score = options_.save_top_k != 0 ? score_now(t) : std::nullopt;
  if (score && !std::isnan(*score)) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "step-%06lld", static_cast<long long>(t.global_step()));
    const std::string path = (fs::path(dirpath(t)) / tag).string();
    std::string displaced;
    bool keep = true;
    if (options_.save_top_k > 0 && static_cast<int64_t>(top_k_.size()) >= options_.save_top_k &&
        !top_k_.count(path)) {
      auto worst = std::max_element(top_k_.begin(), top_k_.end(),
                                    [](auto& a, auto& b) { return a.second < b.second; });
      keep = *score < worst->second;
      if (keep) displaced = worst->first;
    }
    if (keep) {
      // The state written into the new checkpoint already counts it (and no longer the one it
      // displaces), as Lightning's does; the displaced one is deleted only once this is on disk.
      if (!displaced.empty()) top_k_.erase(displaced);
      top_k_[path] = *score;
      update_best();
      t.save_checkpoint(path);
      if (!displaced.empty() && t.is_global_zero())
        fs::remove_all(displaced);  // fsdp: every rank runs this
    }
  }
  save_last(t);
}

void ModelCheckpoint::on_validation_end(Trainer& t, LightningModule&) {
  if (!t.fitting()) return;
  validated_ = true;
  save(t);
}

void ModelCheckpoint::on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor&,
                                         const Batch&, int64_t) {
  if (options_.every_n_train_steps > 0 && t.global_step() % options_.every_n_train_steps == 0)
    save(t);
}

void ModelCheckpoint::on_train_end(Trainer& t, LightningModule&) {
  if (t.in_nonfinite_streak()) return;
  if (last_saved_step_ != t.global_step()) save_last(t);
}

void ModelCheckpoint::state_dict(nlohmann::json& s) const {
  s["best_model_path"] = best_model_path_;
  s["best_model_score"] = best_score_;
  s["top_k"] = top_k_;
  s["monitor"] = options_.monitor;
}

void ModelCheckpoint::load_state_dict(const nlohmann::json& s) {
  best_model_path_ = s.value("best_model_path", "");
  best_score_ = s.value("best_model_score", 0.0);
  if (s.contains("top_k")) top_k_ = s["top_k"].get<std::map<std::string, double>>();
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions o) : options_(std::move(o)) {
  VOLT_CHECK(options_.mode == "min" || options_.mode == "max", "[EarlyStopping] mode '",
             options_.mode, "' must be min or max");
  VOLT_CHECK(options_.patience >= 1, "[EarlyStopping] patience must be >= 1, got ",
             options_.patience);
  VOLT_CHECK(options_.min_delta >= 0, "[EarlyStopping] min_delta must be >= 0, got ",
             options_.min_delta);
  VOLT_CHECK(!options_.monitor.empty(),
             "[EarlyStopping] monitor must name a logged metric, e.g. val_loss");
}

void EarlyStopping::on_validation_end(Trainer& t, LightningModule&) {
  if (!t.fitting()) return;
  auto it = t.callback_metrics().find(options_.monitor);
  if (it == t.callback_metrics().end()) {
    const std::string what =
        str("[EarlyStopping] monitor '", options_.monitor, "' was never logged");
    VOLT_CHECK(!options_.strict, what, " (set strict: false to only warn)");
    t.print(what);
    return;
  }
  const double value = it->second;
  auto stop = [&](const std::string& why) {
    t.should_stop = true;
    stopped_step_ = t.global_step();
    t.print(str("[EarlyStopping] ", why, "; stopping after step ", t.global_step()));
  };
  if (options_.check_finite && !std::isfinite(value)) {
    return stop(str(options_.monitor, " = ", value, " is not finite"));
  }
  const double s = options_.mode == "min" ? value : -value;
  if (!has_best_ || s < best_ - options_.min_delta) {
    best_ = s, has_best_ = true, wait_ = 0;
    return;
  }
  if (++wait_ >= options_.patience) {
    stop(str(options_.monitor, " did not improve by more than ", options_.min_delta, " over ",
             wait_, " validations (best ", options_.mode == "min" ? best_ : -best_, ")"));
  }
}

void EarlyStopping::state_dict(nlohmann::json& s) const {
  s["wait_count"] = wait_;
  s["stopped_step"] = stopped_step_;
  if (has_best_) s["best_score"] = options_.mode == "min" ? best_ : -best_;
  s["patience"] = options_.patience;
}

void EarlyStopping::load_state_dict(const nlohmann::json& s) {
  wait_ = s.value("wait_count", int64_t{0});
  stopped_step_ = s.value("stopped_step", int64_t{-1});
  has_best_ = s.contains("best_score");
  if (has_best_)
    best_ = options_.mode == "min" ? s["best_score"].get<double>() : -s["best_score"].get<double>();
}

void ModelSummary::on_fit_start(Trainer& t, LightningModule& m) {
  const peft::ParameterCount c = peft::count_parameters(m);
  const int64_t frozen = c.total - c.trainable;
  auto human = [](int64_t n) {
    char buf[32];
    if (n >= 1000000000)
      std::snprintf(buf, sizeof buf, "%.2f B", static_cast<double>(n) / 1e9);
    else if (n >= 1000000)
      std::snprintf(buf, sizeof buf, "%.2f M", static_cast<double>(n) / 1e6);
    else if (n >= 1000)
      std::snprintf(buf, sizeof buf, "%.1f K", static_cast<double>(n) / 1e3);
    else
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    return std::string(buf);
  };
  const double share =
      c.total > 0 ? 100.0 * static_cast<double>(c.trainable) / static_cast<double>(c.total) : 0;
  t.print(str("Parameters: ", human(c.trainable), " trainable, ", human(frozen), " frozen, ",
              human(c.total), " total (", fmt("%.2f", share), "% trainable)"));
}

void LearningRateMonitor::on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor&,
                                             const Batch&, int64_t) {
  const auto* opt = t.optimizer();
  if (!opt || opt->param_groups().empty()) return;
  const auto& groups = opt->param_groups();
  std::map<std::string, double> m{{"lr", groups.front().lr}};
  for (size_t i = 1; i < groups.size(); ++i) {
    if (groups[i].lr != groups.front().lr) m["lr-" + groups[i].name] = groups[i].lr;
  }
  t.log_metrics(m);
}

void ProgressBarCallback::on_train_start(Trainer& t, LightningModule&) {
  bar_ = std::make_unique<ProgressBar>(t.max_steps(), "Training");
  bar_->set_initial(t.global_step());  // a resumed run's rate and ETA count only its own steps
}

std::vector<std::pair<std::string, std::string>> ProgressBarCallback::fields(
    const Trainer& t) const {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("loss", fmt("%.4f", last_loss_));
  if (const auto* opt = t.optimizer(); opt && !opt->param_groups().empty()) {
    out.emplace_back("lr", fmt("%.2e", opt->param_groups().front().lr));
  }
  const double tps = t.tokens_per_second();
  out.emplace_back("tok/s", tps >= 1e4 ? fmt("%.1fk", tps / 1e3) : fmt("%.0f", tps));
  for (const auto& [k, v] : t.progress_bar_metrics()) out.emplace_back(k, fmt("%.4f", v));
  return out;
}

void ProgressBarCallback::on_train_batch_end(Trainer& t, LightningModule&,
                                             const torch::Tensor& loss, const Batch&, int64_t) {
  if (!bar_) return;
  last_loss_ = loss.item<double>();
  bar_->update(t.global_step(), fields(t));
}

void ProgressBarCallback::on_validation_end(Trainer& t, LightningModule&) {
  std::ostringstream os;
  os << "step " << t.global_step() << ":";
  for (const auto& [k, v] : t.callback_metrics()) {
    if (k.rfind("val", 0) == 0) os << " " << k << " " << fmt("%.4f", v);
  }
  if (auto it = t.callback_metrics().find("train_loss"); it != t.callback_metrics().end()) {
    os << ", train_loss " << fmt("%.4f", it->second);
  }
  write_line(os.str());
  if (bar_) bar_->update(t.global_step(), fields(t));  // show the new val metrics right away
}

void ProgressBarCallback::on_train_end(Trainer&, LightningModule&) {
  if (bar_) bar_->finish();
}

void ProgressBarCallback::write_line(const std::string& line) {
  if (bar_) {
    bar_->write_line(line);
  } else {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
}

}  // namespace volt

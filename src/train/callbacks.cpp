#include "volt/train/callbacks.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "volt/core/check.h"
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
  return options_.dirpath.empty() ? (fs::path(t.run_dir()) / "checkpoints").string() : options_.dirpath;
}

void ModelCheckpoint::save_last(Trainer& t) {
  if (!options_.save_last) return;
  t.save_checkpoint((fs::path(dirpath(t)) / "last").string());
  last_saved_step_ = t.global_step();
}

void ModelCheckpoint::save(Trainer& t) {
  if (t.in_nonfinite_streak()) return;  // never replace a good checkpoint with a diverged state
  char tag[32];
  std::snprintf(tag, sizeof tag, "step-%06lld", static_cast<long long>(t.global_step()));
  const std::string path = (fs::path(dirpath(t)) / tag).string();
  if (options_.save_top_k != 0) {
    double score = static_cast<double>(t.global_step());  // no monitor: newest is best
    bool keep = true;
    if (!options_.monitor.empty()) {
      auto it = t.callback_metrics().find(options_.monitor);
      VOLT_CHECK(it != t.callback_metrics().end(), "[ModelCheckpoint] monitor '", options_.monitor,
                 "' was never logged (logged: ", [&] {
                   std::string s;
                   for (auto& kv : t.callback_metrics()) s += (s.empty() ? "" : ", ") + kv.first;
                   return s;
                 }(), ")");
      score = options_.mode == "min" ? it->second : -it->second;
    } else {
      score = -score;  // lower is better below
    }
    if (options_.save_top_k > 0 && static_cast<int64_t>(top_k_.size()) >= options_.save_top_k) {
      auto worst = std::max_element(top_k_.begin(), top_k_.end(),
                                    [](auto& a, auto& b) { return a.second < b.second; });
      keep = score < worst->second;
      if (keep) {
        if (t.is_global_zero()) fs::remove_all(worst->first);  // fsdp: every rank runs this callback
        top_k_.erase(worst);
      }
    }
    if (keep && !std::isnan(score)) {
      t.save_checkpoint(path);
      top_k_[path] = score;
    }
    auto best = std::min_element(top_k_.begin(), top_k_.end(),
                                 [](auto& a, auto& b) { return a.second < b.second; });
    if (best != top_k_.end()) {
      best_model_path_ = best->first;
      best_score_ = options_.mode == "min" ? best->second : -best->second;
      if (options_.monitor.empty()) best_score_ = 0;
    }
  }
  save_last(t);
}

void ModelCheckpoint::on_validation_end(Trainer& t, LightningModule&) {
  if (t.fitting()) save(t);
}

void ModelCheckpoint::on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor&,
                                         const Batch&, int64_t) {
  if (options_.every_n_train_steps > 0 && t.global_step() % options_.every_n_train_steps == 0) save(t);
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

std::vector<std::pair<std::string, std::string>> ProgressBarCallback::fields(const Trainer& t) const {
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

void ProgressBarCallback::on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor& loss,
                                             const Batch&, int64_t) {
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

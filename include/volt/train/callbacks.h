// Lightning's built-in callbacks: ModelCheckpoint, LearningRateMonitor and the progress bar.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "volt/core/progress_bar.h"
#include "volt/train/callback.h"

namespace volt {

struct ModelCheckpointOptions {
  std::string dirpath;        // default: <run dir>/checkpoints
  std::string monitor;        // a logged metric, e.g. "val_loss"; empty: keep the latest
  std::string mode = "min";   // "min" or "max"
  int64_t save_top_k = 1;     // best k checkpoints kept; -1: all; 0: none (save_last still works)
  bool save_last = true;      // also keep checkpoints/last, updated at every save and at the end
  int64_t every_n_train_steps = 0;  // also save every n steps (0: only after validation)
};

/// Saves checkpoint directories named step-000250 (the top k by `monitor`) and `last`.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions options = {});
  std::string name() const override { return "ModelCheckpoint"; }
  void on_validation_end(Trainer&, LightningModule&) override;
  void on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor&, const Batch&,
                          int64_t) override;
  void on_train_end(Trainer&, LightningModule&) override;
  void state_dict(nlohmann::json& state) const override;
  void load_state_dict(const nlohmann::json& state) override;

  const std::string& best_model_path() const { return best_model_path_; }
  double best_model_score() const { return best_score_; }
  std::string dirpath(const Trainer& t) const;

 private:
  void save(Trainer& t);
  void save_last(Trainer& t);
  ModelCheckpointOptions options_;
  std::map<std::string, double> top_k_;  // tag -> score
  std::string best_model_path_;
  double best_score_ = 0;
  int64_t last_saved_step_ = -1;
};

/// Logs the learning rate as `lr` at every step (and `lr-<group>` for groups that differ).
class LearningRateMonitor : public Callback {
 public:
  std::string name() const override { return "LearningRateMonitor"; }
  void on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor&, const Batch&,
                          int64_t) override;
};

/// A live bar with step, loss, lr, tokens/s and ETA (plain lines when stdout is not a terminal).
class ProgressBarCallback : public Callback {
 public:
  std::string name() const override { return "ProgressBar"; }
  void on_train_start(Trainer&, LightningModule&) override;
  void on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor&, const Batch&,
                          int64_t) override;
  void on_validation_end(Trainer&, LightningModule&) override;
  void on_train_end(Trainer&, LightningModule&) override;
  void write_line(const std::string& line);

 private:
  std::vector<std::pair<std::string, std::string>> fields(const Trainer& t) const;
  std::unique_ptr<ProgressBar> bar_;
  double last_loss_ = 0;
};

}  // namespace volt

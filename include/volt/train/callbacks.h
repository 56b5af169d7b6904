// Lightning's built-in callbacks: ModelCheckpoint, EarlyStopping, LearningRateMonitor, ModelSummary
// and the progress bar.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "volt/core/progress_bar.h"
#include "volt/train/callback.h"

namespace volt {

struct ModelCheckpointOptions {
  std::string dirpath;  // default: <run dir>/checkpoints
  std::string
      monitor;  // a logged metric, e.g. "val_loss"; empty (Lightning's None): keep the latest
  std::string mode = "min";  // "min" or "max"
  int64_t save_top_k = 1;    // best k checkpoints kept; -1: all; 0: none (save_last still works)
  bool save_last = true;     // also keep checkpoints/last, updated at every save and at the end
  int64_t every_n_train_steps = 0;  // also save every n steps (0: only after validation)
};

/// Saves checkpoint directories named step-000250 (the top k by `monitor`) and `last`. As in
/// Lightning, a new checkpoint is written first (its saved state already counting it among the
/// top k) and only then is the one it displaces deleted: a kill in between leaves k + 1, never
/// fewer than k. A monitor not logged yet is skipped with a warning until validation has run
/// once; after that it is an error.
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
  // The score of this step (lower is better), or nullopt when the monitor is not logged yet.
  std::optional<double> score_now(Trainer& t);
  void update_best();
  ModelCheckpointOptions options_;
  std::map<std::string, double> top_k_;  // path -> score (lower is better)
  std::string best_model_path_;
  double best_score_ = 0;
  int64_t last_saved_step_ = -1;
  bool validated_ = false;  // a validation has run in this fit: a missing monitor is now an error
  bool warned_missing_ = false;
};

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  std::string mode = "min";  // "min" or "max"
  int64_t patience = 3;      // validations without improvement before stopping
  double min_delta = 0.0;    // an improvement must beat the best by more than this
  bool check_finite = true;  // stop at once when the monitor is NaN or infinite
  bool strict = true;        // a monitor that was never logged is an error (else a warning)
};

/// Lightning's EarlyStopping: after each validation, stops the fit when `monitor` has not improved
/// by more than min_delta for `patience` validations in a row (or is not finite).
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  std::string name() const override { return "EarlyStopping"; }
  void on_validation_end(Trainer&, LightningModule&) override;
  void state_dict(nlohmann::json& state) const override;
  void load_state_dict(const nlohmann::json& state) override;
  int64_t wait_count() const { return wait_; }
  int64_t stopped_step() const { return stopped_step_; }

 private:
  EarlyStoppingOptions options_;
  double best_ = 0;
  bool has_best_ = false;
  int64_t wait_ = 0;
  int64_t stopped_step_ = -1;
};

/// Lightning's ModelSummary: at fit start, the trainable, frozen and total parameter counts (tied
/// weights once).
class ModelSummary : public Callback {
 public:
  std::string name() const override { return "ModelSummary"; }
  void on_fit_start(Trainer&, LightningModule&) override;
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

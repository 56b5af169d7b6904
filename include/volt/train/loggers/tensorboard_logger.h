// Lightning's TensorBoardLogger: TensorBoard event files in the run directory itself (runs/<name>/
// plays the part of Lightning's lightning_logs/version_N/), so `tensorboard --logdir runs` shows
// each run under its name, its hyperparameters in the HPARAMS tab.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "volt/io/tensorboard_writer.h"
#include "volt/train/logger.h"

namespace volt::loggers {

class TensorBoardLogger : public Logger {
 public:
  /// No file until something is logged; each writer opened later (after finalize()) starts a
  /// file of its own in the same directory.
  explicit TensorBoardLogger(const std::string& run_dir, io::TensorBoardWriterOptions options = {});

  /// `_hparams_/session_start_info` now; finalize() adds the experiment (the HPARAMS columns:
  /// these hyperparameters and every metric logged but "epoch").
  void log_hyperparams(const HParams& params) override;
  /// One event of float32 scalars at step, "epoch" included (as Lightning logs it).
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step) override;
  /// A SessionLog START at step + 1: TensorBoard hides what earlier files hold past step.
  void resume(int64_t step) override;
  void save() override;
  /// Once per logger, if hyperparameters were logged: the experiment and, unless interrupted,
  /// the session's end (success or failure). Then closes the file.
  void finalize(RunStatus status) override;

  /// The writer, for what the interface does not cover (text, e.g.), like Lightning's
  /// `logger.experiment`; opened on first use.
  io::TensorBoardWriter& experiment();

 private:
  io::TensorBoardWriterOptions options_;
  std::unique_ptr<io::TensorBoardWriter> writer_;
  HParams hparams_;
  bool logged_hparams_ = false, ended_ = false;
  std::set<std::string> metric_tags_;
};

}  // namespace volt::loggers

// Lightning's Logger: where a run's hyperparameters and metrics go (metrics.csv, TensorBoard
// event files, ...). The Trainer talks to this interface only; a new logger is a new file under
// train/loggers/ and a name in make_logger.
//
// Only rank 0 logs. The Trainer creates its loggers on rank 0 alone and holds none on the other
// ranks (as it does with metrics.csv), so no logger needs to know its rank: Lightning's
// rank_zero_only, decided once where loggers are made instead of in every method.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "volt/core/hparams.h"

namespace volt {

/// How a run ended: Lightning's finalize("success") and finalize("failed"), plus interrupted
/// (stopped by a signal after saving a checkpoint to resume from: not over yet).
enum class RunStatus { success, failed, interrupted };

class Logger {
 public:
  /// run_dir: the run's directory (runs/<name>/), which each logger writes into.
  explicit Logger(std::string run_dir);
  virtual ~Logger() = default;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  /// Lightning's name, version and log_dir: the run's name (the last part of the run
  /// directory); its version, "" since volt keeps one directory per run and no version_N level
  /// under it; the directory the files go to.
  virtual std::string name() const;
  virtual std::string version() const { return ""; }
  virtual std::string log_dir() const { return run_dir_; }

  /// The run's hyperparameters, e.g. flatten_hparams(the resolved config); once per run.
  virtual void log_hyperparams(const HParams& params) = 0;
  /// The metrics of one optimizer step. An "epoch" entry is the epoch (Lightning adds it to
  /// every logged dict). Names must be non-empty; a logger may refuse more (CSV: a comma, quote
  /// or line break), with a volt::Error that leaves it unchanged.
  virtual void log_metrics(const std::map<std::string, double>& metrics, int64_t step) = 0;
  /// The run resumes from a checkpoint taken at `step`: what an earlier run logged after it is
  /// dropped (CSV) or hidden (TensorBoard). Call it before logging anything new.
  virtual void resume(int64_t step) = 0;
  /// Makes everything logged so far durable and visible (Lightning calls it after each
  /// log_metrics).
  virtual void save() = 0;
  /// The run is over: saves, and records how it ended where the format can. Logging afterwards
  /// is allowed (trainer.validate() after fit()).
  virtual void finalize(RunStatus status) = 0;

 private:
  std::string run_dir_;
};

/// The names make_logger knows: "csv", "tensorboard".
const std::vector<std::string>& logger_names();

/// The logger called `name` (what `trainer.logger: [csv, tensorboard]` lists), writing into
/// run_dir. An unknown name is a volt::Error listing the valid ones and the nearest.
std::unique_ptr<Logger> make_logger(const std::string& name, const std::string& run_dir);

}  // namespace volt

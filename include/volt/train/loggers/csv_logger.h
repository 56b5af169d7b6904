// Lightning's CSVLogger for volt's run directory: metrics.csv, one row per logged step with step,
// epoch and every metric, in exactly the format core/csv_logger.h writes (which does the
// writing). In volt::loggers because volt::CSVLogger is that file writer.
#pragma once

#include <string>

#include "volt/core/csv_logger.h"
#include "volt/train/logger.h"

namespace volt::loggers {

class CSVLogger : public Logger {
 public:
  /// Writes run_dir/file_name (created with its directory at the first save() after a log).
  explicit CSVLogger(const std::string& run_dir, const std::string& file_name = "metrics.csv");

  /// Nothing: the Trainer stores the resolved config beside metrics.csv as config.yaml.
  void log_hyperparams(const HParams& params) override {}
  /// A row for step; "epoch" fills the epoch column (the last epoch logged when absent, 0 at
  /// first) and every other entry a column of its own.
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step) override;
  /// Keeps the rows of an existing file up to step (volt::CSVLogger::load_existing).
  void resume(int64_t step) override;
  /// Rewrites the file atomically if anything changed.
  void save() override;
  void finalize(RunStatus status) override { save(); }

  const std::string& path() const { return csv_.path(); }

 private:
  volt::CSVLogger csv_;
  int64_t epoch_ = 0;
};

}  // namespace volt::loggers

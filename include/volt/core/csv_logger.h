// Metrics to a CSV file, like Lightning's CSVLogger (metrics.csv), but with one row per step:
// whatever is logged at the same step (train_loss, then val_loss after validation) is merged
// into one row. Columns are step, epoch, then every metric name ever logged, sorted; missing
// values are empty cells. Rows live in memory and every flush() rewrites the whole file
// atomically, so a reader (a report, a live plot, `tail`) never sees a torn file and a new
// metric name simply produces a wider header.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace volt {

class CSVLogger {
 public:
  /// Nothing is written until the first flush() after a log().
  explicit CSVLogger(std::string path);
  /// Flushes pending rows; errors are swallowed here (destructors must not throw), so call
  /// flush() explicitly where a failed write should stop the run.
  ~CSVLogger();
  CSVLogger(const CSVLogger&) = delete;
  CSVLogger& operator=(const CSVLogger&) = delete;

  /// Merges metrics into the row for step (created on first use; a later epoch replaces the
  /// row's epoch, a later value replaces the metric's). Names must be non-empty, must not be
  /// "step" or "epoch", and must not contain ',', '"' or line breaks: a volt::Error otherwise.
  void log(int64_t step, int64_t epoch, const std::map<std::string, double>& metrics);
  /// Rewrites the file (path + ".tmp", fsync, rename) when anything changed since the last one.
  void flush();
  /// Loads the rows of an existing file at path with step <= max_step, e.g. when a run resumes
  /// from a checkpoint and rows the crashed run logged after it must go. No file: no rows.
  void load_existing(int64_t max_step = std::numeric_limits<int64_t>::max());

  /// "step", "epoch", then the metric names seen so far in sorted order.
  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& path() const { return path_; }

  /// The rows of a metrics CSV, each mapping column name to value ("step" and "epoch"
  /// included); empty cells are absent. A missing file or a malformed cell is a volt::Error.
  static std::vector<std::map<std::string, double>> read(const std::string& path);

 private:
  struct Row {
    int64_t epoch = 0;
    std::map<std::string, double> values;
  };

  void add_name(const std::string& name);
  std::string render() const;

  std::string path_;
  std::map<int64_t, Row> rows_;  // keyed by step: merging and step order come for free
  std::set<std::string> names_;
  std::vector<std::string> columns_{"step", "epoch"};
  bool dirty_ = false;
};

}  // namespace volt

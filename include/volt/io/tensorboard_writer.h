// TensorBoard event files (events.out.tfevents.*), as TensorBoard, PyTorch's SummaryWriter and
// Lightning's TensorBoardLogger write them: scalars, text and the HParams plugin's summaries. The
// format is described atop src/io/tensorboard_writer.cpp. Built only with protobuf (see
// proto/CMakeLists.txt); without it the constructor throws a volt::Error that says so.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "volt/core/hparams.h"

namespace volt::io {

struct TensorBoardWriterOptions {
  /// Pending events are written (one write(2)) once this many are waiting...
  int64_t max_queue = 10;
  /// ...or when an event comes this many seconds after the last write. There is no thread: an
  /// idle writer keeps what is pending until its next event, flush() or close().
  double flush_secs = 120;
  /// Appended to the file name, like SummaryWriter's filename_suffix.
  std::string filename_suffix;
};

/// How a session (a run) ended, as the HParams plugin records it.
enum class SessionStatus { unknown = 0, success = 1, failure = 2, running = 3 };

/// One thread at a time, like the Trainer's logging.
class TensorBoardWriter {
 public:
  /// Creates log_dir (and its parents) and a new file in it,
  /// events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n><suffix>, whose first event (the
  /// file version) is written at once. An existing file is never appended to: a resumed run
  /// gets a file of its own and TensorBoard reads the files of a directory in name order.
  explicit TensorBoardWriter(const std::string& log_dir, TensorBoardWriterOptions options = {});
  /// close(); an error is printed to stderr (destructors must not throw).
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  /// One event holding a float32 scalar per tag ('/' groups tags in TensorBoard's UI). Tags must
  /// be non-empty UTF-8; NaN and infinities are kept.
  void add_scalars(const std::map<std::string, double>& values, int64_t step);
  void add_scalar(const std::string& tag, double value, int64_t step);
  /// Markdown for the TEXT tab (the text plugin's string tensor).
  void add_text(const std::string& tag, const std::string& text, int64_t step);

  /// The HParams plugin: `_hparams_/session_start_info`, this run's values (names and string
  /// values must be UTF-8)...
  void add_hparams(const HParams& hparams);
  /// ...`_hparams_/experiment`, the columns of the HPARAMS tab: each hyperparameter with its type
  /// and each metric (a scalar tag of this run). TensorBoard keeps the first one of a run;
  /// without one it lists every hyperparameter and every scalar tag itself...
  void add_hparams_experiment(const HParams& hparams, const std::vector<std::string>& metric_tags);
  /// ...and `_hparams_/session_end_info`.
  void add_hparams_end(SessionStatus status);

  /// A SessionLog START at step: TensorBoard hides the events of this run with step >= step
  /// written before it (what a crashed run logged past the checkpoint a new run resumes from).
  void add_session_start(int64_t step);

  /// Writes whatever is pending.
  void flush();
  /// Flushes, fsyncs and closes the file; later calls do nothing, a later add_* is an error.
  void close();

  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volt::io

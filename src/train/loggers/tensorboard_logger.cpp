#include "volt/train/loggers/tensorboard_logger.h"

#include <vector>

namespace volt::loggers {

TensorBoardLogger::TensorBoardLogger(const std::string& run_dir,
                                     io::TensorBoardWriterOptions options)
    : Logger(run_dir), options_(std::move(options)) {}

io::TensorBoardWriter& TensorBoardLogger::experiment() {
  if (!writer_) writer_ = std::make_unique<io::TensorBoardWriter>(log_dir(), options_);
  return *writer_;
}

void TensorBoardLogger::log_hyperparams(const HParams& params) {
  experiment().add_hparams(params);
  hparams_ = params;
  logged_hparams_ = true;
}

void TensorBoardLogger::log_metrics(const std::map<std::string, double>& metrics, int64_t step) {
  experiment().add_scalars(metrics, step);
  for (const auto& entry : metrics) {
    if (entry.first != "epoch") metric_tags_.insert(entry.first);
  }
}

void TensorBoardLogger::resume(int64_t step) { experiment().add_session_start(step + 1); }

void TensorBoardLogger::save() {
  if (writer_) writer_->flush();
}

void TensorBoardLogger::finalize(RunStatus status) {
  if (logged_hparams_ && !ended_) {
    io::TensorBoardWriter& writer = experiment();
    writer.add_hparams_experiment(hparams_, {metric_tags_.begin(), metric_tags_.end()});
    if (status != RunStatus::interrupted) {
      writer.add_hparams_end(status == RunStatus::success ? io::SessionStatus::success
                                                          : io::SessionStatus::failure);
    }
    ended_ = true;
  }
  if (writer_) {
    writer_->close();
    writer_.reset();
  }
}

}  // namespace volt::loggers

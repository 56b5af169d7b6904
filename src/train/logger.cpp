#include "volt/train/logger.h"

#include <filesystem>

#include "volt/core/check.h"
#include "volt/core/nearest_key.h"
#include "volt/train/loggers/csv_logger.h"
#include "volt/train/loggers/tensorboard_logger.h"

namespace volt {

Logger::Logger(std::string run_dir) : run_dir_(std::move(run_dir)) {
  VOLT_CHECK(!run_dir_.empty(), "[logger] empty run directory");
}

std::string Logger::name() const {
  const std::filesystem::path dir = std::filesystem::path(run_dir_).lexically_normal();
  // "runs/x/" normalizes to "runs/x/", whose filename() is empty.
  return dir.has_filename() ? dir.filename().string() : dir.parent_path().filename().string();
}

const std::vector<std::string>& logger_names() {
  static const std::vector<std::string> names{"csv", "tensorboard"};
  return names;
}

std::unique_ptr<Logger> make_logger(const std::string& name, const std::string& run_dir) {
  if (name == "csv") return std::make_unique<loggers::CSVLogger>(run_dir);
  if (name == "tensorboard") return std::make_unique<loggers::TensorBoardLogger>(run_dir);
  const std::string near = nearest_key(name, logger_names());
  std::string valid;
  for (const std::string& n : logger_names()) valid += (valid.empty() ? "" : ", ") + n;
  VOLT_FAIL("[logger] unknown logger '", name, "'",
            near.empty() ? std::string() : str(" (did you mean '", near, "'?)"),
            "; the loggers are: ", valid);
}

}  // namespace volt

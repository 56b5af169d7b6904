#include "volt/train/loggers/csv_logger.h"

#include <filesystem>

namespace volt::loggers {

CSVLogger::CSVLogger(const std::string& run_dir, const std::string& file_name)
    : Logger(run_dir), csv_((std::filesystem::path(run_dir) / file_name).string()) {}

void CSVLogger::log_metrics(const std::map<std::string, double>& metrics, int64_t step) {
  std::map<std::string, double> values = metrics;
  if (const auto epoch = values.find("epoch"); epoch != values.end()) {
    epoch_ = static_cast<int64_t>(epoch->second);
    values.erase(epoch);
  }
  csv_.log(step, epoch_, values);
}

void CSVLogger::resume(int64_t step) { csv_.load_existing(step); }

void CSVLogger::save() {
  std::error_code ec;  // a directory that cannot be made shows as the write error that follows
  std::filesystem::create_directories(log_dir(), ec);
  csv_.flush();
}

}  // namespace volt::loggers

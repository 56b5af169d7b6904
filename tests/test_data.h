// Where the tests' real reference data lives (HF-written models, tokenizers, corpora). Lookup:
// env VOLT_DATA_DIR, else env VOLT_DATA_DIR_DEFAULT (set by ctest), else ../shared/data relative
// to the working directory. Missing data is a test failure, never a skip: a test that silently
// skips proves nothing.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

/// The data directory; throws (failing the calling test) when it does not exist.
inline std::string volt_test_data_dir() {
  std::string dir;
  std::string source;
  if (const char* env = std::getenv("VOLT_DATA_DIR"); env != nullptr && *env != '\0') {
    dir = env;
    source = "env VOLT_DATA_DIR";
  } else if (const char* def = std::getenv("VOLT_DATA_DIR_DEFAULT"); def != nullptr && *def) {
    dir = def;
    source = "env VOLT_DATA_DIR_DEFAULT";
  } else {
    dir = "../shared/data";
    source = "the fallback ../shared/data relative to " + std::filesystem::current_path().string();
  }
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error("test data directory '" + dir + "' (from " + source +
                             ") does not exist; set VOLT_DATA_DIR to the shared data directory");
  }
  return dir;
}

/// The path of one data file or directory under the data directory; throws when it is missing.
inline std::string volt_test_data(const std::string& rel) {
  const std::string path = volt_test_data_dir() + "/" + rel;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("test data '" + path + "' is missing (data dir from VOLT_DATA_DIR, " +
                             "VOLT_DATA_DIR_DEFAULT or ../shared/data)");
  }
  return path;
}

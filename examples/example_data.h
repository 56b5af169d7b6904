// Where the curriculum's examples find the shared data: $VOLT_DATA_DIR, else ../shared/data
// beside the repository (VOLT_SOURCE_DIR, set by each example's CMakeLists.txt).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "volt/core/check.h"

namespace volt::examples {

/// The absolute path of `rel` under the data directory; a missing file is a volt::Error saying
/// how to point the example at the data.
inline std::string data_file(const std::string& rel) {
  std::string dir = std::string(VOLT_SOURCE_DIR) + "/../shared/data";
  if (const char* env = std::getenv("VOLT_DATA_DIR"); env != nullptr && *env != '\0') dir = env;
  const std::string path = dir + "/" + rel;
  VOLT_CHECK(std::filesystem::exists(path), "[example] ", path,
             ": no such file. Set VOLT_DATA_DIR to the shared data directory (it holds corpora/ "
             "and tokenizers/)");
  return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace volt::examples

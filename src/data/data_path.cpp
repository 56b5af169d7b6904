#include "volt/data/data_path.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "volt/core/check.h"
#include "volt/data/corpus.h"

namespace volt {

namespace fs = std::filesystem;

std::string resolve_data_path(const std::string& path) {
  if (fs::exists(path)) return path;
  std::vector<std::string> roots;
  if (const char* d = std::getenv("VOLT_DATA_DIR"); d && *d) roots.emplace_back(d);
  roots.emplace_back("../shared/data");
  for (const auto& r : roots) {
    auto p = fs::path(r) / path;
    if (fs::exists(p)) return p.string();
  }
  VOLT_FAIL("[data] ", path, ": no such file (looked here, in $VOLT_DATA_DIR and in ../shared/data)");
}

std::string resolve_data_pattern(const std::string& pattern) {
  if (!data::has_glob(pattern)) return fs::absolute(resolve_data_path(pattern)).lexically_normal().string();
  // Split into the fixed folders and the rest at the first component holding a metacharacter.
  fs::path fixed, rest;
  bool in_pattern = false;
  for (const auto& part : fs::path(pattern)) {
    in_pattern = in_pattern || data::has_glob(part.string());
    (in_pattern ? rest : fixed) /= part;
  }
  const std::string base = fixed.empty() ? "." : resolve_data_path(fixed.string());
  return (fs::absolute(base) / rest).lexically_normal().string();
}

}  // namespace volt

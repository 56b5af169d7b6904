// Every input the fuzzers ever broke a parser with (fuzz/regressions/<target>/), and their seeds
// (fuzz/corpus/<target>/), replayed through the same targets in this g++ build: each must be
// rejected with a volt::Error or accepted, never escape as another exception or crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz_targets.h"

namespace volt {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FuzzRegressions, EveryFoundCrashAndSeedIsHandled) {
  const fs::path root = fs::path(VOLT_FUZZ_DIR);
  size_t replayed = 0, regressions = 0;
  for (const auto& t : fuzz::targets()) {
    for (const char* kind : {"regressions", "corpus"}) {
      for (const auto& path : files_in(root / kind / t.name)) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string bytes = ss.str();
        EXPECT_NO_THROW(t.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) << t.name << ": " << path;
        ++replayed;
        regressions += std::string(kind) == "regressions";
      }
    }
  }
  EXPECT_GE(regressions, 1u);  // the directory is found (and holds what the fuzzers found)
  EXPECT_GE(replayed, 8u);
}

}  // namespace
}  // namespace volt

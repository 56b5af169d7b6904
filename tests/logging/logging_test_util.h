// Helpers of the loggers' tests: running scripts/tensorboard/read_events.py (Debian's python3 +
// python3-protobuf, no TensorFlow), the independent reader of what volt's writer wrote, on an
// events file; and EXPECT_ERROR.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace volt::test {

struct EventsRead {
  int code = -1;
  std::string err;      // the reader's stderr: why it failed
  nlohmann::json json;  // its output when code == 0
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs the reader with the python3 and protoc this build was configured with (a missing
/// python3-protobuf or python3-crc32c comes back as code 1 and the reader's message).
inline EventsRead read_events(const std::string& events_file, const ScopedTempDir& scratch) {
  const std::string out = scratch / "reader.stdout", err = scratch / "reader.stderr";
  const std::string cmd = std::string("'") + VOLT_TEST_PYTHON3 + "' '" + VOLT_SOURCE_DIR +
                          "/scripts/tensorboard/read_events.py' --protoc '" + VOLT_PROTOC + "' '" +
                          events_file + "' >'" + out + "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  EventsRead r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err);
  if (r.code == 0) r.json = nlohmann::json::parse(slurp(out));
  return r;
}

/// The events files in dir, in name order (TensorBoard's reading order).
inline std::vector<std::string> events_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// A JSON number, or the reader's "nan" / "inf" / "-inf" for the values JSON lacks.
inline double json_number(const nlohmann::json& v) {
  if (v.is_string()) return std::strtod(v.get<std::string>().c_str(), nullptr);
  return v.get<double>();
}

}  // namespace volt::test

/// Reads and fails the test (with the reader's own message) unless the file is valid.
#define READ_EVENTS_OK(result, file, scratch)                                       \
  const ::volt::test::EventsRead result = ::volt::test::read_events(file, scratch); \
  ASSERT_EQ(result.code, 0) << "read_events.py rejected " << (file) << ": " << result.err

/// Expects statement to throw a volt::Error whose message contains text.
#define EXPECT_ERROR(statement, text)                                           \
  do {                                                                          \
    const std::string message_ = ::volt::test::error_of([&] { statement; });    \
    EXPECT_NE(message_.find(text), std::string::npos) << "error: " << message_; \
  } while (0)

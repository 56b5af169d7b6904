// Small file helpers shared by every layer: whole-file reads and writes, JSON files, and atomic
// replacement (write to a temporary name, fsync, rename) so readers never see half a file.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace volt::io {

/// The whole file as bytes; a missing or unreadable file is a volt::Error naming it.
std::string read_file(const std::string& path);
/// Writes bytes to path through path + ".tmp" + fsync + rename.
void write_file_atomic(const std::string& path, const std::string& bytes);

/// Parses a JSON file; bad JSON is a volt::Error with the file and the parser's position.
nlohmann::json read_json(const std::string& path);
/// Writes pretty-printed JSON (2-space indent, trailing newline) atomically.
void write_json(const std::string& path, const nlohmann::json& value);

/// fsyncs a directory so a rename inside it is durable.
void fsync_dir(const std::string& dir);

/// A file written in pieces and published atomically: bytes go to path + ".tmp"; commit() fsyncs,
/// renames it to path and fsyncs the directory. Destroyed without commit() (an error midway), it
/// removes the temporary file, leaving whatever was under path untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void commit();

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
};

}  // namespace volt::io

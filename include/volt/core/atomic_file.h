// Atomic file replacement: write to path + ".tmp", fsync, rename over path, fsync the directory,
// so a reader (or a crash) never sees half a file. The bottom layer, so that every writer (the
// CSV logger and SVG plots in core, safetensors and JSON in io, checkpoints in train) shares it.
#pragma once

#include <cstddef>
#include <string>

namespace volt {

/// Writes bytes to path through path + ".tmp" + fsync + rename.
void write_file_atomic(const std::string& path, const std::string& bytes);

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

}  // namespace volt

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

/// A directory written in pieces and published atomically (checkpoints, converted models): files
/// go into path + ".tmp"; commit() fsyncs it and swaps it in for path with one
/// renameat2(RENAME_EXCHANGE), then deletes the old contents. At every instant, a kill -9
/// included, path is either the complete old directory or the complete new one. Destroyed without
/// commit(), it removes the temporary directory and leaves path untouched. Files written inside
/// must themselves be durable (write_file_atomic / AtomicFile fsync each one).
class StagedDirectory {
 public:
  explicit StagedDirectory(std::string path);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  /// Where to write: path + ".tmp", created empty (a stale one from a crash is removed first).
  const std::string& staging_path() const { return tmp_path_; }
  /// staging_path() of a StagedDirectory(path) (what other processes writing into it use).
  static std::string staging_path_for(const std::string& path) { return path + ".tmp"; }
  void commit();

 private:
  std::string path_, tmp_path_;
  bool committed_ = false;
};

}  // namespace volt

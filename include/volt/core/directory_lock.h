// An exclusive lock on a directory for the life of a process's work in it (a run directory during
// fit): a second volt process that wants the same directory fails at once with a message naming
// the holder, instead of both writing config.yaml, metrics.csv and checkpoints over each other.
// flock(2) on <dir>/.volt.lock: the kernel releases it when the holder exits, a kill -9 included,
// so a stale lock file never blocks anyone.
#pragma once

#include <string>

namespace volt {

class DirectoryLock {
 public:
  /// Creates dir if needed and locks it; throws volt::Error (exit code 2) naming the directory and
  /// the pid that holds it. `purpose` goes into the message ("run directory").
  explicit DirectoryLock(const std::string& dir, const std::string& purpose = "directory");
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace volt

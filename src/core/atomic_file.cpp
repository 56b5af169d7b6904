#include "volt/core/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28)
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "volt/core/check.h"

namespace volt {
namespace {

// The directory a rename of path happens in ("." for a bare file name).
std::string parent_dir(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// close() can report a deferred write error (NFS, quotas), so its result matters for writers.
void close_or_throw(int fd, const std::string& path) {
  if (::close(fd) != 0) VOLT_FAIL("[io] ", path, ": close failed: ", std::strerror(errno));
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  VOLT_CHECK(fd >= 0, "[io] ", dir, ": cannot open directory: ", errno_message(errno));
  // Some file systems cannot fsync a directory (EINVAL); the rename is then as durable as it gets.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(fd);
    VOLT_FAIL("[io] ", dir, ": fsync failed: ", std::strerror(err));
  }
  ::close(fd);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  VOLT_CHECK(fd_ >= 0, "[io] ", tmp_path_, ": cannot create: ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;  // committed, or commit() already cleaned up
  ::close(fd_);
  ::unlink(tmp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
  VOLT_CHECK(fd_ >= 0, "[io] ", path_, ": write after commit");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {  // write() may take fewer bytes than asked, or be interrupted
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      VOLT_FAIL("[io] ", tmp_path_, ": write failed: ", std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  VOLT_CHECK(fd_ >= 0, "[io] ", path_, ": committed twice");
  // The data must be on disk before the rename publishes it, or a crash could leave the final
  // name pointing at an empty file.
  if (::fsync(fd_) != 0) VOLT_FAIL("[io] ", tmp_path_, ": fsync failed: ", std::strerror(errno));
  const int fd = std::exchange(fd_, -1);
  try {
    close_or_throw(fd, tmp_path_);
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      VOLT_FAIL("[io] ", path_, ": rename from ", tmp_path_, " failed: ", std::strerror(errno));
    }
  } catch (...) {
    ::unlink(tmp_path_.c_str());
    throw;
  }
  fsync_dir(parent_dir(path_));
}

StagedDirectory::StagedDirectory(std::string path) : path_(std::move(path)), tmp_path_(staging_path_for(path_)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(tmp_path_, ec);  // what a killed writer left
  VOLT_CHECK(!ec, "[io] ", tmp_path_, ": cannot remove a stale staging directory: ", ec.message());
  fs::create_directories(tmp_path_, ec);
  VOLT_CHECK(!ec, "[io] ", tmp_path_, ": cannot create: ", ec.message());
}

StagedDirectory::~StagedDirectory() {
  if (committed_) return;
  std::error_code ec;
  std::filesystem::remove_all(tmp_path_, ec);
}

void StagedDirectory::commit() {
  namespace fs = std::filesystem;
  VOLT_CHECK(!committed_, "[io] ", path_, ": committed twice");
  fsync_dir(tmp_path_);
  if (!fs::exists(path_)) {
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      VOLT_FAIL("[io] ", path_, ": rename from ", tmp_path_, " failed: ", std::strerror(errno));
    }
  } else if (::renameat2(AT_FDCWD, tmp_path_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) != 0) {
    // A file system without RENAME_EXCHANGE: move the old one aside first (a crash between the
    // two renames leaves it under path + ".old").
    VOLT_CHECK(errno == EINVAL || errno == ENOSYS, "[io] ", path_, ": exchange with ", tmp_path_,
               " failed: ", std::strerror(errno));
    const std::string old = path_ + ".old";
    std::error_code ec;
    fs::remove_all(old, ec);
    if (::rename(path_.c_str(), old.c_str()) != 0 || ::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      VOLT_FAIL("[io] ", path_, ": replacing it with ", tmp_path_, " failed: ", std::strerror(errno));
    }
    fs::remove_all(old, ec);
  }
  committed_ = true;
  fsync_dir(parent_dir(path_));
  // After an exchange the old directory sits at the staging path.
  std::error_code ec;
  fs::remove_all(tmp_path_, ec);
}

}  // namespace volt

#include "volt/core/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "volt/core/check.h"

namespace volt {

DirectoryLock::DirectoryLock(const std::string& dir, const std::string& purpose) {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / ".volt.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  VOLT_CHECK(fd_ >= 0, "[lock] ", path, ": ", errno_message(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {0};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    VOLT_CHECK(err == EWOULDBLOCK, "[lock] ", path, ": ", errno_message(err));
    const std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
    VOLT_FAIL("[lock] ", purpose, " ", dir, " is in use by another volt process (pid ", holder,
              "); wait for it to finish, or choose another name or trainer.default_root_dir");
  }
  // The holder's pid, for the message above (advisory: the flock is what excludes).
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t w = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace volt

#include "volt/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "volt/core/check.h"

namespace volt::io {

MappedFile::MappedFile(const std::string& path, const std::string& where, Mode mode) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  VOLT_CHECK(fd >= 0, where, ": ", errno == ENOENT ? "no such file" : std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    const bool regular = S_ISREG(st.st_mode);
    ::close(fd);
    VOLT_CHECK(regular, where, ": not a regular file");
    VOLT_FAIL(where, ": fstat failed: ", std::strerror(err));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    const bool cow = mode == Mode::kCopyOnWrite;
    void* map = ::mmap(nullptr, size_, cow ? PROT_READ | PROT_WRITE : PROT_READ,
                       cow ? MAP_PRIVATE : MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    VOLT_CHECK(map != MAP_FAILED, where, ": mmap failed: ", std::strerror(err));
    data_ = map;
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() { reset(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::reset() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace volt::io

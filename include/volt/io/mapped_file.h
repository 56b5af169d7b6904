// A whole file memory-mapped: the page cache is the buffer, so opening a multi-GB token cache or
// safetensors file costs a system call, and pages are read only when touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace volt::io {

class MappedFile {
 public:
  enum class Mode {
    kReadOnly,     // PROT_READ, shared: writes would fault
    kCopyOnWrite,  // PROT_READ | PROT_WRITE, private: writes stay in this process
  };
  MappedFile() = default;
  /// Maps `path`; a missing or non-regular file is a volt::Error starting with `where`
  /// (e.g. "[safetensors] model.safetensors"). An empty file maps to size() == 0.
  MappedFile(const std::string& path, const std::string& where, Mode mode = Mode::kReadOnly);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  /// Writable only in kCopyOnWrite mode.
  uint8_t* mutable_data() const { return static_cast<uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  void reset();
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace volt::io

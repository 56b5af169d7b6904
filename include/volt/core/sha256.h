// SHA-256 (FIPS 180-4): content keys for caches and fingerprints of golden outputs, so that a
// test can compare 300k token ids against a 64-character digest committed in the repository.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace volt {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  /// The digest as 64 lowercase hex characters; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// sha256(bytes) as hex.
std::string sha256_hex(std::string_view bytes);

}  // namespace volt

// CRC-32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected): the checksum of TFRecord
// framing (TensorBoard event files). Debian ships no C/C++ library for it, so this is ours:
// table-driven, slicing-by-8 (about 1 byte/cycle without SSE4.2's crc32 instruction).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace volt::io {

/// The CRC-32C of crc's input followed by data (crc = 0 to start): crc32c("123456789") is
/// 0xE3069283.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data.data(), data.size()); }

/// TFRecord stores CRCs masked (rotated right by 15, plus a constant) because a CRC of data that
/// itself holds CRCs is weak.
inline uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace volt::io

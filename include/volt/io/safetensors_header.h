// A safetensors file's header, parsed and validated without LibTorch: the 8-byte little-endian
// length, the JSON, and every tensor entry (dtype code, shape, offsets inside the data section,
// bytes = numel x element size, no two tensors sharing bytes). SafetensorsFile builds on it;
// fuzz/ drives it with arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace volt::io {

struct HeaderTensor {
  std::string name;
  std::string dtype;        // the safetensors code: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL
  size_t element_size = 0;  // bytes per element of that code
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets relative to the start of the data section
};

struct SafetensorsHeader {
  uint64_t data_start = 0;                      // 8 + the header's length
  std::map<std::string, HeaderTensor> tensors;  // by name
  std::vector<std::string> order;               // names by data offset (header order breaks ties)
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

/// Parses the header at the start of `file` (size bytes: the whole file). Every problem is a
/// volt::Error prefixed with `where` and naming the tensor: the length past the end of the file,
/// bad JSON, an unknown dtype, offsets out of range or overlapping, shape and byte count
/// disagreeing or overflowing.
SafetensorsHeader parse_safetensors_header(const uint8_t* file, size_t size, const std::string& where);

/// Bytes per element of a dtype code; 0 for a code volt does not read.
size_t safetensors_element_size(const std::string& code);
/// The codes volt reads, space-separated.
std::string safetensors_codes();

}  // namespace volt::io

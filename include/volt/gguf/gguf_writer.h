// A GGUF v3 file (ggml's container, what llama.cpp, Ollama and LM Studio load), written by volt:
//   header    "GGUF" (u32 0x46554747), version u32 3, tensor count u64, key/value count u64
//   metadata  per key: string key, u32 value type, value (strings: u64 length + UTF-8 bytes;
//             arrays: u32 element type, u64 count, elements)
//   tensors   per tensor: string name, u32 n_dims, u64 dims innermost first (ggml's ne[0] is the
//             length of a row), u32 ggml type, u64 offset from the start of the data section
//   padding   to general.alignment (32), then each tensor's bytes, each padded to the alignment
// Everything little-endian. Tensor bytes are produced one tensor at a time at write() (a model
// larger than memory never needs all of them at once), into a temporary file renamed over the
// path at the end: a failure leaves no partial file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "volt/gguf/ggml_types.h"

namespace volt::gguf {

/// gguf_type (gguf-py's GGUFValueType).
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12
};

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kAlignment = 32;

class Writer {
 public:
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_strings(const std::string& key, const std::vector<std::string>& v);
  void add_i32s(const std::string& key, const std::vector<int32_t>& v);
  void add_f32s(const std::string& key, const std::vector<float>& v);
  bool has(const std::string& key) const;

  /// A tensor of `shape` (row-major, outermost first, as PyTorch writes it: the file's dims are
  /// its reverse) whose bytes `produce` appends, in `type`, when the file is written. Names are
  /// unique and at most 63 bytes (GGML_MAX_NAME 64 with its NUL).
  void add_tensor(const std::string& name, const std::vector<int64_t>& shape, TensorType type,
                  std::function<void(std::string&)> produce);

  /// The header, metadata and tensor infos, padded to the alignment: the bytes before the data.
  std::string header_bytes() const;
  /// Writes the file atomically (path + ".tmp", fsync, rename). Returns its size in bytes.
  int64_t write(const std::string& path) const;

  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    TensorType type;
    int64_t bytes;
    uint64_t offset;
    std::function<void(std::string&)> produce;
  };
  void add_raw(const std::string& key, ValueType type, std::string value_bytes);
  std::vector<std::string> keys_;
  std::string metadata_;  // the key/value pairs, encoded
  std::vector<Tensor> tensors_;
  uint64_t data_size_ = 0;
};

}  // namespace volt::gguf

// Safetensors: Hugging Face's weight format. An 8-byte little-endian header length N, N bytes of
// JSON ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"k": "v"}}), then the raw little-endian tensor bytes.
// Reading memory-maps the file and hands out zero-copy views; writing goes through a temporary
// file renamed into place, so a crash never leaves a half-written file under the final name.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volt/io/mapped_file.h"

namespace volt::io {

/// What the header says about one tensor.
struct TensorInfo {
  std::string name;
  torch::Dtype dtype = torch::kFloat32;  // F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
};

/// A memory-mapped safetensors file. Every header problem is a volt::Error naming the file and
/// the tensor: header length past the end of the file, bad JSON, unknown dtype, offsets out of
/// range or overlapping, shape and byte count disagreeing.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // in file order (by offset)
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// A zero-copy CPU view over the mapped bytes (valid while this object lives). The mapping is
  /// copy-on-write: an in-place op on a view changes this process's pages, never the file. A
  /// tensor whose bytes are not aligned to its element size (possible when dtypes of different
  /// widths share a file) comes back as a copy instead, since kernels may assume alignment.
  torch::Tensor view(const std::string& name) const;
  /// An owning copy, converted to dtype when given.
  torch::Tensor load(const std::string& name,
                     std::optional<torch::Dtype> dtype = std::nullopt) const;

 private:
  std::string path_;
  io::MappedFile map_;  // copy-on-write: views may be written to without touching the file
  const uint8_t* data_ = nullptr;  // start of the data section
  std::map<std::string, TensorInfo> tensors_;
  std::vector<std::string> order_;  // names sorted by data offset (header order breaks ties)
  std::map<std::string, std::string> metadata_;
};

/// Writes tensors (any device, contiguous or not) to path atomically, in the order given.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Writes a file whose tensors are made one at a time: the header from `tensors` (name, dtype,
/// shape), then produce(i) for each in order (it must match its entry). Only one tensor need be
/// alive at once: what `volt init` uses to write a model larger than memory.
void save_safetensors_streamed(const std::string& path, const std::vector<TensorInfo>& tensors,
                               const std::function<torch::Tensor(size_t)>& produce,
                               const std::map<std::string, std::string>& metadata = {});

/// Safetensors dtype code <-> torch dtype ("F32" <-> torch::kFloat32). Unknown codes throw.
torch::Dtype dtype_from_safetensors(const std::string& code, const std::string& context);
std::string dtype_to_safetensors(torch::Dtype dtype);

}  // namespace volt::io

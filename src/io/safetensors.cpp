#include "volt/io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/io/safetensors_header.h"

namespace volt::io {
namespace {

// Safetensors stores little-endian bytes; volt hands them to torch as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "volt's safetensors needs a LE host");

using Json = nlohmann::ordered_json;  // keeps the header's key order (tie-break, and for saving)

struct DtypeCode {
  const char* code;
  torch::Dtype dtype;
};

// The dtypes LibTorch 1.13 can represent. U16/U32/U64 and the F8 codes have no torch equivalent.
constexpr DtypeCode kDtypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

const char* find_code(torch::Dtype dtype) {
  for (const auto& d : kDtypes) {
    if (d.dtype == dtype) return d.code;
  }
  return nullptr;
}

void append_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string tensor_where(const std::string& where, const std::string& name) {
  return str(where, ": tensor '", name, "'");
}

}  // namespace

torch::Dtype dtype_from_safetensors(const std::string& code, const std::string& context) {
  for (const auto& d : kDtypes) {
    if (code == d.code) return d.dtype;
  }
  VOLT_FAIL(context, ": unknown dtype '", code, "' (volt reads ", safetensors_codes(), ")");
}

std::string dtype_to_safetensors(torch::Dtype dtype) {
  const char* code = find_code(dtype);
  VOLT_CHECK(code != nullptr, "[safetensors] dtype ", dtype,
             " has no safetensors code (volt writes ", safetensors_codes(), ")");
  return code;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const std::string where = "[safetensors] " + path;
  map_ = io::MappedFile(path, where, io::MappedFile::Mode::kCopyOnWrite);
  SafetensorsHeader header = parse_safetensors_header(map_.data(), map_.size(), where);
  data_ = map_.data() + header.data_start;
  for (auto& [name, h] : header.tensors) {
    TensorInfo t;
    t.name = name;
    t.dtype = dtype_from_safetensors(h.dtype, where);
    t.shape = std::move(h.shape);
    t.begin = h.begin;
    t.end = h.end;
    tensors_.emplace(name, std::move(t));
  }
  order_ = std::move(header.order);
  metadata_ = std::move(header.metadata);
}

SafetensorsFile::~SafetensorsFile() = default;

std::vector<std::string> SafetensorsFile::names() const { return order_; }

bool SafetensorsFile::contains(const std::string& name) const { return tensors_.count(name) > 0; }

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto it = tensors_.find(name);
  VOLT_CHECK(it != tensors_.end(), "[safetensors] ", path_, ": no tensor '", name, "'");
  return it->second;
}

torch::Tensor SafetensorsFile::view(const std::string& name) const {
  const TensorInfo& t = info(name);
  const auto options = torch::TensorOptions().dtype(t.dtype);
  // Mapped memory is writable (copy-on-write), so dropping const here is sound.
  auto* bytes = const_cast<uint8_t*>(data_ + t.begin);
  const size_t nbytes = t.end - t.begin;
  const auto misalignment = reinterpret_cast<uintptr_t>(bytes) % c10::elementSize(t.dtype);
  if (nbytes == 0 || misalignment == 0) return torch::from_blob(bytes, t.shape, options);
  torch::Tensor copy = torch::empty(t.shape, options);
  std::memcpy(copy.data_ptr(), bytes, nbytes);
  return copy;
}

torch::Tensor SafetensorsFile::load(const std::string& name,
                                    std::optional<torch::Dtype> dtype) const {
  const torch::Tensor v = view(name);
  // copy=true: an owning tensor even when no conversion is needed.
  return v.to(dtype.value_or(v.scalar_type()), /*non_blocking=*/false, /*copy=*/true);
}

namespace {

// The header for tensors laid out back to back in the given order, padded with spaces to a
// multiple of 8 bytes (as HF does) so the data section starts 8-byte aligned.
std::string build_header(const std::vector<TensorInfo>& tensors,
                         const std::map<std::string, std::string>& metadata,
                         const std::string& where) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::string tw = tensor_where(where, t.name);
    VOLT_CHECK(t.name != "__metadata__", tw, ": the name is reserved for metadata");
    VOLT_CHECK(seen.insert(t.name).second, tw, " appears twice");
    const char* code = find_code(t.dtype);
    VOLT_CHECK(code != nullptr, tw, " has dtype ", t.dtype,
               ", which safetensors cannot store (volt writes ", safetensors_codes(), ")");
    int64_t numel = 1;
    for (auto d : t.shape) numel *= d;
    const uint64_t nbytes = static_cast<uint64_t>(numel) * c10::elementSize(t.dtype);
    header[t.name] =
        Json{{"dtype", code}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {  // a name or value that is not valid UTF-8
    VOLT_FAIL(where, ": cannot encode the header: ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

void save_safetensors_streamed(const std::string& path, const std::vector<TensorInfo>& tensors,
                               const std::function<torch::Tensor(size_t)>& produce,
                               const std::map<std::string, std::string>& metadata) {
  const std::string where = "[safetensors] " + path;
  const std::string header = build_header(tensors, metadata, where);
  std::string prefix;
  append_le64(prefix, header.size());
  AtomicFile file(path);
  file.write(prefix.data(), prefix.size());
  file.write(header.data(), header.size());
  // One tensor at a time: only one CPU copy of a GPU or strided tensor is alive at once.
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor cpu = produce(i).detach().to(torch::kCPU).contiguous();
    const auto& t = tensors[i];
    VOLT_CHECK(cpu.scalar_type() == t.dtype && cpu.sizes() == c10::IntArrayRef(t.shape),
               tensor_where(where, t.name), ": produced ", cpu.scalar_type(), " ", cpu.sizes(),
               ", the header says ", t.dtype, " ", c10::IntArrayRef(t.shape));
    file.write(cpu.data_ptr(), cpu.numel() * cpu.element_size());
  }
  file.commit();
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string where = "[safetensors] " + path;
  std::vector<TensorInfo> infos;
  for (const auto& [name, t] : tensors) {
    VOLT_CHECK(t.defined(), tensor_where(where, name), " is undefined");
    VOLT_CHECK(t.layout() == torch::kStrided, tensor_where(where, name), " is not dense (layout ",
               t.layout(), ")");
    TensorInfo info;
    info.name = name, info.dtype = t.scalar_type(), info.shape = t.sizes().vec();
    infos.push_back(std::move(info));
  }
  save_safetensors_streamed(
      path, infos, [&](size_t i) { return tensors[i].second; }, metadata);
}

}  // namespace volt::io

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

std::string known_codes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : " ") + std::string(d.code);
  return s;
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void append_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// --- Header parsing. `where` is "[safetensors] <path>", the prefix of every message. ---

std::string tensor_where(const std::string& where, const std::string& name) {
  return str(where, ": tensor '", name, "'");
}

// A non-negative JSON integer that fits in int64 (shape entries) or uint64 (offsets).
bool is_count(const Json& v, uint64_t max) {
  return v.is_number_unsigned() && v.get<uint64_t>() <= max;
}

torch::Dtype parse_dtype(const Json& entry, const std::string& tw) {
  VOLT_CHECK(entry.contains("dtype"), tw, " has no 'dtype'");
  VOLT_CHECK(entry["dtype"].is_string(), tw, ": 'dtype' must be a string, got ", entry["dtype"]);
  return dtype_from_safetensors(entry["dtype"].get<std::string>(), tw);
}

std::vector<int64_t> parse_shape(const Json& entry, const std::string& tw) {
  VOLT_CHECK(entry.contains("shape"), tw, " has no 'shape'");
  const Json& s = entry["shape"];
  const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const bool ok = s.is_array() &&
                  std::all_of(s.begin(), s.end(), [&](const Json& d) { return is_count(d, max); });
  VOLT_CHECK(ok, tw, ": 'shape' must be an array of non-negative integers, got ", s);
  std::vector<int64_t> shape;
  for (const auto& d : s) shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  return shape;
}

std::pair<uint64_t, uint64_t> parse_offsets(const Json& entry, const std::string& tw) {
  VOLT_CHECK(entry.contains("data_offsets"), tw, " has no 'data_offsets'");
  const Json& o = entry["data_offsets"];
  const auto max = std::numeric_limits<uint64_t>::max();
  VOLT_CHECK(o.is_array() && o.size() == 2 && is_count(o[0], max) && is_count(o[1], max), tw,
             ": 'data_offsets' must be [begin, end] with non-negative integers, got ", o);
  return {o[0].get<uint64_t>(), o[1].get<uint64_t>()};
}

// numel * element size, or nullopt when that overflows 64 bits (a hostile or corrupt shape).
std::optional<uint64_t> byte_count(const std::vector<int64_t>& shape, torch::Dtype dtype) {
  uint64_t n = c10::elementSize(dtype);
  for (const int64_t d : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

TensorInfo parse_tensor(const std::string& name, const Json& entry, uint64_t data_size,
                        const std::string& where) {
  const std::string tw = tensor_where(where, name);
  VOLT_CHECK(entry.is_object(), tw, ": entry must be an object, got ", entry);
  TensorInfo t;
  t.name = name;
  t.dtype = parse_dtype(entry, tw);
  t.shape = parse_shape(entry, tw);
  std::tie(t.begin, t.end) = parse_offsets(entry, tw);
  VOLT_CHECK(t.begin <= t.end, tw, " has data_offsets [", t.begin, ", ", t.end,
             "] with begin > end");
  VOLT_CHECK(t.end <= data_size, tw, " ends at byte ", t.end, ", past the end of the ", data_size,
             "-byte data section");
  const auto want = byte_count(t.shape, t.dtype);
  VOLT_CHECK(want.has_value(), tw, ": shape ", entry["shape"], " overflows 64 bits");
  VOLT_CHECK(*want == t.end - t.begin, tw, " wants ", *want, " bytes, has ", t.end - t.begin);
  return t;
}

std::map<std::string, std::string> parse_metadata(const Json& m, const std::string& where) {
  VOLT_CHECK(m.is_object(), where, ": '__metadata__' must be an object of strings, got ", m);
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : m.items()) {
    VOLT_CHECK(value.is_string(), where, ": '__metadata__' key '", key,
               "' must map to a string, got ", value);
    out[key] = value.get<std::string>();
  }
  return out;
}

// Names sorted by where their bytes lie; ties (empty tensors) keep the header's order.
std::vector<std::string> file_order(const std::vector<const TensorInfo*>& in_header_order) {
  std::vector<const TensorInfo*> sorted = in_header_order;
  std::stable_sort(sorted.begin(), sorted.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  std::vector<std::string> names;
  for (const auto* t : sorted) names.push_back(t->name);
  return names;
}

// Two tensors sharing bytes would alias each other's storage in views: reject. Empty tensors
// occupy no bytes and may sit anywhere.
void check_no_overlap(const std::vector<std::string>& order,
                      const std::map<std::string, TensorInfo>& tensors, const std::string& where) {
  const TensorInfo* prev = nullptr;
  for (const auto& name : order) {
    const TensorInfo& t = tensors.at(name);
    if (t.begin == t.end) continue;
    VOLT_CHECK(prev == nullptr || t.begin >= prev->end, where, ": tensors '", prev->name, "' [",
               prev->begin, ", ", prev->end, ") and '", t.name, "' [", t.begin, ", ", t.end,
               ") overlap");
    prev = &t;
  }
}

Json parse_header_json(const uint8_t* bytes, size_t size, const std::string& where) {
  Json header;
  try {
    header = Json::parse(bytes, bytes + size);
  } catch (const Json::parse_error& e) {
    VOLT_FAIL(where, ": header is not valid JSON: ", e.what());
  }
  VOLT_CHECK(header.is_object(), where, ": header must be a JSON object, got ", header.type_name());
  return header;
}

}  // namespace

torch::Dtype dtype_from_safetensors(const std::string& code, const std::string& context) {
  for (const auto& d : kDtypes) {
    if (code == d.code) return d.dtype;
  }
  VOLT_FAIL(context, ": unknown dtype '", code, "' (volt reads ", known_codes(), ")");
}

std::string dtype_to_safetensors(torch::Dtype dtype) {
  const char* code = find_code(dtype);
  VOLT_CHECK(code != nullptr, "[safetensors] dtype ", dtype,
             " has no safetensors code (volt writes ", known_codes(), ")");
  return code;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const std::string where = "[safetensors] " + path;
  map_ = io::MappedFile(path, where, io::MappedFile::Mode::kCopyOnWrite);
  const size_t map_size = map_.size();
  VOLT_CHECK(map_size >= 8, where, ": file is ", map_size, " bytes, shorter than the 8-byte header length");
  const uint8_t* base = map_.data();
  const uint64_t header_size = read_le64(base);
  VOLT_CHECK(header_size <= map_size - 8, where, ": header length ", header_size,
             " exceeds the ", map_size - 8, " bytes after the length field");
  const Json header = parse_header_json(base + 8, header_size, where);
  data_ = base + 8 + header_size;
  const uint64_t data_size = map_size - 8 - header_size;
  std::vector<const TensorInfo*> in_header_order;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      metadata_ = parse_metadata(value, where);
      continue;
    }
    // The JSON parser keeps one value per key, so every name here is new.
    const auto it = tensors_.emplace(key, parse_tensor(key, value, data_size, where)).first;
    in_header_order.push_back(&it->second);  // std::map nodes never move
  }
  order_ = file_order(in_header_order);
  check_no_overlap(order_, tensors_, where);
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
std::string build_header(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                         const std::map<std::string, std::string>& metadata,
                         const std::string& where) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const std::string tw = tensor_where(where, name);
    VOLT_CHECK(name != "__metadata__", tw, ": the name is reserved for metadata");
    VOLT_CHECK(seen.insert(name).second, tw, " appears twice");
    VOLT_CHECK(t.defined(), tw, " is undefined");
    VOLT_CHECK(t.layout() == torch::kStrided, tw, " is not dense (layout ", t.layout(), ")");
    const char* code = find_code(t.scalar_type());
    VOLT_CHECK(code != nullptr, tw, " has dtype ", t.scalar_type(),
               ", which safetensors cannot store (volt writes ", known_codes(), ")");
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = Json{
        {"dtype", code}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
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

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string where = "[safetensors] " + path;
  const std::string header = build_header(tensors, metadata, where);
  std::string prefix;
  append_le64(prefix, header.size());
  AtomicFile file(path);
  file.write(prefix.data(), prefix.size());
  file.write(header.data(), header.size());
  // One tensor at a time: only one CPU copy of a GPU or strided tensor is alive at once.
  for (const auto& [name, t] : tensors) {
    const torch::Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    file.write(cpu.data_ptr(), cpu.numel() * cpu.element_size());
  }
  file.commit();
}

}  // namespace volt::io

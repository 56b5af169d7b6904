// The safetensors header, parsed and checked without LibTorch (so that a fuzzer can drive it
// alone): every offset, shape, dtype code and the JSON itself come from an untrusted file.
#include "volt/io/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <tuple>

#include "volt/core/check.h"

namespace volt::io {
namespace {

using Json = nlohmann::ordered_json;  // keeps the header's key order (ties in file order)

struct Code {
  const char* code;
  size_t size;
};

// The dtypes volt reads (what LibTorch 1.13 can represent): U16/U32/U64 and the F8 codes have no
// torch equivalent.
constexpr Code kCodes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                           {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string tensor_where(const std::string& where, const std::string& name) {
  return str(where, ": tensor '", name, "'");
}

// A non-negative JSON integer that fits in int64 (shape entries) or uint64 (offsets).
bool is_count(const Json& v, uint64_t max) {
  return v.is_number_unsigned() && v.get<uint64_t>() <= max;
}

std::string parse_dtype(const Json& entry, const std::string& tw) {
  VOLT_CHECK(entry.contains("dtype"), tw, " has no 'dtype'");
  VOLT_CHECK(entry["dtype"].is_string(), tw, ": 'dtype' must be a string, got ", entry["dtype"]);
  const auto code = entry["dtype"].get<std::string>();
  VOLT_CHECK(safetensors_element_size(code) > 0, tw, ": unknown dtype '", code, "' (volt reads ",
             safetensors_codes(), ")");
  return code;
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
std::optional<uint64_t> byte_count(const std::vector<int64_t>& shape, size_t element_size) {
  uint64_t n = element_size;
  for (const int64_t d : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

HeaderTensor parse_tensor(const std::string& name, const Json& entry, uint64_t data_size, const std::string& where) {
  const std::string tw = tensor_where(where, name);
  VOLT_CHECK(entry.is_object(), tw, ": entry must be an object, got ", entry);
  HeaderTensor t;
  t.name = name;
  t.dtype = parse_dtype(entry, tw);
  t.element_size = safetensors_element_size(t.dtype);
  t.shape = parse_shape(entry, tw);
  std::tie(t.begin, t.end) = parse_offsets(entry, tw);
  VOLT_CHECK(t.begin <= t.end, tw, " has data_offsets [", t.begin, ", ", t.end, "] with begin > end");
  VOLT_CHECK(t.end <= data_size, tw, " ends at byte ", t.end, ", past the end of the ", data_size,
             "-byte data section");
  const auto want = byte_count(t.shape, t.element_size);
  VOLT_CHECK(want.has_value(), tw, ": shape ", entry["shape"], " overflows 64 bits");
  VOLT_CHECK(*want == t.end - t.begin, tw, " wants ", *want, " bytes, has ", t.end - t.begin);
  return t;
}

std::map<std::string, std::string> parse_metadata(const Json& m, const std::string& where) {
  VOLT_CHECK(m.is_object(), where, ": '__metadata__' must be an object of strings, got ", m);
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : m.items()) {
    VOLT_CHECK(value.is_string(), where, ": '__metadata__' key '", key, "' must map to a string, got ", value);
    out[key] = value.get<std::string>();
  }
  return out;
}

// Names sorted by where their bytes lie; ties (empty tensors) keep the header's order.
std::vector<std::string> file_order(const std::vector<const HeaderTensor*>& in_header_order) {
  std::vector<const HeaderTensor*> sorted = in_header_order;
  std::stable_sort(sorted.begin(), sorted.end(), [](const HeaderTensor* a, const HeaderTensor* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  std::vector<std::string> names;
  for (const auto* t : sorted) names.push_back(t->name);
  return names;
}

// Two tensors sharing bytes would alias each other's storage in views: reject. Empty tensors
// occupy no bytes and may sit anywhere.
void check_no_overlap(const SafetensorsHeader& h, const std::string& where) {
  const HeaderTensor* prev = nullptr;
  for (const auto& name : h.order) {
    const HeaderTensor& t = h.tensors.at(name);
    if (t.begin == t.end) continue;
    VOLT_CHECK(prev == nullptr || t.begin >= prev->end, where, ": tensors '", prev->name, "' [", prev->begin, ", ",
               prev->end, ") and '", t.name, "' [", t.begin, ", ", t.end, ") overlap");
    prev = &t;
  }
}

}  // namespace

size_t safetensors_element_size(const std::string& code) {
  for (const auto& c : kCodes) {
    if (code == c.code) return c.size;
  }
  return 0;
}

std::string safetensors_codes() {
  std::string s;
  for (const auto& c : kCodes) s += (s.empty() ? "" : " ") + std::string(c.code);
  return s;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* file, size_t size, const std::string& where) {
  VOLT_CHECK(size >= 8, where, ": file is ", size, " bytes, shorter than the 8-byte header length");
  const uint64_t header_size = read_le64(file);
  VOLT_CHECK(header_size <= size - 8, where, ": header length ", header_size, " exceeds the ", size - 8,
             " bytes after the length field");
  Json header;
  try {
    header = Json::parse(file + 8, file + 8 + header_size);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number too large
    VOLT_FAIL(where, ": header is not valid JSON: ", e.what());
  }
  VOLT_CHECK(header.is_object(), where, ": header must be a JSON object, got ", header.type_name());
  SafetensorsHeader h;
  h.data_start = 8 + header_size;
  const uint64_t data_size = size - h.data_start;
  std::vector<const HeaderTensor*> in_header_order;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      h.metadata = parse_metadata(value, where);
      continue;
    }
    // The JSON parser keeps one value per key, so every name here is new.
    const auto it = h.tensors.emplace(key, parse_tensor(key, value, data_size, where)).first;
    in_header_order.push_back(&it->second);  // std::map nodes never move
  }
  h.order = file_order(in_header_order);
  check_no_overlap(h, where);
  return h;
}

}  // namespace volt::io

// The GGUF container (gguf_writer.h): little-endian scalars, length-prefixed strings, aligned data.
#include "volt/gguf/gguf_writer.h"

#include <algorithm>
#include <cstring>

#include "volt/core/atomic_file.h"
#include "volt/core/check.h"

namespace volt::gguf {

namespace {

template <typename T>
void put(std::string& out, T v) {
  // Little-endian by construction, whatever the host.
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}

void put_f32(std::string& out, float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  put<uint32_t>(out, u);
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

uint64_t padded(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

void Writer::add_raw(const std::string& key, ValueType type, std::string value_bytes) {
  VOLT_CHECK(!key.empty(), "[gguf] a metadata key is empty");
  VOLT_CHECK(!has(key), "[gguf] metadata key '", key, "' is set twice");
  keys_.push_back(key);
  put_string(metadata_, key);
  put<uint32_t>(metadata_, static_cast<uint32_t>(type));
  metadata_ += value_bytes;
}

bool Writer::has(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

void Writer::add_u32(const std::string& key, uint32_t v) {
  std::string b;
  put<uint32_t>(b, v);
  add_raw(key, ValueType::U32, b);
}

void Writer::add_i32(const std::string& key, int32_t v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(v));
  add_raw(key, ValueType::I32, b);
}

void Writer::add_f32(const std::string& key, float v) {
  std::string b;
  put_f32(b, v);
  add_raw(key, ValueType::F32, b);
}

void Writer::add_bool(const std::string& key, bool v) {
  add_raw(key, ValueType::BOOL, std::string(1, v ? 1 : 0));
}

void Writer::add_string(const std::string& key, const std::string& v) {
  std::string b;
  put_string(b, v);
  add_raw(key, ValueType::STRING, b);
}

void Writer::add_strings(const std::string& key, const std::vector<std::string>& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(ValueType::STRING));
  put<uint64_t>(b, v.size());
  for (const auto& s : v) put_string(b, s);
  add_raw(key, ValueType::ARRAY, b);
}

void Writer::add_i32s(const std::string& key, const std::vector<int32_t>& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(ValueType::I32));
  put<uint64_t>(b, v.size());
  for (int32_t x : v) put<uint32_t>(b, static_cast<uint32_t>(x));
  add_raw(key, ValueType::ARRAY, b);
}

void Writer::add_f32s(const std::string& key, const std::vector<float>& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(ValueType::F32));
  put<uint64_t>(b, v.size());
  for (float x : v) put_f32(b, x);
  add_raw(key, ValueType::ARRAY, b);
}

void Writer::add_tensor(const std::string& name, const std::vector<int64_t>& shape, TensorType type,
                        std::function<void(std::string&)> produce) {
  VOLT_CHECK(!name.empty() && name.size() < 64, "[gguf] tensor name '", name,
             "' must be 1 to 63 bytes");
  VOLT_CHECK(shape.size() >= 1 && shape.size() <= 4, "[gguf] tensor '", name, "' has ",
             shape.size(), " dims (ggml holds 1 to 4)");
  for (const auto& t : tensors_)
    VOLT_CHECK(t.name != name, "[gguf] tensor '", name, "' is added twice");
  int64_t count = 1;
  for (int64_t d : shape) {
    VOLT_CHECK(d > 0, "[gguf] tensor '", name, "' has a dimension of ", d);
    count *= d;
  }
  VOLT_CHECK(shape.back() % block_values(type) == 0, "[gguf] tensor '", name, "': rows of ",
             shape.back(), " values cannot be stored as ", type_name(type), " (blocks of ",
             block_values(type), ")");
  const int64_t bytes = encoded_bytes(type, count);
  tensors_.push_back({name, shape, type, bytes, data_size_, std::move(produce)});
  data_size_ += padded(static_cast<uint64_t>(bytes));
}

std::string Writer::header_bytes() const {
  std::string h;
  put<uint32_t>(h, kMagic);
  put<uint32_t>(h, kVersion);
  put<uint64_t>(h, tensors_.size());
  put<uint64_t>(h, keys_.size());
  h += metadata_;
  for (const auto& t : tensors_) {
    put_string(h, t.name);
    put<uint32_t>(h, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
      put<uint64_t>(h, static_cast<uint64_t>(*it));
    put<uint32_t>(h, static_cast<uint32_t>(t.type));
    put<uint64_t>(h, t.offset);
  }
  h.resize(padded(h.size()), '\0');
  return h;
}

int64_t Writer::write(const std::string& path) const {
  AtomicFile file(path);  // removed again unless commit() is reached
  const std::string header = header_bytes();
  file.write(header.data(), header.size());
  std::string bytes;
  for (const auto& t : tensors_) {
    bytes.clear();
    t.produce(bytes);
    VOLT_CHECK(static_cast<int64_t>(bytes.size()) == t.bytes, "[gguf] ", path, ": tensor '", t.name,
               "' gave ", bytes.size(), " bytes, its shape and type want ", t.bytes);
    bytes.resize(padded(bytes.size()), '\0');
    file.write(bytes.data(), bytes.size());
  }
  file.commit();
  return static_cast<int64_t>(header.size() + data_size_);
}

}  // namespace volt::gguf

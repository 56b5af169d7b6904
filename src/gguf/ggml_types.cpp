// Float32 -> F16 / BF16 / Q8_0 as ggml rounds them, so that volt's q8_0 file holds the bytes
// llama.cpp's own converter would write for the same weights.
#include "volt/gguf/ggml_types.h"

#include <cmath>
#include <cstring>

#include "volt/core/check.h"

namespace volt::gguf {

namespace {

uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

float float_of(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}

}  // namespace

std::string type_name(TensorType type) {
  switch (type) {
    case TensorType::F32:
      return "f32";
    case TensorType::F16:
      return "f16";
    case TensorType::BF16:
      return "bf16";
    case TensorType::Q8_0:
      return "q8_0";
  }
  VOLT_FAIL("[gguf] unknown tensor type ", static_cast<uint32_t>(type));
}

int64_t block_values(TensorType type) { return type == TensorType::Q8_0 ? 32 : 1; }

int64_t block_bytes(TensorType type) {
  switch (type) {
    case TensorType::F32:
      return 4;
    case TensorType::F16:
    case TensorType::BF16:
      return 2;
    case TensorType::Q8_0:
      return 2 + 32;
  }
  VOLT_FAIL("[gguf] unknown tensor type ", static_cast<uint32_t>(type));
}

int64_t encoded_bytes(TensorType type, int64_t count) {
  VOLT_CHECK(count % block_values(type) == 0, "[gguf] ", count, " values do not fill ",
             type_name(type), " blocks of ", block_values(type));
  return count / block_values(type) * block_bytes(type);
}

uint16_t f32_to_f16(float x) {
  uint32_t u = bits_of(x);
  const uint32_t sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN: a quiet NaN
  if (u >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504: inf
  if (u < 0x38800000u) {
    // Below 2^-14 the half is subnormal, a multiple of 2^-24: adding 0.5 (whose ulp is 2^-24)
    // lets the float adder round x to that grid, to nearest even, and leaves the count in the
    // low mantissa bits.
    const float scaled = float_of(u) + 0.5f;
    return static_cast<uint16_t>(sign | (bits_of(scaled) - bits_of(0.5f)));
  }
  // Normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits, rounding to nearest even.
  const uint32_t odd = (u >> 13) & 1u;
  u += 0xc8000fffu + odd;  // (15 - 127) << 23, wrapped, plus the rounding bias
  return static_cast<uint16_t>(sign | (u >> 13));
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return float_of(sign | 0x7f800000u | (mant << 13));
  return float_of(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_bf16(float x) {
  const uint32_t u = bits_of(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

void encode(const float* values, int64_t count, TensorType type, std::string& out) {
  const size_t start = out.size();
  out.reserve(start + static_cast<size_t>(encoded_bytes(type, count)));
  switch (type) {
    case TensorType::F32:
      out.append(reinterpret_cast<const char*>(values), static_cast<size_t>(count) * 4);
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < count; ++i) put_u16(out, f32_to_f16(values[i]));
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < count; ++i) put_u16(out, f32_to_bf16(values[i]));
      return;
    case TensorType::Q8_0:
      for (int64_t b = 0; b < count; b += 32) {
        const float* x = values + b;
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        // As ggml's quantize_row_q8_0_ref: the int8s use the float32 scale, the file its fp16.
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_u16(out, f32_to_f16(d));
        for (int j = 0; j < 32; ++j) {
          out.push_back(static_cast<char>(static_cast<int8_t>(std::round(x[j] * id))));
        }
      }
      return;
  }
  VOLT_FAIL("[gguf] unknown tensor type ", static_cast<uint32_t>(type));
}

}  // namespace volt::gguf

// ggml's tensor element types that volt writes into GGUF files, encoded from float32: F32, F16,
// BF16 and Q8_0 (blocks of 32 values: one fp16 scale d = max|x| / 127, then 32 int8 q = round(x /
// d), so x ~ d q). No LibTorch: the GGUF writer and its tests build in seconds.
#pragma once

#include <cstdint>
#include <string>

namespace volt::gguf {

/// ggml_type ids (ggml.h, gguf-py's GGMLQuantizationType).
enum class TensorType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

/// "f32", "f16", "bf16", "q8_0".
std::string type_name(TensorType type);
/// Values per block (32 for Q8_0, else 1) and bytes per block (4, 2, 2, 34).
int64_t block_values(TensorType type);
int64_t block_bytes(TensorType type);
/// Bytes of `count` values; count must be a multiple of block_values(type).
int64_t encoded_bytes(TensorType type, int64_t count);

/// IEEE binary16 bits of x, rounded to nearest even (ggml's GGML_FP32_TO_FP16 on x86 F16C).
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t h);
/// bfloat16 bits of x, rounded to nearest even; NaN stays a quiet NaN (ggml_compute_fp32_to_bf16).
uint16_t f32_to_bf16(float x);

/// `count` floats encoded as `type`, appended to out (little-endian, as GGUF stores them).
void encode(const float* values, int64_t count, TensorType type, std::string& out);

}  // namespace volt::gguf

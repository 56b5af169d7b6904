// `volt dtype-info VALUE`: how one number is stored in FP32, FP16 and BF16 (Module 4, precision).
// For each format: the sign, exponent and mantissa bits, the stored value and its error, the
// neighbouring representable values and the ULP, and the format's constants (largest finite value,
// smallest normal and subnormal, machine epsilon, decimal digits).
//
// Pure C++ (no LibTorch): the rounding is done here on the bits, round to nearest, ties to even,
// directly from the double's exact value (never via float, which would round twice), with gradual
// underflow to subnormals and zero and overflow to infinity as IEEE 754 specifies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace volt::dtype {

/// A binary floating-point format: 1 sign bit, exponent_bits, mantissa_bits (the stored fraction,
/// without the implicit leading 1) and the exponent bias 2^(exponent_bits-1) - 1.
struct FloatFormat {
  std::string name;   ///< "fp32", "fp16", "bf16"
  std::string label;  ///< "FP32", "FP16", "BF16"
  int exponent_bits = 0;
  int mantissa_bits = 0;
  int bias = 0;

  int total_bits() const { return 1 + exponent_bits + mantissa_bits; }
  /// Significant bits including the implicit leading one (24, 11, 8).
  int precision() const { return mantissa_bits + 1; }
  /// Exponent of the smallest normal number (1 - bias) and of the largest finite one (bias).
  int min_exponent() const { return 1 - bias; }
  int max_exponent() const { return bias; }
  double max_finite() const;     ///< (2 - 2^-m) * 2^bias: 3.4028e38, 65504, 3.3895e38
  double min_normal() const;     ///< 2^(1-bias): 1.1755e-38, 6.1035e-5, 1.1755e-38
  double min_subnormal() const;  ///< 2^(1-bias-m): 1.4013e-45, 5.9605e-8, 9.1835e-41
  double epsilon() const;        ///< 2^-m, the gap between 1 and the next value
  double decimal_digits() const; ///< precision() * log10(2): 7.22, 3.31, 2.41
};

const FloatFormat& fp32();
const FloatFormat& fp16();
const FloatFormat& bf16();
/// FP32, FP16, BF16: the order of the report.
const std::vector<FloatFormat>& formats();

/// The bits of the value of `format` nearest to x (round to nearest, ties to even). NaN keeps its
/// sign and the top bits of its payload, with the quiet bit set.
uint32_t encode(const FloatFormat& format, double x);
/// The value of a bit pattern (every value of these formats is exactly a double).
double decode(const FloatFormat& format, uint32_t bits);

enum class FloatClass { Zero, Subnormal, Normal, Inf, NaN };
const char* class_name(FloatClass c);  ///< "zero", "subnormal", "normal", "inf", "nan"

/// x as stored in one format.
struct Encoding {
  const FloatFormat* format = nullptr;
  double input = 0;
  uint32_t bits = 0;
  uint32_t sign = 0;      ///< the sign bit
  uint32_t exponent = 0;  ///< the biased exponent field
  uint32_t mantissa = 0;  ///< the fraction field
  /// The power of two the significand multiplies: exponent - bias for normals, 1 - bias for
  /// subnormals and zero; 0 for inf and NaN (check cls).
  int unbiased_exponent = 0;
  /// 1.fraction for normals, 0.fraction for subnormals and zero; NaN for inf and NaN.
  double significand = 0;
  FloatClass cls = FloatClass::Zero;
  double stored = 0;          ///< decode(bits)
  double error = 0;           ///< stored - input (inf on overflow, NaN for NaN)
  double relative_error = 0;  ///< error / |input| (0 when both are zero)
  bool exact = false;         ///< stored == input (both NaN counts as exact)
  bool overflow = false;      ///< a finite input became inf
  bool underflow = false;     ///< a nonzero input became zero
  bool tie = false;        ///< the input was exactly halfway between two values (went to the even one)
  /// The representable values next to the stored one, below and above (the input lies strictly
  /// between them); for inf, the largest finite value and inf; NaN for NaN.
  double below = 0, above = 0;
  /// The gap from the stored value's magnitude to the next larger one: 2^(e - mantissa_bits);
  /// NaN for inf and NaN.
  double ulp = 0;
  /// "s eeeee mmmmmmmmmm": the three fields in binary, separated by spaces.
  std::string binary() const;
  /// "0x3c00": the bits in hexadecimal, total_bits/4 digits.
  std::string hex() const;
};

Encoding analyze(const FloatFormat& format, double x);

/// The shortest printf-rounded decimal (%.Ne, N = 1..17) that reads back as the same double, in
/// Python's repr style ("0.1", "65504", "1e-08", "3.4028234663852886e+38", "inf", "-0"). It can
/// be one digit longer than Python's repr where printf's rounding of a tie misses.
std::string shortest(double x);
/// x in C99 hex-float notation ("0x1.999999999999ap-4").
std::string hexfloat(double x);

/// Parses VALUE: decimal, scientific, hex-float (0x1.8p3), inf, -inf, nan (case-insensitive,
/// surrounding spaces allowed). Throws volt::Error "[dtype-info] 'abc' is not a number".
double parse_value(const std::string& text);

/// The human-readable report: one block per format, notes, and the formats' constants.
std::string render_text(double x);
/// The same as JSON: {"input", "input_hex", "formats": {"fp32": {...}, "fp16": ..., "bf16": ...}}.
/// Non-finite numbers are the strings "inf", "-inf", "nan" ("-nan" with the sign bit set).
std::string render_json(double x, int indent = -1);

}  // namespace volt::dtype

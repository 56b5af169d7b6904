// How a number is stored in FP32, FP16 and BF16: rounding on the bits, the report and its JSON.
#include "volt/core/dtype_info.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "volt/core/check.h"

namespace volt::dtype {

namespace {

FloatFormat make_format(const char* name, const char* label, int exponent_bits, int mantissa_bits) {
  FloatFormat f;
  f.name = name;
  f.label = label;
  f.exponent_bits = exponent_bits;
  f.mantissa_bits = mantissa_bits;
  f.bias = (1 << (exponent_bits - 1)) - 1;
  return f;
}

uint64_t double_bits(double x) {
  uint64_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

uint32_t exponent_all_ones(const FloatFormat& f) { return (1u << f.exponent_bits) - 1; }

// The value next to a finite bit pattern, towards +inf (up) or -inf (down).
double next_value(const FloatFormat& f, uint32_t bits, bool up) {
  const uint32_t sign_bit = 1u << (f.exponent_bits + f.mantissa_bits);
  const uint32_t magnitude = bits & (sign_bit - 1);
  const bool negative = (bits & sign_bit) != 0;
  if (magnitude == 0) return decode(f, up ? 1u : (sign_bit | 1u));  // +-0: the smallest subnormal
  // Away from zero when moving in the direction of the sign, towards zero otherwise.
  const bool away = up != negative;
  return decode(f, (bits & sign_bit) | (away ? magnitude + 1 : magnitude - 1));
}

std::string with_sign(bool negative, const std::string& s) { return negative ? "-" + s : s; }

// A double in Python's repr style: fixed notation for exponents -4..15, else d.ddde+XX.
std::string python_style(double x, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", precision - 1, std::fabs(x));
  const std::string s(buf);
  const size_t e_pos = s.find('e');
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i) {
    if (s[i] != '.') digits += s[i];
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int exponent = std::atoi(s.c_str() + e_pos + 1);
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      if (static_cast<int>(digits.size()) <= exponent + 1) {
        out = digits + std::string(static_cast<size_t>(exponent + 1) - digits.size(), '0');
      } else {
        out = digits.substr(0, static_cast<size_t>(exponent + 1)) + "." +
              digits.substr(static_cast<size_t>(exponent + 1));
      }
    } else {
      out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  }
  return with_sign(std::signbit(x), out);
}

// A short form for tables and relative errors: 5 significant digits, Python style.
std::string short_number(double x, int digits = 5) {
  if (!std::isfinite(x) || x == 0) return shortest(x);
  return python_style(std::stod(python_style(x, digits)), digits);
}

}  // namespace

double FloatFormat::max_finite() const {
  return std::ldexp(2.0 - std::ldexp(1.0, -mantissa_bits), bias);
}
double FloatFormat::min_normal() const { return std::ldexp(1.0, min_exponent()); }
double FloatFormat::min_subnormal() const { return std::ldexp(1.0, min_exponent() - mantissa_bits); }
double FloatFormat::epsilon() const { return std::ldexp(1.0, -mantissa_bits); }
double FloatFormat::decimal_digits() const { return precision() * std::log10(2.0); }

const FloatFormat& fp32() {
  static const FloatFormat f = make_format("fp32", "FP32", 8, 23);
  return f;
}
const FloatFormat& fp16() {
  static const FloatFormat f = make_format("fp16", "FP16", 5, 10);
  return f;
}
const FloatFormat& bf16() {
  static const FloatFormat f = make_format("bf16", "BF16", 8, 7);
  return f;
}
const std::vector<FloatFormat>& formats() {
  static const std::vector<FloatFormat> all = {fp32(), fp16(), bf16()};
  return all;
}

uint32_t encode(const FloatFormat& f, double x) {
  const int m = f.mantissa_bits;
  const uint64_t d = double_bits(x);
  const uint32_t sign_bit = static_cast<uint32_t>(d >> 63) << (f.exponent_bits + m);
  const uint32_t inf_bits = sign_bit | (exponent_all_ones(f) << m);
  const uint64_t d_exponent = (d >> 52) & 0x7ff;
  const uint64_t d_fraction = d & ((uint64_t{1} << 52) - 1);
  if (d_exponent == 0x7ff) {
    if (d_fraction == 0) return inf_bits;
    // NaN: the top bits of the payload, quiet bit set (as hardware conversions do).
    return inf_bits | static_cast<uint32_t>(d_fraction >> (52 - m)) | (1u << (m - 1));
  }
  if (d_exponent == 0 && d_fraction == 0) return sign_bit;
  // |x| = sig * 2^q exactly, sig < 2^53.
  const uint64_t sig = d_exponent == 0 ? d_fraction : (d_fraction | (uint64_t{1} << 52));
  const int q = d_exponent == 0 ? -1074 : static_cast<int>(d_exponent) - 1075;
  const int e = q + 63 - __builtin_clzll(sig);  // floor(log2 |x|)
  // Round |x| to a multiple of the format's spacing at e: 2^(e - m), or 2^(emin - m) below the
  // normal range (gradual underflow). shift > 0 always: m < 52 and emin >= -1022.
  int e0 = std::max(e, f.min_exponent());
  const int shift = e0 - m - q;
  uint64_t n = 0;
  if (shift < 54) {  // else |x| < half the spacing: n stays 0
    n = sig >> shift;
    const uint64_t rest = sig & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rest > half || (rest == half && (n & 1) != 0)) ++n;  // ties to even
  }
  if (n == (uint64_t{1} << (m + 1))) {  // rounded up to the next power of two
    n >>= 1;
    ++e0;
  }
  if (n >= (uint64_t{1} << m)) {  // normal
    const int biased = e0 + f.bias;
    if (biased >= static_cast<int>(exponent_all_ones(f))) return inf_bits;  // overflow
    return sign_bit | (static_cast<uint32_t>(biased) << m) |
           static_cast<uint32_t>(n - (uint64_t{1} << m));
  }
  return sign_bit | static_cast<uint32_t>(n);  // subnormal or zero (e0 == emin)
}

double decode(const FloatFormat& f, uint32_t bits) {
  const int m = f.mantissa_bits;
  const bool negative = ((bits >> (f.exponent_bits + m)) & 1u) != 0;
  const uint32_t exponent = (bits >> m) & exponent_all_ones(f);
  const uint32_t fraction = bits & ((1u << m) - 1);
  double magnitude = 0;
  if (exponent == exponent_all_ones(f)) {
    magnitude = fraction == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(fraction), f.min_exponent() - m);
  } else {
    magnitude = std::ldexp(static_cast<double>(fraction | (1u << m)),
                           static_cast<int>(exponent) - f.bias - m);
  }
  return negative ? -magnitude : magnitude;
}

const char* class_name(FloatClass c) {
  switch (c) {
    case FloatClass::Zero: return "zero";
    case FloatClass::Subnormal: return "subnormal";
    case FloatClass::Normal: return "normal";
    case FloatClass::Inf: return "inf";
    case FloatClass::NaN: return "nan";
  }
  return "?";
}

std::string Encoding::binary() const {
  const int m = format->mantissa_bits, e = format->exponent_bits;
  std::string s;
  s += sign ? '1' : '0';
  s += ' ';
  for (int i = e - 1; i >= 0; --i) s += ((exponent >> i) & 1u) ? '1' : '0';
  s += ' ';
  for (int i = m - 1; i >= 0; --i) s += ((mantissa >> i) & 1u) ? '1' : '0';
  return s;
}

std::string Encoding::hex() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", format->total_bits() / 4, static_cast<unsigned>(bits));
  return buf;
}

Encoding analyze(const FloatFormat& f, double x) {
  const int m = f.mantissa_bits;
  Encoding r;
  r.format = &f;
  r.input = x;
  r.bits = encode(f, x);
  r.sign = (r.bits >> (f.exponent_bits + m)) & 1u;
  r.exponent = (r.bits >> m) & exponent_all_ones(f);
  r.mantissa = r.bits & ((1u << m) - 1);
  r.stored = decode(f, r.bits);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  if (r.exponent == exponent_all_ones(f)) {
    r.cls = r.mantissa == 0 ? FloatClass::Inf : FloatClass::NaN;
    r.significand = nan;
    r.ulp = nan;
    if (r.cls == FloatClass::Inf) {
      r.below = r.sign ? -inf : f.max_finite();
      r.above = r.sign ? -f.max_finite() : inf;
    } else {
      r.below = r.above = nan;
    }
  } else {
    r.cls = r.exponent != 0 ? FloatClass::Normal : r.mantissa != 0 ? FloatClass::Subnormal : FloatClass::Zero;
    r.unbiased_exponent = r.exponent != 0 ? static_cast<int>(r.exponent) - f.bias : f.min_exponent();
    r.significand = (r.exponent != 0 ? 1.0 : 0.0) + std::ldexp(static_cast<double>(r.mantissa), -m);
    r.ulp = std::ldexp(1.0, r.unbiased_exponent - m);
    r.below = next_value(f, r.bits, false);
    r.above = next_value(f, r.bits, true);
  }
  const bool both_nan = std::isnan(x) && std::isnan(r.stored);
  r.exact = both_nan || r.stored == x;
  if (both_nan) {
    r.error = r.relative_error = nan;
  } else if (r.exact) {
    r.error = r.relative_error = 0;
  } else {
    r.error = r.stored - x;  // exact: stored and x are within a factor of two (or stored is 0)
    r.relative_error = r.error / std::fabs(x);
  }
  r.overflow = std::isfinite(x) && std::isinf(r.stored);
  r.underflow = x != 0 && r.stored == 0;
  if (!r.exact && std::isfinite(r.stored) && std::isfinite(x)) {
    // The value on the other side of x; x is a tie when it lies exactly halfway.
    const double other = x > r.stored ? r.above : r.below;
    r.tie = std::isfinite(other) && std::fabs(x - r.stored) == std::fabs(other - r.stored) / 2;
  }
  return r;
}

std::string shortest(double x) {
  if (std::isnan(x)) return std::signbit(x) ? "-nan" : "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  if (x == 0) return std::signbit(x) ? "-0" : "0";
  for (int precision = 1; precision < 17; ++precision) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, x);
    if (std::strtod(buf, nullptr) == x) return python_style(x, precision);
  }
  return python_style(x, 17);
}

std::string hexfloat(double x) {
  if (std::isnan(x)) return std::signbit(x) ? "-nan" : "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

double parse_value(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  const std::string s = text.substr(begin, end - begin);
  // strtod reads decimal, scientific, hex-float, inf, infinity and nan, but also "nan(chars)":
  // keep to the plain spellings.
  bool ok = !s.empty() && s.find('(') == std::string::npos;
  double value = 0;
  if (ok) {
    char* stop = nullptr;
    value = std::strtod(s.c_str(), &stop);  // out of double's range: +-inf or 0, as written
    ok = stop == s.c_str() + s.size();
  }
  VOLT_CHECK(ok, "[dtype-info] '", text,
             "' is not a number (try 0.1, -2.5e-3, 0x1.8p3, inf, -inf or nan)");
  return value;
}

namespace {

// "1.0625 × 2^3 = 8.5", "0.5 × 2^-14 = 3.0517578125e-05", "+0", "-inf", "nan".
std::string value_equation(const Encoding& r) {
  const bool negative = r.sign != 0;
  switch (r.cls) {
    case FloatClass::NaN: return "NaN (exponent all ones, mantissa nonzero)";
    case FloatClass::Inf: return std::string(negative ? "-" : "+") + "inf (exponent all ones, mantissa 0)";
    case FloatClass::Zero: return std::string(negative ? "-" : "+") + "0";
    default: break;
  }
  return with_sign(negative, shortest(r.significand)) + " \u00d7 2^" + std::to_string(r.unbiased_exponent) +
         " = " + shortest(r.stored);
}

std::vector<std::string> notes_for(const Encoding& r, const Encoding& fp16_enc) {
  const FloatFormat& f = *r.format;
  const std::string x = shortest(r.input);
  const std::string label = f.label;
  std::vector<std::string> notes;
  if (r.overflow) {
    std::string n = x + " is beyond " + label + "'s largest finite value " + shortest(f.max_finite()) +
                    ": it overflows to " + shortest(r.stored);
    if (f.name == "fp16") n += " \u2014 why fp16 training needs loss scaling (or bf16)";
    notes.push_back(n);
  } else if (std::isfinite(r.input) && std::fabs(r.input) > f.max_finite()) {
    notes.push_back(x + " is beyond " + label + "'s largest finite value, but by less than half a ULP: it rounds to " +
                    shortest(r.stored) + " (from " + shortest(f.max_finite() + r.ulp / 2) + " on, inf)");
  }
  if (r.underflow) {
    std::string n = x + " is below half of " + label + "'s smallest subnormal " + shortest(f.min_subnormal()) +
                    ": it flushes to " + shortest(r.stored) + " (underflow)";
    if (f.name == "fp16") n += " \u2014 small gradients vanish, the other reason for loss scaling";
    notes.push_back(n);
  } else if (r.cls == FloatClass::Subnormal) {
    const int bits = 32 - __builtin_clz(r.mantissa);
    notes.push_back("below " + label + "'s smallest normal value " + shortest(f.min_normal()) +
                    ": a subnormal (exponent field 0, no implicit 1), " + std::to_string(bits) +
                    " significant bit" + (bits == 1 ? "" : "s") + " left instead of " +
                    std::to_string(f.precision()));
  }
  if (r.tie) {
    const double other = r.input > r.stored ? r.above : r.below;
    notes.push_back(x + " is exactly halfway between " + shortest(std::min(other, r.stored)) + " and " +
                    shortest(std::max(other, r.stored)) + ": a tie goes to the even mantissa, " +
                    shortest(r.stored));
  }
  if (f.name == "bf16" && r.cls == FloatClass::Normal &&
      (fp16_enc.overflow || fp16_enc.underflow || fp16_enc.cls == FloatClass::Subnormal)) {
    notes.push_back("BF16 keeps FP32's 8 exponent bits: same range as FP32 (up to " +
                    short_number(f.max_finite()) + "), but only " + std::to_string(f.precision()) +
                    " significant bits");
  }
  return notes;
}

std::string pad(const std::string& s, size_t width) {
  // Width in characters: count UTF-8 lead bytes only.
  size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  return chars >= width ? s + " " : s + std::string(width - chars, ' ');
}

nlohmann::ordered_json number(double x) {
  if (std::isnan(x)) return std::signbit(x) ? "-nan" : "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  return x;
}

}  // namespace

std::string render_text(double x) {
  std::string out = "value " + shortest(x);
  if (std::isfinite(x)) out += "  (as a double: " + hexfloat(x) + ")";
  out += "\n\n";
  const Encoding half = analyze(fp16(), x);
  const std::string indent(6, ' ');
  for (const auto& f : formats()) {
    const Encoding r = analyze(f, x);
    out += pad(f.label, 6) + r.binary() + "  = " + value_equation(r) + "   (" + r.hex() + ")\n";
    if (r.cls != FloatClass::NaN || !std::isnan(x)) {
      out += indent + "stored " + shortest(r.stored) + ", error " + shortest(r.error) + " (relative " +
             short_number(r.relative_error, 3) + ")" + (r.exact ? ", exact" : "") + "\n";
    }
    if (r.cls == FloatClass::Inf) {
      out += indent + "largest finite " + shortest(f.max_finite()) + " (ULP there " +
             shortest(std::ldexp(1.0, f.max_exponent() - f.mantissa_bits)) + ")\n";
    } else if (r.cls != FloatClass::NaN) {
      out += indent + "neighbours " + shortest(r.below) + " < x < " + shortest(r.above) + " (ULP " +
             shortest(r.ulp) + ")\n";
    }
    for (const auto& note : notes_for(r, half)) out += indent + "note: " + note + "\n";
  }
  if (std::isnan(x)) out += "\nnote: NaN is not a number: any operation with it gives NaN, and NaN != NaN\n";
  out += "\n" + pad("", 6) + pad("bits s/e/m", 12) + pad("max finite", 12) + pad("min normal", 12) +
         pad("min subnormal", 15) + pad("epsilon", 12) + "decimal digits\n";
  for (const auto& f : formats()) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "%.2f", f.decimal_digits());
    out += pad(f.label, 6) +
           pad("1/" + std::to_string(f.exponent_bits) + "/" + std::to_string(f.mantissa_bits), 12) +
           pad(short_number(f.max_finite()), 12) + pad(short_number(f.min_normal()), 12) +
           pad(short_number(f.min_subnormal()), 15) + pad(short_number(f.epsilon()), 12) + digits + "\n";
  }
  return out;
}

std::string render_json(double x, int indent) {
  nlohmann::ordered_json j;
  j["input"] = number(x);
  j["input_hex"] = hexfloat(x);
  nlohmann::ordered_json all = nlohmann::ordered_json::object();
  const Encoding half = analyze(fp16(), x);
  for (const auto& f : formats()) {
    const Encoding r = analyze(f, x);
    const bool finite = r.cls != FloatClass::Inf && r.cls != FloatClass::NaN;
    nlohmann::ordered_json e;
    e["bits"] = r.bits;
    e["hex"] = r.hex();
    e["binary"] = r.binary();
    e["sign"] = r.sign;
    e["exponent"] = r.exponent;
    e["mantissa"] = r.mantissa;
    e["unbiased_exponent"] = finite ? nlohmann::ordered_json(r.unbiased_exponent) : nlohmann::ordered_json();
    e["significand"] = number(r.significand);
    e["class"] = class_name(r.cls);
    e["is_subnormal"] = r.cls == FloatClass::Subnormal;
    e["is_inf"] = r.cls == FloatClass::Inf;
    e["is_nan"] = r.cls == FloatClass::NaN;
    e["stored"] = number(r.stored);
    e["error"] = number(r.error);
    e["relative_error"] = number(r.relative_error);
    e["exact"] = r.exact;
    e["tie"] = r.tie;
    e["overflow"] = r.overflow;
    e["underflow"] = r.underflow;
    e["below"] = number(r.below);
    e["above"] = number(r.above);
    e["ulp"] = number(r.ulp);
    e["notes"] = notes_for(r, half);
    nlohmann::ordered_json c;
    c["total_bits"] = f.total_bits();
    c["exponent_bits"] = f.exponent_bits;
    c["mantissa_bits"] = f.mantissa_bits;
    c["bias"] = f.bias;
    c["max_finite"] = f.max_finite();
    c["min_normal"] = f.min_normal();
    c["min_subnormal"] = f.min_subnormal();
    c["epsilon"] = f.epsilon();
    c["decimal_digits"] = f.decimal_digits();
    e["format"] = c;
    all[f.name] = e;
  }
  j["formats"] = all;
  return j.dump(indent);
}

}  // namespace volt::dtype

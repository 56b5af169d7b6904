// Unicode character classes and transforms on top of ICU. ASCII answers come from small tables
// (most text is mostly ASCII and these run once per character); the rest asks ICU's tries.
#include "volt/tokenizers/unicode.h"

#include <unicode/uchar.h>

#include <array>
#include <cstring>

#include "volt/core/check.h"

namespace volt::unicode {
namespace {

int8_t category(uint32_t cp) { return u_charType(static_cast<UChar32>(cp)); }

constexpr uint32_t kLetterMask = U_GC_L_MASK;
constexpr uint32_t kNumberMask = U_GC_N_MASK;
constexpr uint32_t kPunctMask = U_GC_P_MASK;

bool in_mask(uint32_t cp, uint32_t mask) { return (U_MASK(category(cp)) & mask) != 0; }

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: the common case.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t len = utf8_length(c);
    if (len < 2 || i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF, as strict decoders do.
    uint32_t cp = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3Fu);
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string utf8_lossy(std::string_view s) {
  if (find_invalid_utf8(s) == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // The valid range of the second byte depends on the lead byte (Unicode Table 3-7); a
    // sequence is cut at the first byte that cannot continue it.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    size_t k = 1;
    while (k < len && i + k < n) {
      const unsigned char b = p[i + k];
      const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!ok) break;
      ++k;
    }
    if (k == len) {
      out.append(s.substr(i, len));
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += k;
  }
  return out;
}

bool is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_mask(cp, kLetterMask);
}
bool is_number(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_mask(cp, kNumberMask);
}
bool is_punctuation(uint32_t cp) {
  if (cp < 0x80) {
    // ASCII punctuation by Unicode category (Pc Pd Ps Pe Po): not $ + < = > ^ ` | ~ (symbols).
    static constexpr std::string_view kAsciiPunct = "!\"#%&'()*,-./:;?@[\\]_{}";
    return kAsciiPunct.find(static_cast<char>(cp)) != std::string_view::npos;
  }
  return in_mask(cp, kPunctMask);
}
bool is_whitespace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return u_isUWhiteSpace(static_cast<UChar32>(cp));
}
bool is_word(uint32_t cp) {
  if (cp < 0x80) return is_letter(cp) || is_number(cp) || cp == '_';
  const int8_t c = category(cp);
  return (U_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0;
}
Class classify(uint32_t cp) {
  if (cp < 0x80) {
    static const std::array<Class, 128> ascii = [] {
      std::array<Class, 128> t{};
      for (uint32_t c = 0; c < 128; ++c) {
        t[c] = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? Class::Letter
               : (c >= '0' && c <= '9')                 ? Class::Number
               : (c == ' ' || (c >= 0x09 && c <= 0x0D)) ? Class::Space
                                                        : Class::Other;
      }
      return t;
    }();
    return ascii[cp];
  }
  const uint32_t m = U_MASK(category(cp));
  if (m & kLetterMask) return Class::Letter;
  if (m & kNumberMask) return Class::Number;
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) return Class::Space;
  return Class::Other;
}

}  // namespace volt::unicode

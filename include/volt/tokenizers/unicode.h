// Unicode for tokenizers: UTF-8 decoding and validation, and the character classes regex
// pre-tokenizers use (\p{L}, \p{N}, \s, punctuation). Backed by ICU so that the hand-written
// pre-tokenizers and the regex engine share one Unicode version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace volt::unicode {

/// Decodes the code point at s[i] and advances i past it. The text must be valid UTF-8 (see
/// check_utf8); the decoder does not re-check.
inline uint32_t next_code_point(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  if (c < 0xE0) {
    const uint32_t cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
    i += 2;
    return cp;
  }
  if (c < 0xF0) {
    const uint32_t cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                        (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
    i += 3;
    return cp;
  }
  const uint32_t cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
                      ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
                      (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
  i += 4;
  return cp;
}

/// Appends the UTF-8 encoding of cp.
void append_utf8(std::string& out, uint32_t cp);
/// Byte offset of the first invalid UTF-8 sequence, or npos when s is valid.
size_t find_invalid_utf8(std::string_view s);
/// Bytes to valid UTF-8, each maximal ill-formed subsequence replaced by U+FFFD (Rust's
/// String::from_utf8_lossy, Python's errors="replace").
std::string utf8_lossy(std::string_view bytes);
/// Number of bytes of the UTF-8 sequence that lead byte c starts (0: not a lead byte).
inline size_t utf8_length(unsigned char c) {
  return c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
}

/// \p{L}: any letter (Lu, Ll, Lt, Lm, Lo).
bool is_letter(uint32_t cp);
/// \p{N}: any number (Nd, Nl, No); Rust's char::is_numeric.
bool is_number(uint32_t cp);
/// \p{P}: any punctuation (Pc, Pd, Ps, Pe, Pi, Pf, Po).
bool is_punctuation(uint32_t cp);
/// \s: the White_Space property (as Oniguruma, Rust's regex and char::is_whitespace define it).
bool is_whitespace(uint32_t cp);
/// \w: letters, marks, decimal digits, connector punctuation (Oniguruma's Unicode \w).
bool is_word(uint32_t cp);

/// The four classes GPT-2-style pre-tokenizer patterns distinguish, with one table lookup.
enum class Class : uint8_t { Letter, Number, Space, Other };
Class classify(uint32_t cp);

/// Unicode normalization forms (the NFC/NFD/NFKC/NFKD normalizers pin the Unicode version the
/// `tokenizers` crate uses; see normalizers.cpp).
enum class Form { NFC, NFD, NFKC, NFKD };

}  // namespace volt::unicode

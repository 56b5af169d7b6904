// GPT-2's byte-level alphabet (bytes_to_unicode in openai/gpt-2 encoder.py): the 188 printable
// bytes stand for themselves; the other 68 map to U+0100 upwards in byte order, so every byte has
// a visible, whitespace-free stand-in and a vocabulary of strings covers all byte sequences.
#include <algorithm>
#include <array>

#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

struct Alphabet {
  std::array<uint32_t, 256> to_cp{};
  std::array<std::string, 256> to_utf8;
  Alphabet() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      unicode::append_utf8(to_utf8[b], to_cp[b]);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

}  // namespace

uint32_t byte_to_unicode(uint8_t b) { return alphabet().to_cp[b]; }

int byte_from_unicode(uint32_t cp) {
  if (cp < 256) {
    const bool printable = (cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE);
    return printable ? static_cast<int>(cp) : -1;
  }
  if (cp >= 256 + 68) return -1;
  // The non-printable bytes in increasing order, numbered from U+0100.
  static const std::array<int, 68> inverse = [] {
    std::array<int, 68> inv{};
    for (int b = 0; b < 256; ++b) {
      if (alphabet().to_cp[b] >= 256) inv[alphabet().to_cp[b] - 256] = b;
    }
    return inv;
  }();
  return inverse[cp - 256];
}

std::string bytes_to_alphabet(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  const auto& a = alphabet();
  for (char c : bytes) out += a.to_utf8[static_cast<uint8_t>(c)];
  return out;
}

std::vector<Span> alphabet_spans(std::string_view alphabet_text) {
  std::vector<Span> from;
  from.reserve(alphabet_text.size());
  uint32_t raw = 0;
  for (size_t i = 0; i < alphabet_text.size(); ++raw) {
    const size_t n =
        std::max<size_t>(1, unicode::utf8_length(static_cast<unsigned char>(alphabet_text[i])));
    for (size_t k = 0; k < n && i < alphabet_text.size(); ++k, ++i) from.push_back({raw, raw + 1});
  }
  return from;
}

}  // namespace volt::hf

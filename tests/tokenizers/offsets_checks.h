// What every encode_with_offsets result must satisfy, checked on any text (parity_test.cpp runs
// it on every golden text, offsets_test.cpp on hand-made ones).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "test_util.h"
#include "volt/tokenizers/tokenizer.h"
#include "volt/tokenizers/unicode.h"

namespace volt::test {

struct OffsetsExpectations {
  /// Consecutive tokens leave no input byte uncovered (false where the tokenizer drops input).
  bool no_gaps = true;
  /// Each token that has its bytes to itself, as valid UTF-8, decodes to them (false where a
  /// normalizer changes the text, as Qwen's NFC does for decomposed accents).
  bool tokens_decode_to_their_bytes = true;
};

/// The first broken promise, or "" when there is none: each span lies in the text, starts and
/// ends never decrease, no gaps (if asked), and tokens decode to their bytes (if asked; a decoder
/// that drops the first token's leading space, as SentencePiece's and Mistral's do, may).
inline std::string check_offsets(const Tokenizer& tok, std::string_view text, const Encoding& e,
                                 const OffsetsExpectations& want = {}) {
  const auto token = [&](size_t i) {
    return "token " + std::to_string(i) + " (id " + std::to_string(e.ids[i]) + ", bytes [" +
           std::to_string(e.offsets[i].start) + ", " + std::to_string(e.offsets[i].end) + "))";
  };
  const auto around = [&](size_t at) {
    const size_t from = at >= 30 ? at - 30 : 0;
    return " near \"" + escape_text(unicode::utf8_lossy(text.substr(from, 60))) + "\"";
  };
  if (e.ids.size() != e.offsets.size()) {
    return std::to_string(e.ids.size()) + " ids but " + std::to_string(e.offsets.size()) +
           " offsets";
  }
  size_t covered = 0;  // every byte before this one is covered (or dropped)
  for (size_t i = 0; i < e.ids.size(); ++i) {
    const ByteSpan& s = e.offsets[i];
    if (s.start > s.end || s.end > text.size()) return token(i) + " lies outside the text";
    if (i > 0 && (s.start < e.offsets[i - 1].start || s.end < e.offsets[i - 1].end)) {
      return token(i) + " starts or ends before " + token(i - 1) + around(s.start);
    }
    if (s.empty()) continue;
    if (want.no_gaps && s.start > covered) {
      return "the bytes [" + std::to_string(covered) + ", " + std::to_string(s.start) +
             ") belong to no token; the next is " + token(i) + around(covered);
    }
    covered = std::max(covered, s.end);
  }
  if (want.no_gaps && covered != text.size()) {
    return "the bytes [" + std::to_string(covered) + ", " + std::to_string(text.size()) +
           ") at the end belong to no token" + around(covered);
  }
  if (!want.tokens_decode_to_their_bytes) return "";
  for (size_t i = 0; i < e.ids.size(); ++i) {
    const ByteSpan& s = e.offsets[i];
    if (s.empty()) continue;
    const bool shared = (i > 0 && e.offsets[i - 1].end > s.start) ||
                        (i + 1 < e.ids.size() && e.offsets[i + 1].start < s.end);
    const std::string_view slice = text.substr(s.start, s.end - s.start);
    if (shared || unicode::find_invalid_utf8(slice) != std::string_view::npos) continue;
    const std::string decoded = tok.decode({e.ids[i]});
    if (decoded == slice || (slice[0] == ' ' && decoded == slice.substr(1))) continue;
    return token(i) + " decodes to \"" + escape_text(decoded) + "\" but its bytes are \"" +
           escape_text(slice) + "\"";
  }
  return "";
}

}  // namespace volt::test

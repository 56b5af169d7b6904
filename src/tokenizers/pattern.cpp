// Pre-tokenizer patterns. The hand-written matchers below replay, alternative by alternative, what
// a backtracking regex engine does with GPT-2's, Llama 3's and Qwen's patterns; the comments name
// the alternative each branch implements. They are ~10x faster than the engine and are tested
// against it (tests/tokenizers/pattern_test.cpp).
#include "volt/tokenizers/pattern.h"

#include <unicode/regex.h>
#include <unicode/utext.h>

#include "volt/core/check.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

using unicode::Class;

// A cursor over valid UTF-8: the class of the code point at a byte offset, and its end.
struct Text {
  std::string_view s;
  uint32_t cp_at(size_t i, size_t& next) const {
    next = i;
    return unicode::next_code_point(s, next);
  }
  Class class_at(size_t i, size_t& next) const { return unicode::classify(cp_at(i, next)); }
  // End of the run of code points of class c starting at i (i itself is of class c).
  size_t run_end(size_t i, Class c) const {
    size_t next;
    while (i < s.size()) {
      const auto b = static_cast<unsigned char>(s[i]);
      if (b < 0x80) {  // ASCII inline: the hot case
        if (unicode::classify(b) != c) break;
        ++i;
        continue;
      }
      if (class_at(i, next) != c) break;
      i = next;
    }
    return i;
  }
};

bool is_ascii_contraction(std::string_view s, size_t i, size_t& end, bool ignore_case) {
  // 's 't 'm 'd | 're 've 'll  (i points at the apostrophe)
  auto lower = [&](size_t k) -> int {
    if (k >= s.size()) return -1;
    const auto c = static_cast<unsigned char>(s[k]);
    if (!ignore_case) return c;
    if (c >= 'A' && c <= 'Z') return c + 32;
    // U+017F LATIN SMALL LETTER LONG S case-folds to 's' (the engines fold it too).
    if (c == 0xC5 && k + 1 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0xBF)
      return 's' | 0x100;
    return c;
  };
  const int a = lower(i + 1);
  if (a < 0) return false;
  if ((a & 0xFF) == 's' || a == 't' || a == 'm' || a == 'd') {
    end = i + ((a & 0x100) ? 3 : 2);
    return true;
  }
  const int b = lower(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
    end = i + 3;
    return true;
  }
  return false;
}

// Whitespace at i: the end of the match of `\s+(?!\S)|\s+` (the last two alternatives of both
// patterns): the whole run at the end of the text, else the run minus its last character when
// that leaves at least one, else the single character.
size_t whitespace_tail(const Text& t, size_t i) {
  size_t k = i, last_start = i, count = 0, next;
  while (k < t.s.size() && t.class_at(k, next) == Class::Space) {
    last_start = k;
    k = next;
    ++count;
  }
  if (k == t.s.size() || count < 2) return k;
  return last_start;
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t gpt2_match(const Text& t, size_t i) {
  const std::string_view s = t.s;
  size_t end, next;
  if (s[i] == '\'' && is_ascii_contraction(s, i, end, false)) return end;
  if (s[i] == ' ' && i + 1 < s.size()) {
    const Class c = t.class_at(i + 1, next);  // ` ?X+` with the space
    if (c != Class::Space) return t.run_end(next, c);
  }
  const Class c = t.class_at(i, next);
  if (c != Class::Space) return t.run_end(next, c);  // `X+` without a space
  return whitespace_tail(t, i);
}

// Llama 3 / cl100k: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//                   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Qwen 2/2.5/3 is the same with \p{N} for \p{N}{1,3}: kMaxDigits 1.
template <int kMaxDigits>
size_t llama3_match(const Text& t, size_t i) {
  const std::string_view s = t.s;
  size_t end, next;
  if (s[i] == '\'' && is_ascii_contraction(s, i, end, true)) return end;
  const uint32_t cp = t.cp_at(i, next);
  const Class c = unicode::classify(cp);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c == Class::Letter) return t.run_end(next, Class::Letter);
  if (c != Class::Number && cp != '\r' && cp != '\n' && next < s.size()) {
    size_t after;
    if (t.class_at(next, after) == Class::Letter) return t.run_end(after, Class::Letter);
  }
  // \p{N}{1,kMaxDigits}
  if (c == Class::Number) {
    size_t k = next;
    for (int n = 1; n < kMaxDigits && k < s.size(); ++n) {
      size_t after;
      if (t.class_at(k, after) != Class::Number) break;
      k = after;
    }
    return k;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t j = std::string_view::npos;
  if (c == Class::Other) {
    j = next;
  } else if (cp == ' ' && next < s.size()) {
    size_t after;
    if (t.class_at(next, after) == Class::Other) j = after;
  }
  if (j != std::string_view::npos) {
    size_t k = t.run_end(j, Class::Other);
    while (k < s.size() && (s[k] == '\r' || s[k] == '\n')) ++k;
    return k;
  }
  // c is whitespace. `\s*[\r\n]+`: up to and including the run's last \r or \n.
  size_t k = i, after_newline = std::string_view::npos;
  while (k < s.size() && t.class_at(k, next) == Class::Space) {
    if (s[k] == '\r' || s[k] == '\n') after_newline = k + 1;
    k = next;
  }
  if (after_newline != std::string_view::npos) return after_newline;
  return whitespace_tail(t, i);
}

template <size_t (*Match)(const Text&, size_t)>
class HandWritten : public Pattern {
 public:
  void find_all(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const override {
    const Text t{text};
    // Every code point starts some alternative, so the matches tile the text.
    for (size_t i = 0; i < text.size();) {
      const size_t end = Match(t, i);
      on_match(i, end);
      i = end;
    }
  }
};

class IcuRegex : public Pattern {
 public:
  IcuRegex(const std::string& regex, const std::string& where) {
    UParseError pe;
    UErrorCode status = U_ZERO_ERROR;
    // Oniguruma's defaults, which the `tokenizers` crate uses: ^ and $ match at line breaks, and
    // . matches anything but \n.
    pattern_.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(regex),
                                              UREGEX_MULTILINE | UREGEX_UNIX_LINES, pe, status));
    VOLT_CHECK(U_SUCCESS(status), "[tokenizer] ", where, ": bad regex '", regex, "' (",
               u_errorName(status), " at offset ", pe.offset, ")");
  }
  void find_all(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const override {
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
    std::unique_ptr<icu::RegexMatcher> m(pattern_->matcher(status));
    VOLT_CHECK(U_SUCCESS(status), "[tokenizer] regex matcher: ", u_errorName(status));
    m->reset(ut);
    // Native indexes of a UTF-8 UText are byte offsets.
    while (m->find(status) && U_SUCCESS(status)) {
      const auto b = static_cast<size_t>(m->start64(status));
      const auto e = static_cast<size_t>(m->end64(status));
      if (e > b) on_match(b, e);
    }
    utext_close(ut);
    VOLT_CHECK(U_SUCCESS(status), "[tokenizer] regex matching failed: ", u_errorName(status));
  }

 private:
  std::unique_ptr<icu::RegexPattern> pattern_;
};

class Literal : public Pattern {
 public:
  explicit Literal(std::string s) : s_(std::move(s)) {}
  void find_all(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const override {
    if (s_.empty()) return;
    for (size_t i = text.find(s_); i != std::string_view::npos; i = text.find(s_, i + s_.size())) {
      on_match(i, i + s_.size());
    }
  }

 private:
  std::string s_;
};

}  // namespace

std::unique_ptr<Pattern> regex_pattern(const std::string& regex, const std::string& where,
                                       bool force_engine) {
  if (!force_engine && regex == kGpt2Pattern) return std::make_unique<HandWritten<gpt2_match>>();
  if (!force_engine && regex == kLlama3Pattern)
    return std::make_unique<HandWritten<llama3_match<3>>>();
  if (!force_engine && regex == kQwen2Pattern)
    return std::make_unique<HandWritten<llama3_match<1>>>();
  return std::make_unique<IcuRegex>(regex, where);
}

std::unique_ptr<Pattern> literal_pattern(std::string literal) {
  return std::make_unique<Literal>(std::move(literal));
}

}  // namespace volt::hf

// Python's str methods on UTF-8 text, indexed by code point. Case mappings are Unicode's full
// mappings (ICU), applied one code point at a time as CPython does, with CPython's Final_Sigma
// rule for capital sigma.
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <algorithm>

#include "python.h"
#include "volt/tokenizers/unicode.h"

namespace volt::jinja::py {
namespace {

enum class Case { Upper, Lower, Title };

void append_mapped(std::string& out, uint32_t cp, Case c) {
  if (cp < 0x80) {
    char ch = static_cast<char>(cp);
    if (c == Case::Lower && ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (c != Case::Lower && ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    out.push_back(ch);
    return;
  }
  UChar src[2];
  int32_t n = 0;
  U16_APPEND_UNSAFE(src, n, static_cast<UChar32>(cp));
  UChar dst[16];
  UErrorCode err = U_ZERO_ERROR;
  int32_t len = 0;
  switch (c) {
    case Case::Upper:
      len = u_strToUpper(dst, 16, src, n, "", &err);
      break;
    case Case::Lower:
      len = u_strToLower(dst, 16, src, n, "", &err);
      break;
    case Case::Title:
      len = u_strToTitle(dst, 16, src, n, nullptr, "", &err);
      break;
  }
  if (U_FAILURE(err) || len > 16) {
    unicode::append_utf8(out, cp);
    return;
  }
  for (int32_t i = 0; i < len;) {
    UChar32 m;
    U16_NEXT_UNSAFE(dst, i, m);
    unicode::append_utf8(out, static_cast<uint32_t>(m));
  }
}

bool is_cased(uint32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASED); }
bool is_case_ignorable(uint32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASE_IGNORABLE);
}
bool is_lower_cp(uint32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_LOWERCASE);
}
bool is_upper_cp(uint32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_UPPERCASE);
}
bool is_title_cp(uint32_t cp) { return u_istitle(static_cast<UChar32>(cp)); }

// Lowercases cps[i] in context: capital sigma becomes final sigma at the end of a word.
void append_lower(std::string& out, const std::vector<uint32_t>& cps, size_t i) {
  if (cps[i] != 0x3A3) {
    append_mapped(out, cps[i], Case::Lower);
    return;
  }
  size_t j = i;
  uint32_t before = 0;
  bool found = false;
  while (j > 0) {
    --j;
    if (!is_case_ignorable(cps[j])) {
      before = cps[j];
      found = true;
      break;
    }
  }
  bool final_sigma = found && is_cased(before);
  if (final_sigma) {
    for (j = i + 1; j < cps.size(); ++j) {
      if (!is_case_ignorable(cps[j])) break;
    }
    final_sigma = j == cps.size() || !is_cased(cps[j]);
  }
  unicode::append_utf8(out, final_sigma ? 0x3C2 : 0x3C3);
}

// Python's ADJUST_INDICES: start/end clamped into [0, len] with negatives from the end.
std::pair<size_t, size_t> adjust(size_t len, std::optional<int64_t> start,
                                 std::optional<int64_t> end) {
  const auto n = static_cast<int64_t>(len);
  int64_t s = start.value_or(0), e = end.value_or(n);
  if (e > n) e = n;
  if (e < 0) e = std::max<int64_t>(e + n, 0);
  if (s < 0) s = std::max<int64_t>(s + n, 0);
  return {static_cast<size_t>(s), static_cast<size_t>(e)};
}

// Byte offset of every code point boundary (size: code points + 1).
std::vector<size_t> boundaries(std::string_view s) {
  std::vector<size_t> b;
  b.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) b.push_back(i);
  }
  b.push_back(s.size());
  return b;
}

size_t cp_index(const std::vector<size_t>& b, size_t byte) {
  return static_cast<size_t>(std::lower_bound(b.begin(), b.end(), byte) - b.begin());
}

bool is_line_break(uint32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
         cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

template <typename Pred>
bool all_chars(std::string_view s, Pred pred) {
  if (s.empty()) return false;
  size_t i = 0;
  while (i < s.size()) {
    if (!pred(unicode::next_code_point(s, i))) return false;
  }
  return true;
}

int32_t numeric_type(uint32_t cp) {
  return u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_NUMERIC_TYPE);
}

}  // namespace

bool is_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(unicode::next_code_point(s, i));
  return out;
}

std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) unicode::append_utf8(out, cps[i]);
  return out;
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  const auto cps = code_points(s);
  std::vector<uint32_t> set;
  if (chars != nullptr) set = code_points(*chars);
  const auto strippable = [&](uint32_t cp) {
    return chars == nullptr ? is_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strippable(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strippable(cps[e - 1])) --e;
  }
  return from_code_points(cps, b, e);
}

std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit,
                               bool from_right) {
  std::vector<std::string> out;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep != nullptr) {
    if (sep->empty()) throw Failure("ValueError", "empty separator");
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit-- > 0) {
        const size_t at = s.find(*sep, pos);
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(pos, at - pos));
        pos = at + sep->size();
      }
      out.emplace_back(s.substr(pos));
    } else {
      size_t end = s.size();
      while (maxsplit-- > 0 && end >= sep->size()) {
        const size_t at = s.rfind(*sep, end - sep->size());
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
        end = at;
      }
      out.emplace_back(s.substr(0, end));
      std::reverse(out.begin(), out.end());
    }
    return out;
  }
  const auto cps = code_points(s);
  const size_t n = cps.size();
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < n && is_space(cps[i])) ++i;
      if (i == n) break;
      if (maxsplit-- <= 0) {
        // Python keeps the rest as it is, but for the whitespace before it.
        out.push_back(from_code_points(cps, i, n));
        break;
      }
      size_t j = i;
      while (j < n && !is_space(cps[j])) ++j;
      out.push_back(from_code_points(cps, i, j));
      i = j;
    }
  } else {
    size_t i = n;
    while (true) {
      while (i > 0 && is_space(cps[i - 1])) --i;
      if (i == 0) break;
      if (maxsplit-- <= 0) {
        out.push_back(from_code_points(cps, 0, i));
        break;
      }
      size_t j = i;
      while (j > 0 && !is_space(cps[j - 1])) --j;
      out.push_back(from_code_points(cps, j, i));
      i = j;
    }
    std::reverse(out.begin(), out.end());
  }
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  const auto cps = code_points(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < cps.size()) {
    if (!is_line_break(cps[i])) {
      ++i;
      continue;
    }
    size_t eol = i + 1;
    if (cps[i] == '\r' && eol < cps.size() && cps[eol] == '\n') ++eol;
    out.push_back(from_code_points(cps, start, keepends ? eol : i));
    start = i = eol;
  }
  if (start < cps.size()) out.push_back(from_code_points(cps, start, cps.size()));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view with,
                    int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old.empty()) {
    const auto cps = code_points(s);
    for (size_t i = 0; i < cps.size(); ++i) {
      if (count > 0) {
        out += with;
        --count;
      }
      unicode::append_utf8(out, cps[i]);
    }
    if (count > 0) out += with;
    return out;
  }
  size_t pos = 0;
  while (count > 0) {
    const size_t at = s.find(old, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos));
    out.append(with);
    pos = at + old.size();
    --count;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t find(std::string_view s, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool from_right) {
  const auto b = boundaries(s);
  const auto [cs, ce] = adjust(b.size() - 1, start, end);
  if (static_cast<int64_t>(ce) - static_cast<int64_t>(cs) < static_cast<int64_t>(length(sub)))
    return -1;
  if (sub.empty()) return static_cast<int64_t>(from_right ? ce : cs);
  const std::string_view window = s.substr(b[cs], b[ce] - b[cs]);
  const size_t at = from_right ? window.rfind(sub) : window.find(sub);
  if (at == std::string_view::npos) return -1;
  return static_cast<int64_t>(cp_index(b, b[cs] + at));
}

int64_t count(std::string_view s, std::string_view sub, std::optional<int64_t> start,
              std::optional<int64_t> end) {
  const auto b = boundaries(s);
  const auto [cs, ce] = adjust(b.size() - 1, start, end);
  if (cs > ce) return 0;
  if (sub.empty()) return static_cast<int64_t>(ce - cs) + 1;
  const std::string_view window = s.substr(b[cs], b[ce] - b[cs]);
  int64_t n = 0;
  for (size_t pos = window.find(sub); pos != std::string_view::npos;
       pos = window.find(sub, pos + sub.size()))
    ++n;
  return n;
}

bool starts_with(std::string_view s, std::string_view prefix, std::optional<int64_t> start,
                 std::optional<int64_t> end, bool at_end) {
  const auto b = boundaries(s);
  const auto [cs, ce] = adjust(b.size() - 1, start, end);
  if (static_cast<int64_t>(ce) - static_cast<int64_t>(cs) < static_cast<int64_t>(length(prefix)))
    return false;
  const std::string_view window = s.substr(b[cs], b[ce] - b[cs]);
  if (prefix.size() > window.size()) return false;
  return at_end ? window.substr(window.size() - prefix.size()) == prefix
                : window.substr(0, prefix.size()) == prefix;
}

std::string upper(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) append_mapped(out, unicode::next_code_point(s, i), Case::Upper);
  return out;
}

std::string lower(std::string_view s) {
  const auto cps = code_points(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) append_lower(out, cps, i);
  return out;
}

std::string title(std::string_view s) {
  const auto cps = code_points(s);
  std::string out;
  bool previous_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (previous_cased) {
      append_lower(out, cps, i);
    } else {
      append_mapped(out, cps[i], Case::Title);
    }
    previous_cased = is_cased(cps[i]);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  const auto cps = code_points(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      append_mapped(out, cps[i], Case::Title);
    } else {
      append_lower(out, cps, i);
    }
  }
  return out;
}

std::string casefold(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : cp));
      continue;
    }
    UChar src[2];
    int32_t n = 0;
    U16_APPEND_UNSAFE(src, n, static_cast<UChar32>(cp));
    UChar dst[16];
    UErrorCode err = U_ZERO_ERROR;
    const int32_t len = u_strFoldCase(dst, 16, src, n, U_FOLD_CASE_DEFAULT, &err);
    if (U_FAILURE(err) || len > 16) {
      unicode::append_utf8(out, cp);
      continue;
    }
    for (int32_t k = 0; k < len;) {
      UChar32 m;
      U16_NEXT_UNSAFE(dst, k, m);
      unicode::append_utf8(out, static_cast<uint32_t>(m));
    }
  }
  return out;
}

std::string swapcase(std::string_view s) {
  const auto cps = code_points(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (is_upper_cp(cps[i])) {
      append_lower(out, cps, i);
    } else if (is_lower_cp(cps[i])) {
      append_mapped(out, cps[i], Case::Upper);
    } else {
      unicode::append_utf8(out, cps[i]);
    }
  }
  return out;
}

bool is_upper(std::string_view s) {
  bool cased = false;
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    if (is_lower_cp(cp) || is_title_cp(cp)) return false;
    if (!cased && is_upper_cp(cp)) cased = true;
  }
  return cased;
}

bool is_lower(std::string_view s) {
  bool cased = false;
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    if (is_upper_cp(cp) || is_title_cp(cp)) return false;
    if (!cased && is_lower_cp(cp)) cased = true;
  }
  return cased;
}

bool is_title(std::string_view s) {
  bool cased = false, previous_cased = false;
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    if (is_upper_cp(cp) || is_title_cp(cp)) {
      if (previous_cased) return false;
      previous_cased = cased = true;
    } else if (is_lower_cp(cp)) {
      if (!previous_cased) return false;
      previous_cased = cased = true;
    } else {
      previous_cased = false;
    }
  }
  return cased;
}

bool is_alpha(std::string_view s) {
  return all_chars(
      s, [](uint32_t cp) { return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_L_MASK) != 0; });
}
bool is_decimal(std::string_view s) {
  return all_chars(s, [](uint32_t cp) { return numeric_type(cp) == U_NT_DECIMAL; });
}
bool is_digit(std::string_view s) {
  return all_chars(s, [](uint32_t cp) {
    const auto t = numeric_type(cp);
    return t == U_NT_DECIMAL || t == U_NT_DIGIT;
  });
}
bool is_numeric(std::string_view s) {
  return all_chars(s, [](uint32_t cp) { return numeric_type(cp) != U_NT_NONE; });
}
bool is_alnum(std::string_view s) {
  return all_chars(s, [](uint32_t cp) {
    return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_L_MASK) != 0 ||
           numeric_type(cp) != U_NT_NONE;
  });
}
bool is_space_string(std::string_view s) { return all_chars(s, is_space); }

std::string pad(std::string_view s, int64_t width, std::string_view fill, int where) {
  const auto len = static_cast<int64_t>(length(s));
  if (width <= len) return std::string(s);
  const int64_t margin = width - len;
  int64_t left = 0;
  if (where == 0) left = margin / 2 + (margin & width & 1);
  if (where > 0) left = margin;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < margin; ++i) out += fill;
  return out;
}

std::vector<size_t> slice_indices(size_t len, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, std::optional<int64_t> step_arg) {
  const int64_t step = step_arg.value_or(1);
  if (step == 0) throw Failure("ValueError", "slice step cannot be zero");
  const auto n = static_cast<int64_t>(len);
  const auto clamp = [&](std::optional<int64_t> v, int64_t if_missing) {
    if (!v) return if_missing;
    int64_t x = *v;
    if (x < 0) {
      x = x < -n ? (step < 0 ? -1 : 0) : x + n;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = clamp(start, step < 0 ? n - 1 : 0);
  const int64_t e = clamp(stop, step < 0 ? -1 : n);
  std::vector<size_t> out;
  if (step > 0) {
    for (int64_t i = b; i < e; i += step) {
      out.push_back(static_cast<size_t>(i));
      if (step > e - i) break;
    }
  } else {
    for (int64_t i = b; i > e; i += step) {
      out.push_back(static_cast<size_t>(i));
      if (-step > i - e) break;
    }
  }
  return out;
}

}  // namespace volt::jinja::py

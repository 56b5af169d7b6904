// Hugging Face normalizers (tokenizers crate, tokenizers/src/normalizers/*.rs and the
// NormalizedString methods they call in tokenizers/src/tokenizer/normalizer.rs), checked against
// the crate itself (npm `tokenizers` 0.23.2, its Node binding) by
// scripts/hf_component_expected.mjs.
//
// The crate's Unicode tables are older than ICU 72's (Unicode 15.0) in places, and newer in one.
// Measured code point by code point against the crate (the script's `unicode --dump DIR`):
//   - NFC/NFD/NFKC/NFKD and StripAccents' combining marks come from
//     unicode-normalization-alignments 0.1.12: Unicode 9.0. A character assigned later has no
//     decomposition and is no mark there (U+1CF2/U+1CF3 still are marks, U+111C9 is not yet one).
//   - BertNormalizer's Cf (clean_text) and Mn (strip_accents) come from unicode_categories:
//     Unicode 8.0 (U+1734 still Mn; U+1885, U+1886, U+A9BD, U+111C9 not yet Mn).
//   - Lowercase is Rust's char::to_lowercase, whose tables are newer than ICU 72's: the pairs ICU
//     lacks are listed below.
// ICU answers everything else, restricted to those versions with its `age` property. A test
// checks every code point against digests of the crate's output.
//
// Each normalizer also runs aligned (normalize_aligned, for encode_with_offsets): every output
// byte records the input bytes it came from, at the granularity of the rewrite (a character for
// Lowercase, a normalization segment for NFC, a match for Replace). The per-character normalizers
// are written once, over an output that either only appends (normalize) or also aligns.
#include <unicode/brkiter.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/utext.h>

#include <array>
#include <cstring>
#include <memory>

#include "volt/core/check.h"
#include "volt/io/base64.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/sentencepiece.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

using unicode::append_utf8;
using unicode::next_code_point;

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

icu::UnicodeSet frozen_set(const char* pattern) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeSet set(icu::UnicodeString(pattern, -1, US_INV), status);
  VOLT_CHECK(U_SUCCESS(status), "[unicode] ICU set ", pattern, ": ", u_errorName(status));
  set.freeze();
  return set;
}

// The crate's character tables, as ICU sets and age-filtered normalizers (see the file comment).
struct CrateUnicode {
  icu::UnicodeSet unicode9 = frozen_set("[:age=9.0:]");
  icu::UnicodeSet combining_marks =
      frozen_set("[[[:M:]&[:age=9.0:]][\\u1CF2\\u1CF3]-[\\U000111C9]]");
  icu::UnicodeSet bert_nonspacing =
      frozen_set("[[[:Mn:]&[:age=8.0:]][\\u1734]-[\\u1885\\u1886\\uA9BD\\U000111C9]]");
  icu::UnicodeSet bert_format = frozen_set("[[:Cf:]&[:age=8.0:]]");
  std::array<std::unique_ptr<icu::FilteredNormalizer2>, 4> forms;

  CrateUnicode() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* base[4] = {
        icu::Normalizer2::getNFCInstance(status), icu::Normalizer2::getNFDInstance(status),
        icu::Normalizer2::getNFKCInstance(status), icu::Normalizer2::getNFKDInstance(status)};
    VOLT_CHECK(U_SUCCESS(status), "[unicode] ICU normalizers unavailable: ", u_errorName(status));
    for (int k = 0; k < 4; ++k)
      forms[k] = std::make_unique<icu::FilteredNormalizer2>(*base[k], unicode9);
  }
};

const CrateUnicode& crate_unicode() {
  static const CrateUnicode u;
  return u;
}

// NormalizedString::{nfc,nfd,nfkc,nfkd}: ASCII is invariant under every form.
std::string normalize_form(std::string_view s, unicode::Form form) {
  if (is_ascii(s)) return std::string(s);
  const auto& n = *crate_unicode().forms[static_cast<int>(form)];
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  icu::StringByteSink<std::string> sink(&out);
  UErrorCode status = U_ZERO_ERROR;
  n.normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), sink, nullptr,
                  status);
  VOLT_CHECK(U_SUCCESS(status), "[unicode] normalization failed: ", u_errorName(status));
  return out;
}

// Lowercase pairs of Unicode 16.0 and later that Rust knows and ICU 72 (Unicode 15.0) does not:
// {first, last, lowercase of first}, each range mapping with a constant offset.
struct LowerRange {
  uint32_t first, last, lower;
};
constexpr LowerRange kNewerLower[] = {
    {0x1C89, 0x1C89, 0x1C8A},    {0xA7CB, 0xA7CB, 0x0264}, {0xA7CC, 0xA7CC, 0xA7CD},
    {0xA7CE, 0xA7CE, 0xA7CF},    {0xA7D2, 0xA7D2, 0xA7D3}, {0xA7D4, 0xA7D4, 0xA7D5},
    {0xA7DA, 0xA7DA, 0xA7DB},    {0xA7DC, 0xA7DC, 0x019B}, {0x10D50, 0x10D65, 0x10D70},
    {0x16EA0, 0x16EB8, 0x16EBB},
};

// NormalizedString::lowercase maps each char on its own (char::to_lowercase), so a final sigma
// stays σ, unlike str::to_lowercase. U+0130 is the one unconditional multi-char lowercase.
void append_lower(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    return;
  }
  if (cp == 0x130) {
    out += "i\xCC\x87";
    return;
  }
  for (const auto& r : kNewerLower) {
    if (cp >= r.first && cp <= r.last) {
      append_utf8(out, r.lower + (cp - r.first));
      return;
    }
  }
  append_utf8(out, static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp))));
}

// The output of normalize(): bytes only. normalize_aligned() writes to an AlignedText, which has
// the same two calls and also records where each byte came from.
struct PlainText {
  std::string text;
  void add(std::string_view bytes, size_t, size_t) { text += bytes; }
  void copy(std::string_view input, size_t) { text += input; }
};

template <typename Out>
void lowercase_into(std::string_view s, Out& out) {
  std::string lower;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = next_code_point(s, i);
    lower.clear();
    append_lower(lower, cp);
    out.add(lower, start, i);
  }
}

std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) append_lower(out, next_code_point(s, i));
  return out;
}

// Keeps the code points `keep` accepts: NormalizedString::filter.
template <typename Keep, typename Out>
void filter_into(std::string_view s, Keep keep, Out& out) {
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    if (keep(next_code_point(s, i))) out.copy(s.substr(start, i - start), start);
  }
}

template <typename Keep>
std::string filter_chars(std::string_view s, Keep keep) {
  PlainText out;
  out.text.reserve(s.size());
  filter_into(s, keep, out);
  return std::move(out.text);
}

// A Unicode normalization form, aligned: the text is cut where the form has a boundary before a
// character (ICU's hasBoundaryBefore: the pieces normalize independently), and a piece the form
// changes maps as a whole to the input it came from.
void normalize_form_aligned(std::string_view s, unicode::Form form, AlignedText& out) {
  const auto& n = *crate_unicode().forms[static_cast<int>(form)];
  size_t piece_start = 0;
  const auto flush = [&](size_t end) {
    const std::string_view piece = s.substr(piece_start, end - piece_start);
    if (is_ascii(piece)) {
      out.copy(piece, piece_start);
    } else if (std::string norm = normalize_form(piece, form); norm == piece) {
      out.copy(piece, piece_start);
    } else {
      out.add(norm, piece_start, end);
    }
    piece_start = end;
  };
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = next_code_point(s, i);
    if (start > piece_start && n.hasBoundaryBefore(static_cast<UChar32>(cp))) flush(start);
  }
  if (piece_start < s.size()) flush(s.size());
}

// ------------------------------------------------------------------------------ simple forms

class FormNormalizer : public Normalizer {
 public:
  explicit FormNormalizer(unicode::Form form) : form_(form) {}
  std::string normalize(std::string_view text) const override {
    return normalize_form(text, form_);
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    normalize_form_aligned(text, form_, out);
  }

 private:
  unicode::Form form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return lowercase(text); }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    lowercase_into(text, out);
  }
};

// prepend.rs: nothing is prepended to an empty string.
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string_view text) const override {
    if (text.empty()) return std::string();
    std::string out = prefix_;
    out += text;
    return out;
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    if (text.empty()) return;
    out.add(prefix_, 0, 0);
    out.copy(text, 0);
  }

 private:
  std::string prefix_;
};

// strip.rs Strip: NormalizedString::{lstrip,rstrip} trim char::is_whitespace (White_Space).
class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view text) const override {
    const auto [b, e] = kept(text);
    return std::string(text.substr(b, e - b));
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    const auto [b, e] = kept(text);
    out.copy(text.substr(b, e - b), b);
  }

 private:
  // The bytes [b, e) left after stripping.
  std::pair<size_t, size_t> kept(std::string_view text) const {
    size_t b = 0, e = text.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!unicode::is_whitespace(next_code_point(text, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!unicode::is_whitespace(next_code_point(text, i))) break;
        e = start;
      }
    }
    return {b, e};
  }

  bool left_, right_;
};

// strip.rs StripAccents: drops unicode_normalization's is_combining_mark (every General_Category
// M, not only Mn) with no decomposition of its own; a Sequence puts NFD/NFKD before it.
class StripAccentsNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override {
    if (is_ascii(text)) return std::string(text);
    const auto& marks = crate_unicode().combining_marks;
    return filter_chars(text,
                        [&](uint32_t cp) { return !marks.contains(static_cast<UChar32>(cp)); });
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    const auto& marks = crate_unicode().combining_marks;
    filter_into(
        text, [&](uint32_t cp) { return !marks.contains(static_cast<UChar32>(cp)); }, out);
  }
};

// unicode.rs do_nmt: drops some ASCII controls and maps other spaces to ' '.
class NmtNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override {
    PlainText out;
    out.text.reserve(text.size());
    run(text, out);
    return std::move(out.text);
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override { run(text, out); }

 private:
  template <typename Out>
  static void run(std::string_view text, Out& out) {
    for (size_t i = 0; i < text.size();) {
      const size_t start = i;
      const uint32_t cp = next_code_point(text, i);
      if ((cp >= 0x01 && cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F ||
          cp == 0x8F || cp == 0x9F) {
        continue;
      }
      const bool space = cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680 ||
                         (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 ||
                         cp == 0x2581 || cp == 0xFEFF || cp == 0xFFFD;
      if (space) {
        out.add(" ", start, i);
      } else {
        out.copy(text.substr(start, i - start), start);
      }
    }
  }
};

// byte_level.rs: each byte becomes its GPT-2 alphabet stand-in.
class ByteLevelNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return bytes_to_alphabet(text); }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    for (size_t i = 0; i < text.size(); ++i)
      out.add(bytes_to_alphabet(text.substr(i, 1)), i, i + 1);
  }
};

// ------------------------------------------------------------------------------ BertNormalizer

// bert.rs is_chinese_char: the CJK blocks of Google's BERT, including its gap at U+2B820..2B91F.
bool is_bert_chinese(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// bert.rs is_control: char::is_other from unicode_categories, which is Cc, Cf and Co in practice
// (its Cn test never fires: unassigned code points are kept), and \t \n \r count as whitespace.
bool is_bert_control(uint32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  const int8_t t = u_charType(static_cast<UChar32>(cp));
  return t == U_CONTROL_CHAR || t == U_PRIVATE_USE_CHAR ||
         crate_unicode().bert_format.contains(static_cast<UChar32>(cp));
}

bool is_bert_whitespace(uint32_t cp) {
  return cp == '\t' || cp == '\n' || cp == '\r' || unicode::is_whitespace(cp);
}

// bert.rs BertNormalizer::normalize: four passes in the crate's order.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, bool strip_accents, bool lowercase)
      : clean_text_(clean_text),
        chinese_(chinese),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}

  std::string normalize(std::string_view text) const override {
    std::string s(text);
    if (clean_text_) s = run<PlainText>(s, &clean).text;
    if (chinese_) s = run<PlainText>(s, &pad_chinese).text;
    if (strip_accents_) s = filter_chars(normalize_form(s, unicode::Form::NFD), &keep_unaccented);
    if (lowercase_) s = lowercase(s);
    return s;
  }

  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    out.copy(text, 0);
    const auto then = [&](auto&& pass) {
      AlignedText next;
      pass(std::string_view(out.text), next);
      out = compose(out, std::move(next), text.size());
    };
    if (clean_text_) then([](std::string_view s, AlignedText& o) { clean(s, o); });
    if (chinese_) then([](std::string_view s, AlignedText& o) { pad_chinese(s, o); });
    if (strip_accents_) {
      then([](std::string_view s, AlignedText& o) {
        normalize_form_aligned(s, unicode::Form::NFD, o);
      });
      then([](std::string_view s, AlignedText& o) { filter_into(s, &keep_unaccented, o); });
    }
    if (lowercase_) then([](std::string_view s, AlignedText& o) { lowercase_into(s, o); });
  }

 private:
  template <typename Out>
  static Out run(std::string_view s, void (*pass)(std::string_view, Out&)) {
    Out out;
    out.text.reserve(s.size() + s.size() / 4);
    pass(s, out);
    return out;
  }

  static bool keep_unaccented(uint32_t cp) {
    return cp < 0x80 || !crate_unicode().bert_nonspacing.contains(static_cast<UChar32>(cp));
  }

  // do_clean_text: filter first (NUL, U+FFFD, controls), then whitespace -> ' '. A control that is
  // also whitespace (\v, \f, U+0085) is therefore removed, not turned into a space.
  template <typename Out>
  static void clean(std::string_view s, Out& out) {
    for (size_t i = 0; i < s.size();) {
      const size_t start = i;
      const uint32_t cp = next_code_point(s, i);
      if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
      if (is_bert_whitespace(cp)) {
        out.add(" ", start, i);
      } else {
        out.copy(s.substr(start, i - start), start);
      }
    }
  }

  // The spaces put around a CJK character come from no input: they are inserted beside it.
  template <typename Out>
  static void pad_chinese(std::string_view s, Out& out) {
    for (size_t i = 0; i < s.size();) {
      const size_t start = i;
      const uint32_t cp = next_code_point(s, i);
      const bool cjk = is_bert_chinese(cp);
      if (cjk) out.add(" ", start, start);
      out.copy(s.substr(start, i - start), start);
      if (cjk) out.add(" ", i, i);
    }
  }

  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

// ------------------------------------------------------------------------------ Replace

// replace.rs: every match of the pattern becomes `content` (taken literally: tokenizers 0.23
// expands no $1 groups). A String pattern is the escaped regex; a Regex pattern is Oniguruma's
// Ruby syntax, where ^ and $ match at every line and '.' excludes only '\n': ICU's MULTILINE and
// UNIX_LINES say the same. Matches follow onig's find_iter: left to right, and an empty match
// right where the previous match ended is skipped (so "a*" on "baaac" gives "-b-c-").
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& pattern, std::string content, const std::string& where)
      : content_(std::move(content)) {
    std::string regex;
    uint32_t flags = UREGEX_MULTILINE | UREGEX_UNIX_LINES;
    if (pattern.is_object() && pattern.contains("String")) {
      literal_ = pattern.at("String").get<std::string>();
      if (!literal_.empty()) return;
      flags |= UREGEX_LITERAL;  // the empty string matches between every two characters
    } else if (pattern.is_object() && pattern.contains("Regex")) {
      regex = pattern.at("Regex").get<std::string>();
    } else {
      VOLT_FAIL("[tokenizer.json] ", where,
                ": Replace pattern must be {\"String\": ...} or {\"Regex\": ...}, got ",
                pattern.dump());
    }
    UParseError pe;
    UErrorCode status = U_ZERO_ERROR;
    regex_.reset(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(regex), flags, pe, status));
    VOLT_CHECK(U_SUCCESS(status), "[tokenizer.json] ", where, ": Replace regex '", regex,
               "' does not compile (", u_errorName(status), " at offset ", pe.offset, ")");
  }

  std::string normalize(std::string_view text) const override {
    PlainText out;
    out.text.reserve(text.size());
    run(text, out);
    return std::move(out.text);
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override { run(text, out); }

 private:
  template <typename Out>
  void run(std::string_view text, Out& out) const {
    // Pattern::find_matches: an empty input has no match, not even an empty one.
    if (text.empty()) return;
    if (!regex_) {
      size_t prev = 0;
      for (size_t i = text.find(literal_); i != std::string_view::npos;
           i = text.find(literal_, prev)) {
        out.copy(text.substr(prev, i - prev), prev);
        out.add(content_, i, i + literal_.size());
        prev = i + literal_.size();
      }
      out.copy(text.substr(prev), prev);
      return;
    }
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
    std::unique_ptr<icu::RegexMatcher> m(regex_->matcher(status));
    VOLT_CHECK(U_SUCCESS(status), "[tokenizer] Replace regex matcher: ", u_errorName(status));
    m->reset(ut);
    // UTF-8 UText native indexes are byte offsets.
    const auto n = static_cast<int64_t>(text.size());
    int64_t search_from = 0, last_match_end = -1;
    size_t prev = 0;
    while (search_from <= n && m->find(search_from, status) && U_SUCCESS(status)) {
      const int64_t b = m->start64(status), e = m->end64(status);
      if (b == e && e == last_match_end) {
        if (e >= n) break;
        search_from =
            e + static_cast<int64_t>(unicode::utf8_length(static_cast<unsigned char>(text[e])));
        continue;
      }
      out.copy(text.substr(prev, static_cast<size_t>(b) - prev), prev);
      out.add(content_, static_cast<size_t>(b), static_cast<size_t>(e));
      prev = static_cast<size_t>(e);
      search_from = last_match_end = e;
    }
    utext_close(ut);
    VOLT_CHECK(U_SUCCESS(status),
               "[tokenizer] Replace regex matching failed: ", u_errorName(status));
    out.copy(text.substr(prev), prev);
  }

  std::string literal_;
  std::unique_ptr<icu::RegexPattern> regex_;
  std::string content_;
};

// ------------------------------------------------------------------------------ Precompiled

std::string decode_charsmap(const std::string& s, const std::string& where) {
  auto bytes = io::base64_decode(s);
  VOLT_CHECK(bytes.has_value(), "[tokenizer.json] ", where, ": precompiled_charsmap is not base64");
  return std::move(*bytes);
}

// SentencePiece's compiled normalization rules, read as the spm_precompiled crate (0.1.4,
// src/lib.rs) reads them: [u32 trie size in bytes][trie: u32 units][rewrites, '\0'-terminated].
// The trie is Darts' double array keyed by UTF-8 bytes; a hit's value is an offset into the
// rewrites.
class PrecompiledNormalizer : public Normalizer {
 public:
  PrecompiledNormalizer(const std::string& charsmap, const std::string& where) {
    VOLT_CHECK(charsmap.size() >= 4, "[tokenizer.json] ", where,
               ": precompiled_charsmap is too short to hold its trie size");
    uint32_t trie_bytes = 0;
    for (int k = 3; k >= 0; --k)
      trie_bytes = (trie_bytes << 8) | static_cast<unsigned char>(charsmap[k]);
    const size_t units = trie_bytes / 4;
    VOLT_CHECK(4 + units * 4 <= charsmap.size(), "[tokenizer.json] ", where,
               ": precompiled_charsmap's trie (", trie_bytes, " bytes) runs past its end (",
               charsmap.size(), " bytes)");
    VOLT_CHECK(units > 0, "[tokenizer.json] ", where, ": precompiled_charsmap has an empty trie");
    VOLT_CHECK(unicode::find_invalid_utf8(charsmap.substr(4 + units * 4)) == std::string::npos,
               "[tokenizer.json] ", where, ": precompiled_charsmap's rewrites are not valid UTF-8");
    rules_ = spm::PrecompiledCharsMap::from_checked(charsmap, units);
    UErrorCode status = U_ZERO_ERROR;
    graphemes_.reset(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
    VOLT_CHECK(U_SUCCESS(status), "[unicode] ICU grapheme iterator: ", u_errorName(status));
  }

  // precompiled.rs normalize: per extended grapheme cluster, a grapheme shorter than 6 bytes is
  // looked up whole; otherwise (or on a miss) each of its chars is looked up on its own.
  std::string normalize(std::string_view text) const override {
    PlainText out;
    out.text.reserve(text.size());
    run(text, out);
    return std::move(out.text);
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override { run(text, out); }

 private:
  template <typename Out>
  void run(std::string_view text, Out& out) const {
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
    std::unique_ptr<icu::BreakIterator> it(graphemes_->clone());
    it->setText(ut, status);
    VOLT_CHECK(U_SUCCESS(status), "[unicode] grapheme iteration: ", u_errorName(status));
    for (int32_t b = it->first(), e = it->next(); e != icu::BreakIterator::DONE;
         b = e, e = it->next()) {
      const std::string_view g = text.substr(static_cast<size_t>(b), static_cast<size_t>(e - b));
      const auto at = static_cast<size_t>(b);
      if (g.size() < 6) {
        if (auto rewrite = rules_->first_match(g)) {
          out.add(*rewrite, at, at + g.size());
          continue;
        }
      }
      for (size_t i = 0; i < g.size();) {
        const size_t len = unicode::utf8_length(static_cast<unsigned char>(g[i]));
        const std::string_view c = g.substr(i, len);
        if (auto rewrite = rules_->first_match(c)) {
          out.add(*rewrite, at + i, at + i + len);
        } else {
          out.copy(c, at + i);
        }
        i += len;
      }
    }
    utext_close(ut);
  }

  // The crate's Precompiled::transform takes the *first* (shortest) rule that prefixes a chunk.
  std::optional<spm::PrecompiledCharsMap> rules_;
  std::unique_ptr<icu::BreakIterator> graphemes_;  // cloned per call: iterators are not thread-safe
};

// ------------------------------------------------------------------------------ Sequence

class IdentityNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return std::string(text); }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    out.copy(text, 0);
  }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> stages)
      : stages_(std::move(stages)) {}
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& n : stages_) s = n->normalize(s);
    return s;
  }
  void normalize_aligned(std::string_view text, AlignedText& out) const override {
    out.copy(text, 0);
    for (const auto& n : stages_) {
      AlignedText next;
      n->normalize_aligned(out.text, next);
      out = compose(out, std::move(next), text.size());
    }
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> stages_;
};

// A field the crate requires (its serde derive has no default for it).
const json& required(const json& j, const char* key, const std::string& type,
                     const std::string& where) {
  VOLT_CHECK(j.contains(key), "[tokenizer.json] ", where, ": normalizer ", type, " has no \"", key,
             "\"");
  return j.at(key);
}

}  // namespace

AlignedText compose(const AlignedText& first, AlignedText second, size_t input_size) {
  const auto end = static_cast<uint32_t>(input_size);
  for (Span& s : second.from) s = through(s, first.from.data(), first.from.size(), end);
  return second;
}

std::unique_ptr<Normalizer> normalizer_from_json(const json& j, const std::string& where) {
  VOLT_CHECK(j.is_object() && j.contains("type") && j.at("type").is_string(), "[tokenizer.json] ",
             where, ": a normalizer must be an object with a \"type\"");
  const std::string type = j.at("type").get<std::string>();
  auto req = [&](const char* key) -> const json& { return required(j, key, type, where); };
  try {
    if (type == "NFC") return std::make_unique<FormNormalizer>(unicode::Form::NFC);
    if (type == "NFD") return std::make_unique<FormNormalizer>(unicode::Form::NFD);
    if (type == "NFKC") return std::make_unique<FormNormalizer>(unicode::Form::NFKC);
    if (type == "NFKD") return std::make_unique<FormNormalizer>(unicode::Form::NFKD);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
    if (type == "Nmt") return std::make_unique<NmtNormalizer>();
    if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
    if (type == "Prepend")
      return std::make_unique<PrependNormalizer>(req("prepend").get<std::string>());
    if (type == "Strip") {
      return std::make_unique<StripNormalizer>(req("strip_left").get<bool>(),
                                               req("strip_right").get<bool>());
    }
    if (type == "Replace") {
      return std::make_unique<ReplaceNormalizer>(req("pattern"), req("content").get<std::string>(),
                                                 where);
    }
    if (type == "BertNormalizer") {
      const bool lower = req("lowercase").get<bool>();
      // strip_accents: null (or absent) follows lowercase, as BERT's uncased models expect.
      const bool strip = j.contains("strip_accents") && !j.at("strip_accents").is_null()
                             ? j.at("strip_accents").get<bool>()
                             : lower;
      return std::make_unique<BertNormalizer>(
          req("clean_text").get<bool>(), req("handle_chinese_chars").get<bool>(), strip, lower);
    }
    if (type == "Precompiled") {
      // An empty (or null) charsmap normalizes nothing. The crate cannot even load one; volt
      // treats it as the identity it describes.
      const json& map = req("precompiled_charsmap");
      if (map.is_null() || map.get<std::string>().empty())
        return std::make_unique<IdentityNormalizer>();
      return std::make_unique<PrecompiledNormalizer>(decode_charsmap(map.get<std::string>(), where),
                                                     where);
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Normalizer>> stages;
      for (const auto& n : req("normalizers")) stages.push_back(normalizer_from_json(n, where));
      return std::make_unique<SequenceNormalizer>(std::move(stages));
    }
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where, ": normalizer ", type, ": ", e.what());
  }
  VOLT_FAIL("[tokenizer.json] ", where, ": normalizer '", type,
            "' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Nmt, "
            "ByteLevel, Prepend, Strip, Replace, BertNormalizer, Precompiled, Sequence)");
}

}  // namespace volt::hf

#include "lexer.h"

#include <unicode/uchar.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "python.h"
#include "value.h"
#include "volt/tokenizers/unicode.h"

namespace volt::jinja {
namespace {

[[noreturn]] void syntax_error(const std::string& message, int line) {
  throw Failure("TemplateSyntaxError", message, line);
}

// jinja2 splits the source on \r\n, \r and \n, drops one trailing newline and joins with \n.
std::string normalize_newlines(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_name_char(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  const auto mask = U_GET_GC_MASK(static_cast<UChar32>(cp));
  return (mask & (U_GC_L_MASK | U_GC_N_MASK | U_GC_MN_MASK | U_GC_MC_MASK | U_GC_PC_MASK)) != 0;
}

int count_newlines(std::string_view s) {
  int n = 0;
  for (const char c : s) n += c == '\n';
  return n;
}

// Python's str.rstrip() (no argument).
std::string rstrip_space(std::string_view s) {
  const auto cps = py::code_points(s);
  size_t e = cps.size();
  while (e > 0 && py::is_space(cps[e - 1])) --e;
  return py::from_code_points(cps, 0, e);
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  while (i < s.size()) {
    if (!py::is_space(unicode::next_code_point(s, i))) return false;
  }
  return true;
}

// Python's unicode-escape decoding of a string literal's body (jinja2 encodes with
// backslashreplace first, so a backslash before a non-ASCII character stays a backslash and
// the character comes out as its \x.. / \u.... / \U........ spelling).
std::string unescape(std::string_view raw, int line) {
  std::string out;
  size_t i = 0;
  const auto hex_value = [&](size_t digits, const char* name) -> uint32_t {
    if (i + digits > raw.size()) syntax_error(std::string("truncated ") + name + " escape", line);
    uint32_t v = 0;
    for (size_t k = 0; k < digits; ++k) {
      const char c = raw[i + k];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        syntax_error(std::string("truncated ") + name + " escape", line);
      }
      v = v * 16 + static_cast<uint32_t>(d);
    }
    i += digits;
    return v;
  };
  const auto append_cp = [&](uint32_t cp) {
    if (cp > 0x10FFFF) syntax_error("illegal Unicode character", line);
    if (cp >= 0xD800 && cp <= 0xDFFF)
      syntax_error("a lone surrogate in a string literal cannot be rendered", line);
    unicode::append_utf8(out, cp);
  };
  while (i < raw.size()) {
    const size_t start = i;
    const uint32_t cp = unicode::next_code_point(raw, i);
    if (cp != '\\') {
      out.append(raw.substr(start, i - start));
      continue;
    }
    if (i >= raw.size()) syntax_error("\\ at end of string", line);
    const size_t esc_start = i;
    const uint32_t e = unicode::next_code_point(raw, i);
    switch (e) {
      case '\n':
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
        append_cp(hex_value(2, "\\xXX"));
        break;
      case 'u':
        append_cp(hex_value(4, "\\uXXXX"));
        break;
      case 'U':
        append_cp(hex_value(8, "\\UXXXXXXXX"));
        break;
      case 'N':
        syntax_error("\\N{...} escapes are not supported in string literals", line);
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = e - '0';
          for (int k = 0; k < 2 && i < raw.size() && raw[i] >= '0' && raw[i] <= '7'; ++k)
            v = v * 8 + static_cast<uint32_t>(raw[i++] - '0');
          append_cp(v);
        } else if (e >= 0x80) {
          out.push_back('\\');
          std::string spelled;
          if (e <= 0xFF) {
            spelled = "\\x";
          } else if (e <= 0xFFFF) {
            spelled = "\\u";
          } else {
            spelled = "\\U";
          }
          const int digits = e <= 0xFF ? 2 : e <= 0xFFFF ? 4 : 8;
          static const char* hex = "0123456789abcdef";
          for (int k = digits - 1; k >= 0; --k) spelled.push_back(hex[(e >> (4 * k)) & 0xF]);
          out += spelled.substr(1);
        } else {
          out.push_back('\\');
          out.append(raw.substr(esc_start, i - esc_start));
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) root();
    Token eof;
    eof.type = TokenType::Eof;
    eof.line = line_;
    tokens_.push_back(eof);
    return std::move(tokens_);
  }

 private:
  enum class Tag { Variable, Block, Comment, Raw };

  bool at(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

  // Skips Python whitespace from p; returns the end.
  size_t skip_space(size_t p) const {
    while (p < src_.size()) {
      size_t q = p;
      if (!py::is_space(unicode::next_code_point(src_, q))) break;
      p = q;
    }
    return p;
  }

  // `{%` sign? \s* raw \s* (-%}\s* | %}) at p: the end of the match, or npos.
  size_t match_raw_begin(size_t p) const {
    size_t q = p + 2;
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
    q = skip_space(q);
    if (!at(q, "raw")) return std::string::npos;
    q = skip_space(q + 3);
    if (at(q, "-%}")) return skip_space(q + 3);
    if (at(q, "%}")) return q + 2;
    return std::string::npos;
  }

  void emit(TokenType type, std::string value, int line) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.line = line;
    tokens_.push_back(std::move(t));
  }

  // Text before a tag, with the tag's whitespace control applied (jinja2's OptionalLStrip).
  void emit_text(std::string_view text, char sign, bool lstrip_allowed) {
    std::string kept(text);
    if (sign == '-') {
      kept = rstrip_space(text);
    } else if (sign != '+' && lstrip_allowed) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_space(text.substr(l_pos)))
        kept = std::string(text.substr(0, l_pos));
    }
    if (!kept.empty()) emit(TokenType::Data, std::move(kept), line_);
    line_ += count_newlines(text);
  }

  void root() {
    size_t p = pos_;
    Tag tag = Tag::Block;
    size_t raw_end = std::string::npos;
    while (true) {
      p = src_.find('{', p);
      if (p == std::string::npos || p + 1 >= src_.size()) {
        emit_text(std::string_view(src_).substr(pos_), 0, false);
        pos_ = src_.size();
        return;
      }
      const char c = src_[p + 1];
      if (c == '%') {
        raw_end = match_raw_begin(p);
        tag = raw_end == std::string::npos ? Tag::Block : Tag::Raw;
        break;
      }
      if (c == '{') {
        tag = Tag::Variable;
        break;
      }
      if (c == '#') {
        tag = Tag::Comment;
        break;
      }
      ++p;
    }
    const char sign =
        p + 2 < src_.size() && (src_[p + 2] == '-' || src_[p + 2] == '+') ? src_[p + 2] : 0;
    emit_text(std::string_view(src_).substr(pos_, p - pos_), sign, tag != Tag::Variable);
    const size_t after = p + 2 + (sign != 0 ? 1 : 0);
    switch (tag) {
      case Tag::Comment:
        comment(after);
        return;
      case Tag::Raw:
        line_ += count_newlines(std::string_view(src_).substr(p, raw_end - p));
        line_starting_ = src_[raw_end - 1] == '\n';
        raw(raw_end);
        return;
      case Tag::Block:
        emit(TokenType::BlockBegin, "", line_);
        pos_ = after;
        line_starting_ = false;
        inside(Tag::Block);
        return;
      case Tag::Variable:
        emit(TokenType::VariableBegin, "", line_);
        pos_ = after;
        line_starting_ = false;
        inside(Tag::Variable);
        return;
      default:
        return;
    }
  }

  // The end of a comment or raw block at q ("+#}", "-#}\s*", "#}\n?" and the same for %}).
  size_t end_marker(size_t q, char c) const {
    const std::string plus = std::string("+") + c + "}", minus = std::string("-") + c + "}",
                      plain = std::string(1, c) + "}";
    if (at(q, plus)) return q + 3;
    if (at(q, minus)) return skip_space(q + 3);
    if (at(q, plain)) return q + 2 + (q + 2 < src_.size() && src_[q + 2] == '\n' ? 1 : 0);
    return std::string::npos;
  }

  void comment(size_t from) {
    for (size_t q = from; q < src_.size(); ++q) {
      if (src_[q] != '+' && src_[q] != '-' && src_[q] != '#') continue;
      const size_t end = end_marker(q, '#');
      if (end == std::string::npos) continue;
      line_ += count_newlines(std::string_view(src_).substr(pos_, end - pos_));
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    syntax_error("Missing end of comment tag", line_);
  }

  void raw(size_t from) {
    for (size_t q = src_.find("{%", from); q != std::string::npos; q = src_.find("{%", q + 1)) {
      size_t r = q + 2;
      const char sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r] : 0;
      if (sign) ++r;
      r = skip_space(r);
      if (!at(r, "endraw")) continue;
      r = skip_space(r + 6);
      const size_t end = end_marker(r, '%');
      if (end == std::string::npos) continue;
      emit_text(std::string_view(src_).substr(from, q - from), sign, true);
      line_ += count_newlines(std::string_view(src_).substr(q, end - q));
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    syntax_error("Missing end of raw directive", line_);
  }

  // Digits with single underscores between them ((\d+_)*\d+); the end, or npos.
  size_t digits(size_t p) const {
    if (p >= src_.size() || !is_digit(src_[p])) return std::string::npos;
    while (p < src_.size()) {
      if (is_digit(src_[p])) {
        ++p;
      } else if (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])) {
        p += 2;
      } else {
        break;
      }
    }
    return p;
  }

  size_t match_float(size_t p) const {
    if (p > 0 && src_[p - 1] == '.') return std::string::npos;
    size_t q = digits(p);
    if (q == std::string::npos) return q;
    bool fraction = false;
    if (q < src_.size() && src_[q] == '.') {
      const size_t f = digits(q + 1);
      if (f != std::string::npos) {
        q = f;
        fraction = true;
      }
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t e = q + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      const size_t d = digits(e);
      if (d != std::string::npos) return d;
    }
    return fraction ? q : std::string::npos;
  }

  size_t match_integer(size_t p) const {
    const auto radix_digits = [&](size_t q, auto ok) {
      size_t end = std::string::npos;
      while (q < src_.size()) {
        if (ok(src_[q])) {
          end = ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && ok(src_[q + 1])) {
          q += 2;
          end = q;
        } else {
          break;
        }
      }
      return end;
    };
    if (src_[p] == '0' && p + 1 < src_.size()) {
      const char r = static_cast<char>(src_[p + 1] | 0x20);
      size_t end = std::string::npos;
      if (r == 'b') end = radix_digits(p + 2, [](char c) { return c == '0' || c == '1'; });
      if (r == 'o') end = radix_digits(p + 2, [](char c) { return c >= '0' && c <= '7'; });
      if (r == 'x') {
        end = radix_digits(
            p + 2, [](char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); });
      }
      if (end != std::string::npos) return end;
    }
    if (src_[p] >= '1' && src_[p] <= '9') return digits(p);
    if (src_[p] == '0') {
      size_t q = p + 1;
      while (q < src_.size()) {
        if (src_[q] == '0') {
          ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && src_[q + 1] == '0') {
          q += 2;
        } else {
          break;
        }
      }
      return q;
    }
    return std::string::npos;
  }

  void number_token(size_t end, bool is_float) {
    std::string text;
    for (size_t i = pos_; i < end; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    Token t;
    t.line = line_;
    if (is_float) {
      t.type = TokenType::Float;
      const auto res = std::from_chars(text.data(), text.data() + text.size(), t.number);
      if (res.ec == std::errc::result_out_of_range) {
        // Python reads an overflowing literal as inf and an underflowing one as 0.0.
        const size_t e = text.find_first_of("eE");
        const bool tiny = e != std::string::npos && text.find('-', e) != std::string::npos;
        t.number = tiny ? 0.0 : HUGE_VAL;
      }
    } else {
      t.type = TokenType::Integer;
      int base = 10;
      std::string body = text;
      if (body.size() > 2 && body[0] == '0' && std::isalpha(static_cast<unsigned char>(body[1]))) {
        const char r = static_cast<char>(body[1] | 0x20);
        base = r == 'b' ? 2 : r == 'o' ? 8 : 16;
        body = body.substr(2);
      }
      errno = 0;
      char* stop = nullptr;
      const unsigned long long v = std::strtoull(body.c_str(), &stop, base);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
        syntax_error("the integer literal " + text + " does not fit in 64 bits", line_);
      }
      t.integer = static_cast<int64_t>(v);
    }
    t.value = src_.substr(pos_, end - pos_);
    tokens_.push_back(std::move(t));
    pos_ = end;
  }

  void inside(Tag tag) {
    static const char* kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                       "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                       ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};
    while (pos_ < src_.size()) {
      if (stack_.empty()) {
        size_t end = std::string::npos;
        if (tag == Tag::Block) {
          end = end_marker(pos_, '%');
        } else if (at(pos_, "-}}")) {
          end = skip_space(pos_ + 3);
        } else if (at(pos_, "}}")) {
          end = pos_ + 2;
        }
        if (end != std::string::npos) {
          emit(tag == Tag::Block ? TokenType::BlockEnd : TokenType::VariableEnd, "", line_);
          line_ += count_newlines(std::string_view(src_).substr(pos_, end - pos_));
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      const size_t space_end = skip_space(pos_);
      if (space_end != pos_) {
        line_ += count_newlines(std::string_view(src_).substr(pos_, space_end - pos_));
        pos_ = space_end;
        continue;
      }
      const char c = src_[pos_];
      if (is_digit(c)) {
        const size_t f = match_float(pos_);
        if (f != std::string::npos) {
          number_token(f, true);
          continue;
        }
        number_token(match_integer(pos_), false);
        continue;
      }
      size_t q = pos_;
      const uint32_t cp = unicode::next_code_point(src_, q);
      if (is_name_char(cp)) {
        while (q < src_.size()) {
          size_t r = q;
          if (!is_name_char(unicode::next_code_point(src_, r))) break;
          q = r;
        }
        emit(TokenType::Name, src_.substr(pos_, q - pos_), line_);
        pos_ = q;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t r = pos_ + 1;
        while (r < src_.size() && src_[r] != c) {
          if (src_[r] == '\\' && r + 1 < src_.size()) {
            ++r;
            unicode::next_code_point(src_, r);
          } else {
            ++r;
          }
        }
        if (r < src_.size()) {
          const std::string_view body = std::string_view(src_).substr(pos_ + 1, r - pos_ - 1);
          emit(TokenType::String, unescape(body, line_), line_);
          line_ += count_newlines(body);
          pos_ = r + 1;
          continue;
        }
      }
      const char* op = nullptr;
      for (const char* candidate : kOperators) {
        if (at(pos_, candidate)) {
          op = candidate;
          break;
        }
      }
      if (op == nullptr) {
        syntax_error("unexpected char " + py::string_repr(src_.substr(pos_, q - pos_)) + " at " +
                         std::to_string(pos_),
                     line_);
      }
      const std::string o(op);
      if (o == "(" || o == "[" || o == "{") {
        stack_.push_back(o == "(" ? ')' : o == "[" ? ']' : '}');
      } else if (o == ")" || o == "]" || o == "}") {
        if (stack_.empty()) syntax_error("unexpected '" + o + "'", line_);
        if (stack_.back() != o[0])
          syntax_error("unexpected '" + o + "', expected '" + std::string(1, stack_.back()) + "'",
                       line_);
        stack_.pop_back();
      }
      emit(TokenType::Operator, o, line_);
      pos_ += o.size();
    }
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<char> stack_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) {
  if (const size_t bad = unicode::find_invalid_utf8(source); bad != std::string::npos) {
    throw Failure("TemplateSyntaxError",
                  "the template is not valid UTF-8 (byte " + std::to_string(bad) + ")", 1);
  }
  return Lexer(normalize_newlines(source)).run();
}

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::Data:
      return "template data / text";
    case TokenType::VariableBegin:
      return "begin of print statement";
    case TokenType::VariableEnd:
      return "end of print statement";
    case TokenType::BlockBegin:
      return "begin of statement block";
    case TokenType::BlockEnd:
      return "end of statement block";
    case TokenType::Name:
      return t.value;
    case TokenType::String:
      return "string";
    case TokenType::Integer:
      return "integer";
    case TokenType::Float:
      return "float";
    case TokenType::Operator:
      return t.value;
    case TokenType::Eof:
      return "end of template";
  }
  return "token";
}

}  // namespace volt::jinja

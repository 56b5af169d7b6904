// Python's two string formatting languages: `fmt % args` (printf-style, also jinja2's `format`
// filter) and the format spec of str.format / format(value, spec). The common conversions are
// here; anything else is a ValueError naming it rather than a guess.
#include <cmath>
#include <cstdio>

#include "python.h"
#include "volt/tokenizers/unicode.h"

namespace volt::jinja::py {
namespace {

struct Spec {
  char fill = ' ';
  char align = 0;  // '<', '>', '^', '=' or 0 (the type's default)
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

std::string pad_to(const std::string& body, int64_t width, char fill, char align) {
  const auto len = static_cast<int64_t>(length(body));
  if (width <= len) return body;
  const auto margin = static_cast<size_t>(width - len);
  switch (align) {
    case '<':
      return body + std::string(margin, fill);
    case '^':
      return std::string(margin / 2, fill) + body + std::string(margin - margin / 2, fill);
    default:
      return std::string(margin, fill) + body;
  }
}

// Pads a formatted number; '=' (and zero padding) puts the fill after the sign.
std::string pad_number(const std::string& sign, const std::string& digits, const Spec& s) {
  if (s.align == '=' || (s.zero && s.align == 0)) {
    const char fill = s.align == '=' ? s.fill : '0';
    const int64_t len = static_cast<int64_t>(sign.size() + digits.size());
    if (s.width > len) return sign + std::string(static_cast<size_t>(s.width - len), fill) + digits;
    return sign + digits;
  }
  return pad_to(sign + digits, s.width, s.fill, s.align == 0 ? '>' : s.align);
}

std::string group(const std::string& digits, char sep) {
  if (sep == 0) return digits;
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(sep);
    out.push_back(digits[i]);
  }
  return out;
}

std::string int_digits(uint64_t v, char type) {
  if (v == 0) return "0";
  const int base = type == 'x' || type == 'X' ? 16 : type == 'o' ? 8 : type == 'b' ? 2 : 10;
  const char* alphabet = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  while (v > 0) {
    out.insert(out.begin(), alphabet[v % static_cast<uint64_t>(base)]);
    v /= static_cast<uint64_t>(base);
  }
  return out;
}

std::string sign_of(bool negative, char sign) {
  if (negative) return "-";
  if (sign == '+') return "+";
  if (sign == ' ') return " ";
  return "";
}

std::string format_int(int64_t v, const Spec& s) {
  const char type = s.type == 0 ? 'd' : s.type;
  if (type == 'c') {
    if (v < 0 || v > 0x10FFFF) throw Failure("OverflowError", "%c arg not in range(0x110000)");
    std::string ch;
    unicode::append_utf8(ch, static_cast<uint32_t>(v));
    return pad_to(ch, s.width, s.fill, s.align == 0 ? '<' : s.align);
  }
  const bool negative = v < 0;
  const uint64_t mag = negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  std::string digits = int_digits(mag, type);
  if (type == 'd' || type == 'n') digits = group(digits, s.grouping);
  std::string prefix = sign_of(negative, s.sign);
  if (s.alternate && (type == 'x' || type == 'X' || type == 'o' || type == 'b')) {
    prefix += std::string("0") + (type == 'o' ? 'o' : type);
  }
  return pad_number(prefix, digits, s);
}

std::string format_float(double v, const Spec& s) {
  char type = s.type;
  int64_t precision = s.precision;
  if (type == 0 && precision < 0) {
    std::string body = float_repr(std::fabs(v));
    return pad_number(sign_of(std::signbit(v) && !std::isnan(v), s.sign), body, s);
  }
  if (type == 0) type = 'g';
  if (precision < 0) precision = 6;
  if (precision > 200) throw Failure("ValueError", "precision too big");
  const bool percent = type == '%';
  double x = percent ? v * 100 : v;
  const char conv = percent ? 'f' : type;
  std::string fmt =
      std::string("%") + (s.alternate ? "#" : "") + "." + std::to_string(precision) + conv;
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt.c_str(), std::fabs(x));
  std::string body = buf;
  if (s.grouping != 0) {
    const size_t dot = body.find_first_not_of("0123456789");
    body =
        group(body.substr(0, dot), s.grouping) + (dot == std::string::npos ? "" : body.substr(dot));
  }
  if (percent) body += "%";
  return pad_number(sign_of(std::signbit(x) && !std::isnan(x), s.sign), body, s);
}

Spec parse_spec(std::string_view spec) {
  Spec s;
  size_t i = 0;
  const auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (spec.size() >= 2 && is_align(spec[1]) && static_cast<unsigned char>(spec[0]) < 0x80) {
    s.fill = spec[0];
    s.align = spec[1];
    i = 2;
  } else if (!spec.empty() && is_align(spec[0])) {
    s.align = spec[0];
    i = 1;
  }
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) s.sign = spec[i++];
  if (i < spec.size() && spec[i] == '#') {
    s.alternate = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    s.zero = true;
    ++i;
  }
  while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
    s.width = (s.width < 0 ? 0 : s.width) * 10 + (spec[i++] - '0');
    if (s.width > 100000) throw Failure("ValueError", "format width too big");
  }
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) s.grouping = spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    s.precision = 0;
    if (i >= spec.size() || spec[i] < '0' || spec[i] > '9')
      throw Failure("ValueError", "Format specifier missing precision");
    while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
      s.precision = s.precision * 10 + (spec[i++] - '0');
      if (s.precision > 100000) throw Failure("ValueError", "precision too big");
    }
  }
  if (i < spec.size()) s.type = spec[i++];
  if (i != spec.size())
    throw Failure("ValueError", "Invalid format specifier '" + std::string(spec) + "'");
  return s;
}

}  // namespace

std::string format_value(const Value& v, std::string_view spec_text) {
  if (spec_text.empty()) return str(v);
  const Spec s = parse_spec(spec_text);
  if (v.is_string()) {
    if (s.type != 0 && s.type != 's') {
      throw Failure("ValueError",
                    std::string("Unknown format code '") + s.type + "' for object of type 'str'");
    }
    std::string body = v.as_string();
    if (s.precision >= 0) {
      const auto cps = code_points(body);
      body = from_code_points(cps, 0, std::min(cps.size(), static_cast<size_t>(s.precision)));
    }
    return pad_to(body, s.width, s.fill, s.align == 0 ? '<' : s.align);
  }
  if (v.is_int() || v.is_bool()) {
    if (s.type == 0 || s.type == 'd' || s.type == 'n' || s.type == 'x' || s.type == 'X' ||
        s.type == 'o' || s.type == 'b' || s.type == 'c') {
      return format_int(v.to_int(), s);
    }
    if (s.type == 'e' || s.type == 'E' || s.type == 'f' || s.type == 'F' || s.type == 'g' ||
        s.type == 'G' || s.type == '%') {
      return format_float(static_cast<double>(v.to_int()), s);
    }
    throw Failure("ValueError",
                  std::string("Unknown format code '") + s.type + "' for object of type 'int'");
  }
  if (v.is_float()) {
    if (s.type == 0 || s.type == 'e' || s.type == 'E' || s.type == 'f' || s.type == 'F' ||
        s.type == 'g' || s.type == 'G' || s.type == '%') {
      return format_float(v.as_float(), s);
    }
    throw Failure("ValueError",
                  std::string("Unknown format code '") + s.type + "' for object of type 'float'");
  }
  throw Failure("TypeError", "unsupported format string passed to " + type_name(v) + ".__format__");
}

std::string percent_format(const std::string& format, const Value& args, size_t limit) {
  std::vector<Value> positional;
  const Dict* mapping = nullptr;
  // Python treats any right side with __getitem__ (but a tuple or a str) as a mapping: no
  // "not all arguments converted" for it, and %(key)s looks keys up in it.
  bool mapping_like = false;
  if (args.is_list() && args.as_list().kind == ListKind::Tuple) {
    positional = args.as_list().items;
  } else {
    if (args.is_dict()) mapping = &args.as_dict();
    mapping_like = args.is_dict() || args.is_undefined() ||
                   (args.is_list() && (args.as_list().kind == ListKind::List ||
                                       args.as_list().kind == ListKind::Range));
    positional.push_back(args);
  }
  size_t next = 0;
  const auto take = [&]() -> Value {
    if (next >= positional.size())
      throw Failure("TypeError", "not enough arguments for format string");
    return positional[next++];
  };
  std::string out;
  size_t i = 0;
  while (i < format.size()) {
    if (out.size() > limit)
      throw Failure("MemoryError",
                    "a formatted string exceeds the limit of " + std::to_string(limit));
    const char c = format[i++];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i >= format.size()) throw Failure("ValueError", "incomplete format");
    if (format[i] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    Value arg;
    bool have_arg = false;
    if (format[i] == '(') {
      if (args.is_undefined()) {
        throw Failure("UndefinedError", args.undefined_info().hint.empty()
                                            ? "an undefined value was used"
                                            : args.undefined_info().hint);
      }
      if (mapping == nullptr && mapping_like) {
        throw Failure("TypeError",
                      py::type_name(args) + " indices must be integers or slices, not str");
      }
      if (mapping == nullptr) throw Failure("TypeError", "format requires a mapping");
      int depth = 1;
      const size_t key_start = ++i;
      while (i < format.size() && depth > 0) {
        if (format[i] == '(') ++depth;
        if (format[i] == ')') --depth;
        ++i;
      }
      if (depth > 0) throw Failure("ValueError", "incomplete format key");
      const std::string key = format.substr(key_start, i - key_start - 1);
      const Value* found = mapping->find(key);
      if (found == nullptr) throw Failure("KeyError", string_repr(key));
      arg = *found;
      have_arg = true;
    }
    Spec s;
    for (; i < format.size(); ++i) {
      const char f = format[i];
      if (f == '-') {
        s.align = '<';
      } else if (f == '+') {
        s.sign = '+';
      } else if (f == ' ') {
        if (s.sign != '+') s.sign = ' ';
      } else if (f == '#') {
        s.alternate = true;
      } else if (f == '0') {
        s.zero = true;
      } else {
        break;
      }
    }
    const auto read_number = [&](int64_t& field) {
      if (i < format.size() && format[i] == '*') {
        ++i;
        const Value w = take();
        if (!w.is_int()) throw Failure("TypeError", "* wants int");
        field = w.as_int();
        return;
      }
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        field = (field < 0 ? 0 : field) * 10 + (format[i++] - '0');
        if (field > 100000) throw Failure("ValueError", "width or precision too big");
      }
    };
    read_number(s.width);
    if (s.width < -1) {
      s.align = '<';
      s.width = -s.width;
    }
    if (i < format.size() && format[i] == '.') {
      ++i;
      s.precision = 0;
      read_number(s.precision);
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) throw Failure("ValueError", "incomplete format");
    const char type = format[i++];
    if (!have_arg) arg = take();
    if (s.align == '<') s.zero = false;
    switch (type) {
      case 's':
      case 'r':
      case 'a': {
        std::string body = type == 's' ? str(arg) : repr(arg);
        if (s.precision >= 0) {
          const auto cps = code_points(body);
          body = from_code_points(cps, 0, std::min(cps.size(), static_cast<size_t>(s.precision)));
        }
        out += pad_to(body, s.width, ' ', s.align == '<' ? '<' : '>');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        int64_t v;
        if (arg.is_int() || arg.is_bool()) {
          v = arg.to_int();
        } else if (arg.is_float() && (type == 'd' || type == 'i' || type == 'u')) {
          if (!std::isfinite(arg.as_float()) || std::fabs(arg.as_float()) >= 9.2e18) {
            throw Failure("OverflowError", "cannot convert float to a 64-bit integer");
          }
          v = static_cast<int64_t>(arg.as_float());
        } else {
          throw Failure(
              "TypeError",
              std::string("%") + type + " format: " +
                  (type == 'd' || type == 'i' || type == 'u' ? "a real number" : "an integer") +
                  " is required, not " + type_name(arg));
        }
        const bool negative = v < 0;
        const uint64_t mag =
            negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
        std::string digits = int_digits(mag, type == 'i' || type == 'u' ? 'd' : type);
        if (s.precision > static_cast<int64_t>(digits.size())) {
          digits.insert(0, static_cast<size_t>(s.precision) - digits.size(), '0');
        }
        std::string prefix = sign_of(negative, s.sign);
        if (s.alternate && (type == 'x' || type == 'X' || type == 'o'))
          prefix += std::string("0") + type;
        Spec ns;
        ns.width = s.width;
        ns.zero = s.zero && s.precision < 0;
        ns.align = s.align == '<' ? '<' : 0;
        out += pad_number(prefix, digits, ns);
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!arg.is_number())
          throw Failure("TypeError", "must be real number, not " + type_name(arg));
        Spec fs = s;
        fs.type = type;
        if (fs.precision < 0) fs.precision = 6;
        fs.align = s.align == '<' ? '<' : 0;
        out += format_float(arg.to_double(), fs);
        break;
      }
      case 'c': {
        Spec cs = s;
        cs.type = 'c';
        cs.align = s.align == '<' ? '<' : '>';
        if (arg.is_string() && length(arg.as_string()) == 1) {
          out += pad_to(arg.as_string(), s.width, ' ', cs.align);
        } else if (arg.is_int()) {
          out += format_int(arg.as_int(), cs);
        } else {
          throw Failure("TypeError", "%c requires int or char");
        }
        break;
      }
      default:
        throw Failure("ValueError", std::string("unsupported format character '") + type + "'");
    }
  }
  if (!mapping_like && next < positional.size()) {
    throw Failure("TypeError", "not all arguments converted during string formatting");
  }
  if (out.size() > limit)
    throw Failure("MemoryError",
                  "a formatted string exceeds the limit of " + std::to_string(limit));
  return out;
}

}  // namespace volt::jinja::py

// How Python prints values: str() and repr() (what {{ x }} shows for numbers, None, lists and
// dicts), float repr, and json.dumps (transformers' tojson filter). Tool-calling templates print
// Python reprs and JSON of the messages, so every character here is visible in renders.
#include <unicode/uchar.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "object.h"
#include "python.h"
#include "volt/tokenizers/unicode.h"

namespace volt::jinja::py {
namespace {

// Namespaces being printed, innermost last: a namespace met again prints as {...} (Python's
// Py_ReprEnter) and a chain deeper than kMaxNesting fails instead of exhausting the stack.
thread_local std::vector<const void*> repr_stack;

struct ReprGuard {
  explicit ReprGuard(const void* p) {
    if (repr_stack.size() > static_cast<size_t>(kMaxNesting)) {
      throw Failure("RecursionError",
                    "maximum recursion depth exceeded while getting the repr of an object");
    }
    repr_stack.push_back(p);
  }
  ~ReprGuard() { repr_stack.pop_back(); }
  ReprGuard(const ReprGuard&) = delete;
  ReprGuard& operator=(const ReprGuard&) = delete;
};

// Python's str.isprintable for one code point: not Cc, Cf, Cs, Co, Cn, Zl, Zp, or Zs but space.
bool printable(uint32_t cp) {
  if (cp == ' ') return true;
  const auto mask = U_GET_GC_MASK(static_cast<UChar32>(cp));
  return (mask & (U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CS_MASK | U_GC_CO_MASK | U_GC_CN_MASK |
                  U_GC_ZL_MASK | U_GC_ZP_MASK | U_GC_ZS_MASK)) == 0;
}

void append_hex(std::string& out, uint32_t v, int digits) {
  static const char* hex = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(hex[(v >> (4 * i)) & 0xF]);
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
      if (cp > 0xFFFF) {
        const uint32_t v = cp - 0x10000;
        out += "\\u";
        append_hex(out, 0xD800 | (v >> 10), 4);
        out += "\\u";
        append_hex(out, 0xDC00 | (v & 0x3FF), 4);
      } else {
        out += "\\u";
        append_hex(out, cp, 4);
      }
    } else {
      unicode::append_utf8(out, cp);
    }
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

std::string json_key(const Value& k) {
  switch (k.kind()) {
    case Kind::String:
      return k.as_string();
    case Kind::Bool:
      return k.as_bool() ? "true" : "false";
    case Kind::Int:
      return std::to_string(k.as_int());
    case Kind::Float:
      return json_float(k.as_float());
    case Kind::None:
      return "null";
    default:
      throw Failure("TypeError", "keys must be str, int, float, bool or None, not " + type_name(k));
  }
}

void dump(std::string& out, const Value& v, const JsonOptions& o, int level) {
  if (level > kMaxNesting)
    throw Failure("RecursionError", "maximum recursion depth exceeded in json.dumps");
  switch (v.kind()) {
    case Kind::None:
      out += "null";
      return;
    case Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Kind::Float:
      out += json_float(v.as_float());
      return;
    case Kind::String:
      append_json_string(out, v.as_string(), o.ensure_ascii);
      return;
    default:
      break;
  }
  const bool is_dict = v.is_dict();
  const bool is_sequence =
      v.is_list() && (v.as_list().kind == ListKind::List || v.as_list().kind == ListKind::Tuple);
  if (!is_dict && !is_sequence) {
    throw Failure("TypeError", "Object of type " + type_name(v) + " is not JSON serializable");
  }
  const size_t n = is_dict ? v.as_dict().size() : v.as_list().items.size();
  if (n == 0) {
    out += is_dict ? "{}" : "[]";
    return;
  }
  std::string newline_indent;
  if (o.indent) {
    newline_indent = "\n";
    for (int i = 0; i <= level; ++i) newline_indent += *o.indent;
  }
  out.push_back(is_dict ? '{' : '[');
  out += newline_indent;
  if (is_dict) {
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& e : v.as_dict().entries()) entries.push_back(&e);
    if (o.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
        return compare(a->first, b->first, "<");
      });
    }
    bool first = true;
    for (const auto* e : entries) {
      if (!first) out += o.item_separator + newline_indent;
      first = false;
      append_json_string(out, json_key(e->first), o.ensure_ascii);
      out += o.key_separator;
      dump(out, e->second, o, level + 1);
    }
  } else {
    bool first = true;
    for (const auto& item : v.as_list().items) {
      if (!first) out += o.item_separator + newline_indent;
      first = false;
      dump(out, item, o, level + 1);
    }
  }
  if (o.indent) {
    out += "\n";
    for (int i = 0; i < level; ++i) out += *o.indent;
  }
  out.push_back(is_dict ? '}' : ']');
}

std::string sequence_repr(const std::vector<Value>& items, char open, char close) {
  std::string out(1, open);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += repr(items[i]);
  }
  out.push_back(close);
  return out;
}

std::string dict_repr(const Dict& d) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : d.entries()) {
    if (!first) out += ", ";
    first = false;
    out += repr(k);
    out += ": ";
    out += repr(v);
  }
  out += "}";
  return out;
}

}  // namespace

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);  // "-1.2345e+06": the shortest digits that read back
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string sign;
  if (mantissa[0] == '-') {
    sign = "-";
    mantissa.erase(0, 1);
  }
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = sign;
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exponent < 0 ? "e-" : "e+";
    const std::string e = std::to_string(std::abs(exponent));
    if (e.size() < 2) out += "0";
    out += e;
    return out;
  }
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  } else if (static_cast<size_t>(point) < digits.size()) {
    out += digits.substr(0, static_cast<size_t>(point)) + "." +
           digits.substr(static_cast<size_t>(point));
  } else {
    out += digits + std::string(static_cast<size_t>(point) - digits.size(), '0') + ".0";
  }
  return out;
}

std::string string_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += "\\x";
      append_hex(out, cp, 2);
    } else if (cp < 0x7F || printable(cp)) {
      unicode::append_utf8(out, cp);
    } else if (cp <= 0xFF) {
      out += "\\x";
      append_hex(out, cp, 2);
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      append_hex(out, cp, 4);
    } else {
      out += "\\U";
      append_hex(out, cp, 8);
    }
  }
  out.push_back(quote);
  return out;
}

std::string repr(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return v.as_bool() ? "True" : "False";
    case Kind::Int:
      return std::to_string(v.as_int());
    case Kind::Float:
      return float_repr(v.as_float());
    case Kind::String:
      return v.is_markup() ? "Markup(" + string_repr(v.as_string()) + ")"
                           : string_repr(v.as_string());
    case Kind::List: {
      const List& l = v.as_list();
      switch (l.kind) {
        case ListKind::List:
          return sequence_repr(l.items, '[', ']');
        case ListKind::Tuple:
          if (l.items.size() == 1) return "(" + repr(l.items[0]) + ",)";
          return sequence_repr(l.items, '(', ')');
        case ListKind::DictKeys:
          return "dict_keys(" + sequence_repr(l.items, '[', ']') + ")";
        case ListKind::DictValues:
          return "dict_values(" + sequence_repr(l.items, '[', ']') + ")";
        case ListKind::DictItems:
          return "dict_items(" + sequence_repr(l.items, '[', ']') + ")";
        case ListKind::Generator:
          return "<generator object>";
        case ListKind::Range: {
          std::string out =
              "range(" + std::to_string(l.range_start) + ", " + std::to_string(l.range_stop);
          if (l.range_step != 1) out += ", " + std::to_string(l.range_step);
          return out + ")";
        }
      }
      return "";
    }
    case Kind::Dict:
      return dict_repr(v.as_dict());
    case Kind::Object:
      return v.as_object().repr();
  }
  return "";
}

std::string str(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "";
    case Kind::String:
      return v.as_string();
    default:
      return repr(v);
  }
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return v.is_markup() ? "Markup" : "str";
    case Kind::List:
      switch (v.as_list().kind) {
        case ListKind::List:
          return "list";
        case ListKind::Tuple:
          return "tuple";
        case ListKind::DictKeys:
          return "dict_keys";
        case ListKind::DictValues:
          return "dict_values";
        case ListKind::DictItems:
          return "dict_items";
        case ListKind::Range:
          return "range";
        case ListKind::Generator:
          return "generator";
      }
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Object:
      return v.as_object().type_name();
  }
  return "object";
}

std::string qualified_type_name(const std::string& t) {
  if (t == "Undefined" || t == "Macro" || t == "LoopContext") return "jinja2.runtime." + t;
  if (t == "Markup") return "markupsafe.Markup";
  if (t == "Namespace" || t == "Cycler" || t == "Joiner") return "jinja2.utils." + t;
  return t;
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return qualified_type_name(type_name(v)) + " object";
}

std::string json_dumps(const Value& v, const JsonOptions& options) {
  std::string out;
  dump(out, v, options, 0);
  return out;
}

namespace {

Value from_json_at(const nlohmann::ordered_json& j, const std::string& where, int depth) {
  if (depth > kMaxNesting) {
    throw Failure("ValueError",
                  where + ": JSON nests deeper than " + std::to_string(kMaxNesting) + " levels");
  }
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        throw Failure("ValueError",
                      where + ": integer " + std::to_string(u) + " does not fit in 64 bits");
      }
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::floating(j.get<double>());
    case nlohmann::ordered_json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (unicode::find_invalid_utf8(s) != std::string::npos) {
        throw Failure("ValueError", where + ": a string is not valid UTF-8");
      }
      return Value::string(s);
    }
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, where, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto d = std::make_shared<Dict>();
      for (const auto& [k, e] : j.items()) {
        if (unicode::find_invalid_utf8(k) != std::string::npos) {
          throw Failure("ValueError", where + ": a key is not valid UTF-8");
        }
        d->set(Value::string(k), from_json_at(e, where, depth + 1));
      }
      return Value::dict(std::move(d));
    }
    default:
      throw Failure("ValueError", where + ": binary or discarded JSON values are not supported");
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j, const std::string& where) {
  return from_json_at(j, where, 0);
}

}  // namespace volt::jinja::py

namespace volt::jinja {

std::string Namespace::repr() const {
  for (const void* p : py::repr_stack) {
    if (p == this) return "<Namespace {...}>";
  }
  py::ReprGuard guard(this);
  return "<Namespace " + py::dict_repr(attributes_) + ">";
}

}  // namespace volt::jinja

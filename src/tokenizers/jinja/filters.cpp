// jinja2's built-in filters with their Python behaviour (argument names and defaults, what they
// do with Undefined, case-insensitive sorting, generators where jinja2 yields), plus
// transformers' tojson (json.dumps with ensure_ascii=False, indent, separators, sort_keys).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "args.h"
#include "interpreter.h"
#include "parser.h"
#include "python.h"
#include "volt/tokenizers/unicode.h"

namespace volt::jinja {

using Filter = Value (*)(Interpreter&, const Value&, CallArgs&);

namespace {

std::string text(const Value& v) { return py::str(v); }

Value generator(std::vector<Value> items) {
  return Value::list(std::move(items), ListKind::Generator);
}

// jinja2's generator filters (select, map, unique, items, batch, slice) fail only when what
// they return is walked: a failure here waits inside the generator.
template <Value (*F)(Interpreter&, const Value&, CallArgs&)>
Value lazily(Interpreter& in, const Value& v, CallArgs& args) {
  try {
    return F(in, v, args);
  } catch (const Failure& f) {
    return Value::failed_generator(f);
  }
}

void check_string_size(Interpreter& in, size_t n) {
  if (n > in.limits().max_output_bytes) {
    throw Failure("SandboxLimit", "a string exceeds max_output_bytes (" +
                                      std::to_string(in.limits().max_output_bytes) + ")");
  }
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0 (environment.getitem).
std::vector<Value> attribute_parts(const Value& attribute) {
  std::vector<Value> parts;
  if (attribute.is_none()) return parts;
  if (!attribute.is_string()) return {attribute};
  const std::string dot = ".";
  for (const auto& p : py::split(attribute.as_string(), &dot, -1, false)) {
    const bool digits =
        !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    parts.push_back(digits && p.size() < 18 ? Value::integer(std::stoll(p)) : Value::string(p));
  }
  return parts;
}

Value ignore_case(const Value& v) {
  return v.is_string() ? Value::string(py::lower(v.as_string())) : v;
}

struct AttrGetter {
  std::vector<Value> parts;
  bool lower = false;
  std::optional<Value> fallback;  // map's default=

  Value operator()(Interpreter& in, Value item) const {
    for (const auto& part : parts) {
      item = in.getitem(item, part);
      if (fallback && item.is_undefined()) item = *fallback;
    }
    return lower ? ignore_case(item) : item;
  }
};

AttrGetter attrgetter(const std::optional<Value>& attribute, bool lower) {
  AttrGetter g;
  if (attribute) g.parts = attribute_parts(*attribute);
  g.lower = lower;
  return g;
}

bool less(const Value& a, const Value& b) { return py::compare(a, b, "<"); }

Value f_abs(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("abs", args, {});
  if (v.is_float()) return Value::floating(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.to_int() == INT64_MIN)
      throw Failure("OverflowError", "integer overflow (volt's Jinja integers are 64-bit)");
    return Value::integer(std::llabs(v.to_int()));
  }
  throw Failure("TypeError", "bad operand type for abs(): '" + py::type_name(v) + "'");
}

Value f_attr(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("attr", args, {"name"}, 1);
  const std::string name = text(*a[0]);
  if (v.is_undefined()) return in.getattr(v, name);  // raises, as Undefined.__getattr__ does
  if (v.is_object()) return in.getattr(v, name);
  Value method;
  bool unsafe = false;
  if (python_attribute(in, v, name, method, unsafe)) {
    if (!unsafe) return method;
    return Value::undefined("access to attribute " + py::string_repr(name) + " of " +
                                py::string_repr(py::type_name(v)) + " object is unsafe.",
                            true);
  }
  return Value::undefined(py::string_repr(py::object_type_repr(v)) + " has no attribute " +
                          py::string_repr(name));
}

Value f_batch(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("batch", args, {"linecount", "fill_with"}, 1);
  const int64_t n = int_arg("batch", *a[0]);
  std::vector<Value> out, tmp;
  for (const auto& item : py::iterate(v)) {
    in.count_iteration();
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(item);
  }
  if (!tmp.empty()) {
    if (a[1] && !a[1]->is_none()) {
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(*a[1]);
    }
    out.push_back(Value::list(std::move(tmp)));
  }
  return generator(std::move(out));
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("capitalize", args, {});
  return Value::string(py::capitalize(text(v)));
}

Value f_center(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("center", args, {"width"});
  const int64_t width = a[0] ? int_arg("center", *a[0]) : 80;
  if (width > 0) check_string_size(in, static_cast<size_t>(width));
  return Value::string(py::pad(text(v), width, " ", 0));
}

Value f_default(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = bind_args("default", args, {"default_value", "boolean"});
  const bool boolean = a[1] && py::truthy(*a[1]);
  if (v.is_undefined() || (boolean && !py::truthy(v))) return a[0] ? *a[0] : Value::string("");
  return v;
}

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("dictsort", args, {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = a[0] && py::truthy(*a[0]);
  const std::string by = a[1] ? text(*a[1]) : "key";
  if (by != "key" && by != "value")
    throw Failure("FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
  const bool reverse = a[2] && py::truthy(*a[2]);
  // jinja2 calls value.items() as Python does: an Undefined fails as Undefined, anything but a
  // mapping has no such attribute.
  if (v.is_undefined()) in.getattr(v, "items");
  if (!v.is_dict()) {
    throw Failure("AttributeError", "'" + py::type_name(v) + "' object has no attribute 'items'");
  }
  const Value items = in.call(in.getattr(v, "items"), {});
  std::vector<Value> pairs = items.as_list().items;
  const size_t pos = by == "key" ? 0 : 1;
  const auto key = [&](const Value& p) {
    const Value& x = p.as_list().items[pos];
    return case_sensitive ? x : ignore_case(x);
  };
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    return reverse ? less(key(y), key(x)) : less(key(x), key(y));
  });
  return Value::list(std::move(pairs));
}

Value f_escape(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("escape", args, {});
  if (v.is_markup()) return v;
  return Value::string(py::html_escape(text(v)), true);
}

Value f_first(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("first", args, {});
  const auto items = py::iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("last", args, {});
  if (v.is_list() && v.as_list().kind == ListKind::Generator) {
    throw Failure("TypeError", "'generator' object is not reversible");
  }
  const auto items = py::iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

std::optional<int64_t> parse_python_int(std::string s, int64_t base) {
  s = py::strip(s, nullptr, true, true);
  bool negative = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  const auto prefix = [&](char p) {
    return i + 1 < s.size() && s[i] == '0' && (s[i + 1] | 0x20) == p;
  };
  if (base == 0) {
    if (prefix('x')) {
      base = 16;
    } else if (prefix('o')) {
      base = 8;
    } else if (prefix('b')) {
      base = 2;
    } else {
      base = 10;
      // base 0 refuses leading zeros ("010"), but for zero itself
      size_t j = i;
      while (j < s.size() && (s[j] == '0' || s[j] == '_')) ++j;
      if (j < s.size() && j > i && s[i] == '0') return std::nullopt;
    }
    if (base != 10) i += 2;
  } else if ((base == 16 && prefix('x')) || (base == 8 && prefix('o')) ||
             (base == 2 && prefix('b'))) {
    i += 2;
    if (i < s.size() && s[i] == '_') ++i;
  }
  if (base < 2 || base > 36) throw Failure("ValueError", "int() base must be >= 2 and <= 36, or 0");
  if (i >= s.size()) return std::nullopt;
  unsigned __int128 value = 0;
  bool last_underscore = true;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (last_underscore) return std::nullopt;
      last_underscore = true;
      continue;
    }
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
      d = (c | 0x20) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (value > static_cast<unsigned __int128>(INT64_MAX) + 1) {
      throw Failure("OverflowError", "the integer " + s + " does not fit in 64 bits");
    }
    last_underscore = false;
  }
  if (last_underscore) return std::nullopt;
  if (!negative && value > static_cast<unsigned __int128>(INT64_MAX)) {
    throw Failure("OverflowError", "the integer " + s + " does not fit in 64 bits");
  }
  return negative ? static_cast<int64_t>(-static_cast<__int128>(value))
                  : static_cast<int64_t>(value);
}

std::optional<double> parse_python_float(std::string s) {
  s = py::strip(s, nullptr, true, true);
  std::string lower = py::lower(s);
  double sign = 1;
  if (!lower.empty() && (lower[0] == '+' || lower[0] == '-')) {
    sign = lower[0] == '-' ? -1 : 1;
    lower.erase(0, 1);
  }
  if (lower == "inf" || lower == "infinity") return sign * HUGE_VAL;
  if (lower == "nan") return std::nan("");
  std::string digits;
  for (size_t i = 0; i < lower.size(); ++i) {
    const char c = lower[i];
    if (c == '_') {
      const bool ok = i > 0 && i + 1 < lower.size() &&
                      std::isdigit(static_cast<unsigned char>(lower[i - 1])) &&
                      std::isdigit(static_cast<unsigned char>(lower[i + 1]));
      if (!ok) return std::nullopt;
      continue;
    }
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' ||
          c == '-'))
      return std::nullopt;
    digits.push_back(c);
  }
  if (digits.empty() || digits[0] == '+' || digits[0] == '-') return std::nullopt;
  double out = 0;
  const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (res.ptr != digits.data() + digits.size()) return std::nullopt;
  if (res.ec == std::errc::result_out_of_range) {
    const size_t e = digits.find('e');
    out = e != std::string::npos && digits.find('-', e) != std::string::npos ? 0.0 : HUGE_VAL;
  }
  return sign * out;
}

[[noreturn]] void fail_undefined_conversion(const Value& v) {
  throw Failure("UndefinedError", v.undefined_info().hint.empty() ? "an undefined value was used"
                                                                  : v.undefined_info().hint);
}

Value f_float(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = bind_args("float", args, {"default"});
  const Value fallback = a[0] ? *a[0] : Value::floating(0.0);
  if (v.is_undefined()) fail_undefined_conversion(v);
  if (v.is_number()) return Value::floating(v.to_double());
  if (v.is_string()) {
    if (const auto d = parse_python_float(v.as_string())) return Value::floating(*d);
  }
  return fallback;
}

Value f_int(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = bind_args("int", args, {"default", "base"});
  const Value fallback = a[0] ? *a[0] : Value::integer(0);
  const int64_t base = a[1] ? int_arg("int", *a[1]) : 10;
  if (v.is_undefined()) fail_undefined_conversion(v);
  const auto from_float = [&](double d) -> Value {
    if (std::isnan(d)) return fallback;
    if (std::isinf(d) || std::fabs(d) >= 9.2233720368547758e18) {
      throw Failure("OverflowError",
                    "cannot convert float infinity or a float this large to a 64-bit integer");
    }
    return Value::integer(static_cast<int64_t>(d));
  };
  if (v.is_string()) {
    if (const auto i = parse_python_int(v.as_string(), base)) return Value::integer(*i);
    if (const auto d = parse_python_float(v.as_string())) return from_float(*d);
    return fallback;
  }
  if (v.is_int() || v.is_bool()) return Value::integer(v.to_int());
  if (v.is_float()) return from_float(v.as_float());
  return fallback;
}

Value f_format(Interpreter& in, const Value& v, CallArgs& args) {
  if (!args.positional.empty() && !args.keywords.empty()) {
    throw Failure("FilterArgumentError",
                  "can't handle positional and keyword arguments at the same time");
  }
  Value operands;
  if (!args.keywords.empty()) {
    auto d = std::make_shared<Dict>();
    for (const auto& [k, x] : args.keywords) d->set(Value::string(k), x);
    operands = Value::dict(std::move(d));
  } else {
    operands = Value::list(args.positional, ListKind::Tuple);
  }
  return Value::string(py::percent_format(text(v), operands, in.limits().max_output_bytes));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("indent", args, {"width", "first", "blank"});
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->as_string();
    } else {
      const int64_t w = int_arg("indent", *a[0]);
      check_string_size(in, static_cast<size_t>(std::max<int64_t>(w, 0)));
      indention = std::string(static_cast<size_t>(std::max<int64_t>(w, 0)), ' ');
    }
  }
  const bool first = a[1] && py::truthy(*a[1]);
  const bool blank = a[2] && py::truthy(*a[2]);
  // jinja2 appends a newline to the value itself: only text can take it.
  if (v.is_list() && v.as_list().kind == ListKind::List) {
    throw Failure("AttributeError", "'list' object has no attribute 'splitlines'");
  }
  if (!v.is_string()) py::binary("+", v, Value::string("\n"), in.limits().max_output_bytes);
  const std::string s = v.as_string() + "\n";
  const auto lines = py::splitlines(s, false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
      check_string_size(in, rv.size());
    }
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
      check_string_size(in, rv.size());
    }
  }
  if (first) rv = indention + rv;
  return Value::string(std::move(rv));
}

Value f_items(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("items", args, {});
  if (v.is_undefined()) return generator({});
  if (!v.is_dict()) throw Failure("TypeError", "Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.as_dict().entries())
    out.push_back(Value::list({k, x}, ListKind::Tuple));
  return generator(std::move(out));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("join", args, {"d", "attribute"});
  const std::string sep = a[0] ? text(*a[0]) : "";
  const AttrGetter getter = attrgetter(a[1], false);
  std::string out;
  bool first = true;
  for (const auto& item : py::iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += text(a[1] ? getter(in, item) : item);
    check_string_size(in, out.size());
  }
  return Value::string(std::move(out));
}

Value f_length(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("length", args, {});
  switch (v.kind()) {
    case Kind::Undefined:
      return Value::integer(0);
    case Kind::String:
      return Value::integer(static_cast<int64_t>(py::length(v.as_string())));
    case Kind::Dict:
      return Value::integer(static_cast<int64_t>(v.as_dict().size()));
    case Kind::List:
      if (v.as_list().kind != ListKind::Generator)
        return Value::integer(static_cast<int64_t>(v.as_list().items.size()));
      break;
    default:
      break;
  }
  throw Failure("TypeError", "object of type '" + py::type_name(v) + "' has no len()");
}

Value f_list(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("list", args, {});
  return Value::list(py::iterate(v));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("lower", args, {});
  return Value::string(py::lower(text(v)));
}

Value f_upper(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("upper", args, {});
  return Value::string(py::upper(text(v)));
}

Value f_map(Interpreter& in, const Value& v, CallArgs& args) {
  if (!py::truthy(v)) return generator({});  // jinja2's map walks its input only if it is true
  std::vector<Value> out;
  const auto items = py::iterate(v);
  if (args.positional.empty()) {
    std::optional<Value> attribute, fallback;
    for (const auto& [k, x] : args.keywords) {
      if (k == "attribute") {
        attribute = x;
      } else if (k == "default") {
        fallback = x;
      } else {
        throw Failure("FilterArgumentError", "Unexpected keyword argument " + py::string_repr(k));
      }
    }
    if (!attribute) throw Failure("FilterArgumentError", "map requires a filter argument");
    AttrGetter getter = attrgetter(attribute, false);
    if (fallback && !fallback->is_none()) getter.fallback = fallback;
    for (const auto& item : items) out.push_back(getter(in, item));
    return generator(std::move(out));
  }
  const std::string name = text(args.positional[0]);
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keywords = args.keywords;
  for (const auto& item : items) out.push_back(in.apply_filter(name, item, rest));
  return generator(std::move(out));
}

Value min_or_max(Interpreter& in, const Value& v, CallArgs& args, const char* fn, bool want_max) {
  const auto a = bind_args(fn, args, {"case_sensitive", "attribute"});
  const auto items = py::iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const AttrGetter key = attrgetter(a[1], !(a[0] && py::truthy(*a[0])));
  size_t best = 0;
  Value best_key = key(in, items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(in, items[i]);
    if (want_max ? less(best_key, k) : less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value f_max(Interpreter& in, const Value& v, CallArgs& args) {
  return min_or_max(in, v, args, "max", true);
}
Value f_min(Interpreter& in, const Value& v, CallArgs& args) {
  return min_or_max(in, v, args, "min", false);
}

// select / reject / selectattr / rejectattr (jinja2's prepare_select_or_reject).
Value select_or_reject(Interpreter& in, const Value& v, CallArgs& args, bool lookup_attr,
                       bool keep_if) {
  if (!py::truthy(v)) return generator({});  // as jinja2: a false input is not walked
  size_t off = 0;
  AttrGetter getter;
  if (lookup_attr) {
    if (args.positional.empty())
      throw Failure("FilterArgumentError", "Missing parameter for attribute name");
    getter = attrgetter(args.positional[0], false);
    off = 1;
  }
  std::optional<std::string> test;
  CallArgs test_args;
  if (args.positional.size() > off) {
    test = text(args.positional[off]);
    test_args.positional.assign(args.positional.begin() + static_cast<long>(off) + 1,
                                args.positional.end());
    test_args.keywords = args.keywords;
  }
  std::vector<Value> out;
  for (const auto& item : py::iterate(v)) {
    const Value subject = lookup_attr ? getter(in, item) : item;
    const bool result = test ? in.apply_test(*test, subject, test_args) : py::truthy(subject);
    if (result == keep_if) out.push_back(item);
  }
  return generator(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
  return select_or_reject(in, v, a, false, true);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
  return select_or_reject(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_or_reject(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_or_reject(in, v, a, true, false);
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("replace", args, {"old", "new", "count"}, 2);
  const int64_t count = a[2] && !a[2]->is_none() ? int_arg("replace", *a[2]) : -1;
  std::string out = py::replace(text(v), text(*a[0]), text(*a[1]), count);
  check_string_size(in, out.size());
  return Value::string(std::move(out));
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("reverse", args, {});
  if (v.is_string()) {
    auto cps = py::code_points(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(py::from_code_points(cps, 0, cps.size()));
  }
  std::vector<Value> items;
  try {
    items = py::iterate(v);
  } catch (const Failure& f) {
    if (f.kind() != "TypeError") throw;
    throw Failure("FilterArgumentError", "argument must be iterable");
  }
  std::reverse(items.begin(), items.end());
  const bool iterator = !(v.is_list() && v.as_list().kind == ListKind::Generator);
  return Value::list(std::move(items), iterator ? ListKind::Generator : ListKind::List);
}

double round_half_even_digits(double x, int64_t digits) {
  if (!std::isfinite(x) || digits > 323) return x;
  if (digits >= 0) {
    // printf rounds the exact binary value correctly (ties to even), as CPython's round does.
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
    return std::strtod(buf, nullptr);
  }
  if (digits < -308) return std::copysign(0.0, x);
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

Value f_round(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = bind_args("round", args, {"precision", "method"});
  const int64_t precision = a[0] ? int_arg("round", *a[0]) : 0;
  const std::string method = a[1] ? text(*a[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    throw Failure("FilterArgumentError", "method must be common, ceil or floor");
  }
  if (!v.is_number())
    throw Failure("TypeError", "type " + py::type_name(v) + " doesn't define __round__ method");
  if (method == "common") {
    if (!v.is_float()) {
      if (precision >= 0) return Value::integer(v.to_int());
      const double r = round_half_even_digits(static_cast<double>(v.to_int()), precision);
      return Value::integer(static_cast<int64_t>(r));
    }
    return Value::floating(round_half_even_digits(v.as_float(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = v.to_double() * scale;
  return Value::floating((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value f_safe(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("safe", args, {});
  return Value::string(text(v), true);
}

Value f_slice(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("slice", args, {"slices", "fill_with"}, 1);
  const int64_t slices = int_arg("slice", *a[0]);
  if (slices == 0) throw Failure("ZeroDivisionError", "integer division or modulo by zero");
  const auto seq = py::iterate(v);
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per = length / slices, extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    in.count_iteration();
    const int64_t start = offset + n * per;
    if (n < extra) ++offset;
    const int64_t end = offset + (n + 1) * per;
    std::vector<Value> tmp;
    for (size_t i : py::slice_indices(seq.size(), start, end, std::nullopt)) tmp.push_back(seq[i]);
    if (a[1] && !a[1]->is_none() && n >= extra) tmp.push_back(*a[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  return generator(std::move(out));
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("sort", args, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = a[0] && py::truthy(*a[0]);
  const bool lower = !(a[1] && py::truthy(*a[1]));
  std::vector<AttrGetter> getters;
  if (a[2] && a[2]->is_string()) {
    const std::string comma = ",";
    for (const auto& part : py::split(a[2]->as_string(), &comma, -1, false)) {
      getters.push_back(attrgetter(Value::string(part), lower));
    }
  } else {
    getters.push_back(attrgetter(a[2] ? a[2] : std::optional<Value>(), lower));
  }
  std::vector<Value> items = py::iterate(v);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<Value> key;
    for (const auto& g : getters) key.push_back(g(in, items[i]));
    keyed.emplace_back(Value::list(std::move(key)), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? less(y.first, x.first) : less(x.first, y.first);
  });
  std::vector<Value> out;
  for (const auto& k : keyed) out.push_back(items[k.second]);
  return Value::list(std::move(out));
}

Value f_string(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("string", args, {});
  return v.is_string() ? v : Value::string(text(v));
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("sum", args, {"attribute", "start"});
  Value total = a[1] ? *a[1] : Value::integer(0);
  const AttrGetter getter = attrgetter(a[0], false);
  for (const auto& item : py::iterate(v)) {
    total = py::binary("+", total, a[0] ? getter(in, item) : item, in.limits().max_output_bytes);
  }
  return total;
}

// jinja2's title: each piece after a run of whitespace, '-', '(', '{', '[' or '<' starts upper.
Value f_title(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("title", args, {});
  const auto cps = py::code_points(text(v));
  const auto separator = [](uint32_t c) {
    return py::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
  };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    const bool sep = separator(cps[i]);
    while (j < cps.size() && separator(cps[j]) == sep) ++j;
    out += py::upper(py::from_code_points(cps, i, i + 1)) +
           py::lower(py::from_code_points(cps, i + 1, j));
    i = j;
  }
  return Value::string(std::move(out));
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = bind_args("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  py::JsonOptions o;
  o.ensure_ascii = a[0] && py::truthy(*a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      o.indent = a[1]->as_string();
    } else {
      const int64_t n = int_arg("tojson", *a[1]);
      if (n > 10000) throw Failure("SandboxLimit", "tojson indent is too large");
      o.indent = std::string(static_cast<size_t>(std::max<int64_t>(n, 0)), ' ');
    }
    o.item_separator = ",";
  }
  if (a[2] && !a[2]->is_none()) {
    const auto parts = py::iterate(*a[2]);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      throw Failure("ValueError", "separators must be a pair of strings");
    }
    o.item_separator = parts[0].as_string();
    o.key_separator = parts[1].as_string();
  }
  o.sort_keys = a[3] && py::truthy(*a[3]);
  return Value::string(py::json_dumps(v, o));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = bind_args("trim", args, {"chars"});
  const std::string chars = a[0] && !a[0]->is_none() ? text(*a[0]) : "";
  return Value::string(py::strip(text(v), a[0] && !a[0]->is_none() ? &chars : nullptr, true, true));
}

Value f_truncate(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("truncate", args, {"length", "killwords", "end", "leeway"});
  const int64_t length = a[0] ? int_arg("truncate", *a[0]) : 255;
  const bool killwords = a[1] && py::truthy(*a[1]);
  const std::string end = a[2] ? text(*a[2]) : "...";
  const int64_t leeway = a[3] && !a[3]->is_none() ? int_arg("truncate", *a[3]) : 5;
  if (!v.is_string()) {
    // jinja2 measures and slices the value as it is: what fits comes back unchanged.
    CallArgs none;
    if (f_length(in, v, none).as_int() <= length + leeway) return v;
    throw Failure("TypeError", "truncate expects a string, not " + py::type_name(v));
  }
  const std::string& s = v.as_string();
  const auto cps = py::code_points(s);
  const auto end_len = static_cast<int64_t>(py::length(end));
  if (length < end_len)
    throw Failure("AssertionError", "expected length >= " + std::to_string(end_len) + ", got " +
                                        std::to_string(length));
  if (leeway < 0)
    throw Failure("AssertionError", "expected leeway >= 0, got " + std::to_string(leeway));
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::string(s);
  const auto keep = py::slice_indices(cps.size(), std::nullopt, length - end_len, std::nullopt);
  const std::string head = py::from_code_points(cps, 0, keep.size());
  if (killwords) return Value::string(head + end);
  const std::string space = " ";
  const auto parts = py::split(head, &space, 1, true);
  return Value::string(parts[0] + end);
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& args) {
  const auto a = bind_args("unique", args, {"case_sensitive", "attribute"});
  const AttrGetter key = attrgetter(a[1], !(a[0] && py::truthy(*a[0])));
  std::vector<Value> seen, out;
  for (const auto& item : py::iterate(v)) {
    const Value k = key(in, item);
    py::check_hashable(k);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return py::equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return generator(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  bind_args("wordcount", args, {});
  int64_t words = 0;
  bool in_word = false;
  const std::string s = text(v);
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = unicode::next_code_point(s, i);
    const bool w = cp == '_' || unicode::is_letter(cp) || unicode::is_number(cp);
    if (w && !in_word) ++words;
    in_word = w;
  }
  return Value::integer(words);
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> table = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", lazily<f_batch>},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"format", f_format},
      {"indent", f_indent},
      {"int", f_int},
      {"items", lazily<f_items>},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", lazily<f_map>},
      {"max", f_max},
      {"min", f_min},
      {"reject", lazily<f_reject>},
      {"rejectattr", lazily<f_rejectattr>},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", lazily<f_select>},
      {"selectattr", lazily<f_selectattr>},
      {"slice", lazily<f_slice>},
      {"sort", f_sort},
      {"string", f_string},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"truncate", f_truncate},
      {"unique", lazily<f_unique>},
      {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

Filter find_filter(const std::string& name) {
  const auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

bool has_filter(const std::string& name) { return filters().count(name) > 0; }

bool is_unsupported_filter(const std::string& name) {
  static const std::set<std::string> names = {
      "filesizeformat", "forceescape", "groupby", "pprint",   "random",
      "striptags",      "urlencode",   "urlize",  "wordwrap", "xmlattr"};
  return names.count(name) > 0;
}

}  // namespace volt::jinja

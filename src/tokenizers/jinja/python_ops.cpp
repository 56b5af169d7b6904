// Python's truth, equality, ordering and arithmetic on volt's Jinja values, with the
// exceptions Python raises (TypeError, ZeroDivisionError, ...). Integers are 64-bit: a result
// that Python would carry on as a big integer is an OverflowError here.
#include <cmath>

#include "object.h"
#include "python.h"

namespace volt::jinja::py {
namespace {

[[noreturn]] void fail_undefined(const Value& u) {
  const auto& info = u.undefined_info();
  throw Failure(info.unsafe ? "SecurityError" : "UndefinedError",
                info.hint.empty() ? "an undefined value was used" : info.hint);
}

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  throw Failure("TypeError", "unsupported operand type(s) for " + std::string(op) + ": '" +
                                 type_name(a) + "' and '" + type_name(b) + "'");
}

[[noreturn]] void overflow() {
  throw Failure("OverflowError", "integer overflow (volt's Jinja integers are 64-bit)");
}

// Exact three-way comparison of two numbers (-2: unordered, a NaN).
int number_order(const Value& a, const Value& b) {
  if (!a.is_float() && !b.is_float()) {
    const int64_t x = a.to_int(), y = b.to_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const long double x = a.is_float() ? a.as_float() : static_cast<long double>(a.to_int());
  const long double y = b.is_float() ? b.as_float() : static_cast<long double>(b.to_int());
  if (std::isnan(x) || std::isnan(y)) return -2;
  return x < y ? -1 : x > y ? 1 : 0;
}

bool is_sequence(const Value& v) {
  return v.is_list() && (v.as_list().kind == ListKind::List || v.as_list().kind == ListKind::Tuple);
}

bool apply(int order, std::string_view op) {
  if (order == -2) return false;
  if (op == "<") return order < 0;
  if (op == "<=") return order <= 0;
  if (op == ">") return order > 0;
  return order >= 0;
}

void check_size(size_t n, size_t limit, const char* what) {
  if (n > limit) {
    throw Failure("MemoryError", std::string(what) + " of " + std::to_string(n) +
                                     " exceeds the limit of " + std::to_string(limit));
  }
}

Value repeat(const Value& seq, int64_t times, size_t limit) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (s.empty() || times == 0) return Value::string("", seq.is_markup());
    if (static_cast<uint64_t>(times) > limit / s.size()) check_size(limit + 1, limit, "a string");
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value::string(std::move(out), seq.is_markup());
  }
  const auto& items = seq.as_list().items;
  if (!items.empty() && static_cast<uint64_t>(times) > limit / items.size())
    check_size(limit + 1, limit, "a list");
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.as_list().kind);
}

void float_div_mod(double vx, double wx, double* floordiv, double* mod) {
  *mod = std::fmod(vx, wx);
  double div = (vx - *mod) / wx;
  if (*mod != 0.0) {
    if ((wx < 0) != (*mod < 0)) {
      *mod += wx;
      div -= 1.0;
    }
  } else {
    *mod = std::copysign(0.0, wx);
  }
  if (div != 0.0) {
    *floordiv = std::floor(div);
    if (div - *floordiv > 0.5) *floordiv += 1.0;
  } else {
    *floordiv = std::copysign(0.0, vx / wx);
  }
}

Value int_power(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(result, base, &result)) overflow();
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
  }
  return Value::integer(result);
}

Value float_power(double x, double y) {
  if (x == 0.0 && y < 0)
    throw Failure("ZeroDivisionError", "0.0 cannot be raised to a negative power");
  if (x < 0 && std::floor(y) != y && std::isfinite(y)) {
    throw Failure(
        "ValueError",
        "a negative number raised to a fractional power is complex, which is not supported");
  }
  const double r = std::pow(x, y);
  if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) {
    throw Failure("OverflowError", "(34, 'Numerical result out of range')");
  }
  return Value::floating(r);
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return v.as_bool();
    case Kind::Int:
      return v.as_int() != 0;
    case Kind::Float:
      return v.as_float() != 0.0;
    case Kind::String:
      return !v.as_string().empty();
    case Kind::List:
      return v.as_list().kind == ListKind::Generator || !v.as_list().items.empty();
    case Kind::Dict:
      return v.as_dict().size() > 0;
    case Kind::Object:
      return true;
  }
  return false;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return number_order(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.as_string() == b.as_string();
    case Kind::List: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.kind == ListKind::Generator) return &x == &y;
      if (x.kind != y.kind || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equals(x.items[i], y.items[i])) return false;
      }
      return true;
    }
    case Kind::Dict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    case Kind::Object:
      return a.object_ptr() == b.object_ptr();
    default:
      return false;
  }
}

bool compare(const Value& a, const Value& b, std::string_view op) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) return apply(number_order(a, b), op);
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return apply(c < 0 ? -1 : c > 0 ? 1 : 0, op);
  }
  if (is_sequence(a) && is_sequence(b) && a.as_list().kind == b.as_list().kind) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    size_t i = 0;
    while (i < x.size() && i < y.size() && equals(x[i], y[i])) ++i;
    if (i == x.size() || i == y.size()) {
      return apply(x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0, op);
    }
    return compare(x[i], y[i], op);
  }
  throw Failure("TypeError", "'" + std::string(op) + "' not supported between instances of '" +
                                 type_name(a) + "' and '" + type_name(b) + "'");
}

void check_hashable(const Value& v) {
  if (v.is_dict() ||
      (v.is_list() && v.as_list().kind != ListKind::Tuple && v.as_list().kind != ListKind::Range &&
       v.as_list().kind != ListKind::Generator)) {
    throw Failure("TypeError", "unhashable type: '" + type_name(v) + "'");
  }
  if (v.is_list() && v.as_list().kind == ListKind::Tuple) {
    for (const auto& item : v.as_list().items) check_hashable(item);
  }
}

Value binary(std::string_view op, const Value& a, const Value& b, size_t limit) {
  // str.__mod__ takes anything (an Undefined too) before the right side's __rmod__ is asked.
  if (op == "%" && a.is_string()) return Value::string(percent_format(a.as_string(), b, limit));
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const bool numbers = a.is_number() && b.is_number();
  const bool floats = numbers && (a.is_float() || b.is_float());
  if (op == "+") {
    if (numbers) {
      if (floats) return Value::floating(a.to_double() + b.to_double());
      int64_t r;
      if (__builtin_add_overflow(a.to_int(), b.to_int(), &r)) overflow();
      return Value::integer(r);
    }
    if (a.is_string() && b.is_string()) {
      if (a.is_markup() || b.is_markup()) {
        const std::string l = a.is_markup() ? a.as_string() : html_escape(a.as_string());
        const std::string r = b.is_markup() ? b.as_string() : html_escape(b.as_string());
        check_size(l.size() + r.size(), limit, "a string");
        return Value::string(l + r, true);
      }
      check_size(a.as_string().size() + b.as_string().size(), limit, "a string");
      return Value::string(a.as_string() + b.as_string());
    }
    if (is_sequence(a) && is_sequence(b) && a.as_list().kind == b.as_list().kind) {
      check_size(a.as_list().items.size() + b.as_list().items.size(), limit, "a list");
      std::vector<Value> items = a.as_list().items;
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::list(std::move(items), a.as_list().kind);
    }
    if (a.is_string() || is_sequence(a)) {
      throw Failure("TypeError", "can only concatenate " + type_name(a) + " (not \"" +
                                     type_name(b) + "\") to " + type_name(a));
    }
    unsupported(op, a, b);
  }
  if (op == "-") {
    if (!numbers) unsupported(op, a, b);
    if (floats) return Value::floating(a.to_double() - b.to_double());
    int64_t r;
    if (__builtin_sub_overflow(a.to_int(), b.to_int(), &r)) overflow();
    return Value::integer(r);
  }
  if (op == "*") {
    if (numbers) {
      if (floats) return Value::floating(a.to_double() * b.to_double());
      int64_t r;
      if (__builtin_mul_overflow(a.to_int(), b.to_int(), &r)) overflow();
      return Value::integer(r);
    }
    const bool a_seq = a.is_string() || is_sequence(a);
    const bool b_seq = b.is_string() || is_sequence(b);
    if (a_seq && (b.is_int() || b.is_bool())) return repeat(a, b.to_int(), limit);
    if (b_seq && (a.is_int() || a.is_bool())) return repeat(b, a.to_int(), limit);
    if (a_seq || b_seq) {
      throw Failure("TypeError", "can't multiply sequence by non-int of type '" +
                                     type_name(a_seq ? b : a) + "'");
    }
    unsupported(op, a, b);
  }
  if (op == "/") {
    if (!numbers) unsupported(op, a, b);
    if (b.to_double() == 0.0)
      throw Failure("ZeroDivisionError", floats ? "float division by zero" : "division by zero");
    return Value::floating(a.to_double() / b.to_double());
  }
  if (op == "//" || op == "%") {
    if (!numbers) unsupported(op, a, b);
    if (floats) {
      if (b.to_double() == 0.0) {
        throw Failure("ZeroDivisionError",
                      op == "//" ? "float floor division by zero" : "float modulo");
      }
      double div, mod;
      float_div_mod(a.to_double(), b.to_double(), &div, &mod);
      return Value::floating(op == "//" ? div : mod);
    }
    const int64_t x = a.to_int(), y = b.to_int();
    if (y == 0) {
      throw Failure("ZeroDivisionError",
                    op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
    }
    if (x == INT64_MIN && y == -1) {
      if (op == "%") return Value::integer(0);
      overflow();
    }
    int64_t q = x / y, r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) {
      r += y;
      q -= 1;
    }
    return Value::integer(op == "//" ? q : r);
  }
  if (op == "**") {
    if (!numbers) unsupported(op, a, b);
    if (!floats) {
      if (b.to_int() < 0)
        return float_power(static_cast<double>(a.to_int()), static_cast<double>(b.to_int()));
      return int_power(a.to_int(), b.to_int());
    }
    return float_power(a.to_double(), b.to_double());
  }
  unsupported(op, a, b);
}

Value negate(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return Value::floating(-v.as_float());
  if (v.is_int() || v.is_bool()) {
    if (v.to_int() == INT64_MIN) overflow();
    return Value::integer(-v.to_int());
  }
  throw Failure("TypeError", "bad operand type for unary -: '" + type_name(v) + "'");
}

Value positive(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return v;
  if (v.is_int() || v.is_bool()) return Value::integer(v.to_int());
  throw Failure("TypeError", "bad operand type for unary +: '" + type_name(v) + "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::Undefined:
      return false;
    case Kind::String:
      if (!item.is_string()) {
        throw Failure("TypeError",
                      "'in <string>' requires string as left operand, not " + type_name(item));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::List:
      if (container.as_list().deferred) throw *container.as_list().deferred;
      for (const auto& x : container.as_list().items) {
        if (equals(x, item)) return true;
      }
      return false;
    case Kind::Dict:
      check_hashable(item);
      return container.as_dict().find(item) != nullptr;
    default:
      throw Failure("TypeError", "argument of type '" + type_name(container) + "' is not iterable");
  }
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return {};
    case Kind::List:
      if (v.as_list().deferred) throw *v.as_list().deferred;
      return v.as_list().items;
    case Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& e : v.as_dict().entries()) keys.push_back(e.first);
      return keys;
    }
    case Kind::String: {
      std::vector<Value> chars;
      const auto cps = code_points(v.as_string());
      for (size_t i = 0; i < cps.size(); ++i)
        chars.push_back(Value::string(from_code_points(cps, i, i + 1)));
      return chars;
    }
    default:
      throw Failure("TypeError", "'" + type_name(v) + "' object is not iterable");
  }
}

}  // namespace volt::jinja::py

// The Python attributes templates call on values: str methods (strip with its chars argument,
// split/rsplit with maxsplit, startswith with a tuple, format, ...), dict.get/items/keys/values,
// list.count/index. Methods that would mutate a list or dict are reported as unsafe, as jinja2's
// ImmutableSandboxedEnvironment does; using one is a SecurityError.
#include <set>

#include "args.h"
#include "interpreter.h"
#include "python.h"
#include "volt/tokenizers/unicode.h"

namespace volt::jinja {
namespace {

std::optional<int64_t> index_arg(const std::string& fn, const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::nullopt;
  if (v->is_int() || v->is_bool()) return v->to_int();
  throw Failure("TypeError", "slice indices must be integers or None or have an __index__ method");
}

void no_keywords(const std::string& fn, const CallArgs& args) {
  if (!args.keywords.empty()) throw Failure("TypeError", fn + "() takes no keyword arguments");
}

const std::string* optional_str(const std::string& fn, const std::optional<Value>& v) {
  if (!v || v->is_none()) return nullptr;
  if (!v->is_string()) throw Failure("TypeError", fn + " arg must be None or str");
  return &v->as_string();
}

Value string_list(const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::list(std::move(items));
}

// str.format: fields {}, {0}, {name}, with .attr / [key] chains, !r/!s/!a and a format spec.
std::string str_format(Interpreter& in, const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  const auto resolve = [&](const std::string& field) -> Value {
    size_t i = 0;
    while (i < field.size() && field[i] != '.' && field[i] != '[') ++i;
    const std::string first = field.substr(0, i);
    Value v;
    if (first.empty() ||
        std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      size_t index;
      if (first.empty()) {
        if (used_manual) {
          throw Failure(
              "ValueError",
              "cannot switch from manual field specification to automatic field numbering");
        }
        used_auto = true;
        index = auto_index++;
      } else {
        if (used_auto) {
          throw Failure(
              "ValueError",
              "cannot switch from automatic field numbering to manual field specification");
        }
        used_manual = true;
        if (first.size() > 9)
          throw Failure("ValueError", "Too many decimal digits in format string");
        index = std::stoul(first);
      }
      if (index >= args.positional.size()) {
        throw Failure("IndexError", "Replacement index " + std::to_string(index) +
                                        " out of range for positional args tuple");
      }
      v = args.positional[index];
    } else {
      const auto it = std::find_if(args.keywords.begin(), args.keywords.end(),
                                   [&](const auto& k) { return k.first == first; });
      if (it == args.keywords.end()) throw Failure("KeyError", py::string_repr(first));
      v = it->second;
    }
    while (i < field.size()) {
      if (field[i] == '.') {
        size_t j = ++i;
        while (j < field.size() && field[j] != '.' && field[j] != '[') ++j;
        v = in.getattr(v, field.substr(i, j - i));
        i = j;
      } else {
        const size_t close = field.find(']', i);
        if (close == std::string::npos) throw Failure("ValueError", "Missing ']' in format string");
        const std::string key = field.substr(i + 1, close - i - 1);
        const bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
          return c >= '0' && c <= '9';
        });
        v = in.getitem(
            v, digits && key.size() < 18 ? Value::integer(std::stoll(key)) : Value::string(key));
        i = close + 1;
      }
    }
    return v;
  };
  size_t i = 0;
  while (i < fmt.size()) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        i += 2;
        continue;
      }
      throw Failure("ValueError", "Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      i += 2;
      continue;
    }
    int depth = 1;
    size_t j = i + 1;
    while (j < fmt.size() && depth > 0) {
      if (fmt[j] == '{') ++depth;
      if (fmt[j] == '}') --depth;
      if (depth > 0) ++j;
    }
    if (depth > 0) throw Failure("ValueError", "expected '}' before end of string");
    const std::string body = fmt.substr(i + 1, j - i - 1);
    i = j + 1;
    size_t k = 0;
    while (k < body.size() && body[k] != '!' && body[k] != ':') {
      if (body[k] == '[') {
        k = body.find(']', k);
        if (k == std::string::npos) throw Failure("ValueError", "Missing ']' in format string");
      }
      ++k;
    }
    Value v = resolve(body.substr(0, k));
    if (k < body.size() && body[k] == '!') {
      if (k + 1 >= body.size())
        throw Failure("ValueError", "end of string while looking for conversion specifier");
      const char conv = body[k + 1];
      if (conv == 'r' || conv == 'a') {
        v = Value::string(py::repr(v));
      } else if (conv == 's') {
        v = Value::string(py::str(v));
      } else {
        throw Failure("ValueError", std::string("Unknown conversion specifier ") + conv);
      }
      k += 2;
    }
    std::string spec;
    if (k < body.size()) {
      if (body[k] != ':') throw Failure("ValueError", "expected ':' after conversion specifier");
      spec = body.substr(k + 1);
      if (spec.find('{') != std::string::npos) spec = str_format(in, spec, args);
    }
    out += py::format_value(v, spec);
    if (out.size() > in.limits().max_output_bytes) {
      throw Failure("SandboxLimit", "a formatted string exceeds max_output_bytes");
    }
  }
  return out;
}

Value call_str_method(Interpreter& in, const std::string& s, const std::string& name,
                      CallArgs& args) {
  const std::string fn = "str." + name;
  const auto positional = [&](std::initializer_list<const char*> names, size_t required) {
    no_keywords(fn, args);
    return bind_args(fn, args, names, required);
  };
  if (name == "upper" || name == "lower" || name == "casefold" || name == "title" ||
      name == "capitalize" || name == "swapcase") {
    positional({}, 0);
    if (name == "upper") return Value::string(py::upper(s));
    if (name == "title") return Value::string(py::title(s));
    if (name == "capitalize") return Value::string(py::capitalize(s));
    if (name == "swapcase") return Value::string(py::swapcase(s));
    if (name == "casefold") return Value::string(py::casefold(s));
    return Value::string(py::lower(s));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto a = positional({"chars"}, 0);
    return Value::string(py::strip(s, optional_str(fn, a[0]), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    const auto a = bind_args(fn, args, {"sep", "maxsplit"});
    const int64_t maxsplit = a[1] ? int_arg(fn, *a[1]) : -1;
    return string_list(py::split(s, optional_str(fn, a[0]), maxsplit, name == "rsplit"));
  }
  if (name == "splitlines") {
    const auto a = bind_args(fn, args, {"keepends"});
    return string_list(py::splitlines(s, a[0] && py::truthy(*a[0])));
  }
  if (name == "startswith" || name == "endswith") {
    const auto a = positional({"prefix", "start", "end"}, 1);
    const auto start = index_arg(fn, a[1]), end = index_arg(fn, a[2]);
    const bool at_end = name == "endswith";
    if (a[0]->is_string())
      return Value::boolean(py::starts_with(s, a[0]->as_string(), start, end, at_end));
    if (a[0]->is_list() && a[0]->as_list().kind == ListKind::Tuple) {
      for (const auto& p : a[0]->as_list().items) {
        if (!p.is_string()) {
          throw Failure("TypeError",
                        "tuple for " + name + " must only contain str, not " + py::type_name(p));
        }
        if (py::starts_with(s, p.as_string(), start, end, at_end)) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    throw Failure("TypeError",
                  name + " first arg must be str or a tuple of str, not " + py::type_name(*a[0]));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const auto a = positional({"sub", "start", "end"}, 1);
    const std::string& sub = str_arg(fn, *a[0]);
    const auto start = index_arg(fn, a[1]), end = index_arg(fn, a[2]);
    if (name == "count") return Value::integer(py::count(s, sub, start, end));
    const int64_t at = py::find(s, sub, start, end, name[0] == 'r');
    if (at < 0 && (name == "index" || name == "rindex"))
      throw Failure("ValueError", "substring not found");
    return Value::integer(at);
  }
  if (name == "replace") {
    const auto a = positional({"old", "new", "count"}, 2);
    const std::string out =
        py::replace(s, str_arg(fn, *a[0]), str_arg(fn, *a[1]), a[2] ? int_arg(fn, *a[2]) : -1);
    if (out.size() > in.limits().max_output_bytes)
      throw Failure("SandboxLimit", "a string exceeds max_output_bytes");
    return Value::string(out);
  }
  if (name == "join") {
    const auto a = positional({"iterable"}, 1);
    std::string out;
    size_t i = 0;
    for (const auto& item : py::iterate(*a[0])) {
      if (!item.is_string()) {
        throw Failure("TypeError", "sequence item " + std::to_string(i) +
                                       ": expected str instance, " + py::type_name(item) +
                                       " found");
      }
      if (i++ > 0) out += s;
      out += item.as_string();
      if (out.size() > in.limits().max_output_bytes)
        throw Failure("SandboxLimit", "a string exceeds max_output_bytes");
    }
    return Value::string(std::move(out));
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    const auto a = positional({"width", "fillchar"}, 1);
    const int64_t width = int_arg(fn, *a[0]);
    if (width > static_cast<int64_t>(in.limits().max_output_bytes))
      throw Failure("SandboxLimit", "a string exceeds max_output_bytes");
    std::string fill = " ";
    if (a[1]) {
      fill = str_arg(fn, *a[1]);
      if (py::length(fill) != 1)
        throw Failure("TypeError", "The fill character must be exactly one character long");
    }
    return Value::string(py::pad(s, width, fill, name == "center" ? 0 : name == "ljust" ? -1 : 1));
  }
  if (name == "zfill") {
    const auto a = positional({"width"}, 1);
    const int64_t width = int_arg(fn, *a[0]);
    const auto len = static_cast<int64_t>(py::length(s));
    if (width <= len) return Value::string(s);
    if (width > static_cast<int64_t>(in.limits().max_output_bytes))
      throw Failure("SandboxLimit", "a string exceeds max_output_bytes");
    const std::string zeros(static_cast<size_t>(width - len), '0');
    if (!s.empty() && (s[0] == '+' || s[0] == '-'))
      return Value::string(s.substr(0, 1) + zeros + s.substr(1));
    return Value::string(zeros + s);
  }
  if (name == "partition" || name == "rpartition") {
    const auto a = positional({"sep"}, 1);
    const std::string& sep = str_arg(fn, *a[0]);
    if (sep.empty()) throw Failure("ValueError", "empty separator");
    const size_t at = name == "partition" ? s.find(sep) : s.rfind(sep);
    std::vector<Value> parts;
    if (at == std::string::npos) {
      parts = name == "partition"
                  ? std::vector<Value>{Value::string(s), Value::string(""), Value::string("")}
                  : std::vector<Value>{Value::string(""), Value::string(""), Value::string(s)};
    } else {
      parts = {Value::string(s.substr(0, at)), Value::string(sep),
               Value::string(s.substr(at + sep.size()))};
    }
    return Value::list(std::move(parts), ListKind::Tuple);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const auto a = positional({"affix"}, 1);
    const std::string& affix = str_arg(fn, *a[0]);
    if (name == "removeprefix" && s.compare(0, affix.size(), affix) == 0)
      return Value::string(s.substr(affix.size()));
    if (name == "removesuffix" && !affix.empty() && s.size() >= affix.size() &&
        s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
      return Value::string(s.substr(0, s.size() - affix.size()));
    }
    return Value::string(s);
  }
  if (name == "format") return Value::string(str_format(in, s, args));
  if (name.rfind("is", 0) == 0) {
    positional({}, 0);
    if (name == "isupper") return Value::boolean(py::is_upper(s));
    if (name == "islower") return Value::boolean(py::is_lower(s));
    if (name == "isalpha") return Value::boolean(py::is_alpha(s));
    if (name == "isdigit") return Value::boolean(py::is_digit(s));
    if (name == "isdecimal") return Value::boolean(py::is_decimal(s));
    if (name == "isnumeric") return Value::boolean(py::is_numeric(s));
    if (name == "isalnum") return Value::boolean(py::is_alnum(s));
    if (name == "isspace") return Value::boolean(py::is_space_string(s));
    if (name == "istitle") return Value::boolean(py::is_title(s));
    if (name == "isascii") {
      return Value::boolean(std::all_of(
          s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
    }
  }
  throw Failure("NotImplementedError",
                fn + "() is not supported by volt's chat template interpreter");
}

const std::set<std::string>& str_methods() {
  static const std::set<std::string> names = {
      "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
      "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
      "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
      "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
      "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
      "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
      "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
      "swapcase",     "title",       "translate", "upper",      "zfill"};
  return names;
}

Value bound(const Value& self, const std::string& name, NativeFunction::Body body) {
  return Value::object(
      std::make_shared<NativeFunction>(name, std::move(body), py::type_name(self)));
}

Value dict_view(const Dict& d, ListKind kind) {
  std::vector<Value> items;
  items.reserve(d.size());
  for (const auto& [k, v] : d.entries()) {
    if (kind == ListKind::DictKeys) {
      items.push_back(k);
    } else if (kind == ListKind::DictValues) {
      items.push_back(v);
    } else {
      items.push_back(Value::list({k, v}, ListKind::Tuple));
    }
  }
  return Value::list(std::move(items), kind);
}

}  // namespace

bool python_attribute(Interpreter&, const Value& obj, const std::string& name, Value& out,
                      bool& unsafe) {
  unsafe = false;
  if (obj.is_string()) {
    if (!str_methods().count(name)) return false;
    out = bound(obj, name, [obj, name](Interpreter& in, CallArgs& args) {
      return call_str_method(in, obj.as_string(), name, args);
    });
    return true;
  }
  if (obj.is_dict()) {
    static const std::set<std::string> mutating = {"clear", "pop", "popitem", "setdefault",
                                                   "update"};
    if (mutating.count(name)) {
      unsafe = true;
      return true;
    }
    if (name == "get") {
      out = bound(obj, name, [obj](Interpreter&, CallArgs& args) {
        no_keywords("dict.get", args);
        const auto a = bind_args("dict.get", args, {"key", "default"}, 1);
        py::check_hashable(*a[0]);
        const Value* v = obj.as_dict().find(*a[0]);
        return v != nullptr ? *v : a[1] ? *a[1] : Value::none();
      });
      return true;
    }
    if (name == "items" || name == "keys" || name == "values") {
      const ListKind kind = name == "items"  ? ListKind::DictItems
                            : name == "keys" ? ListKind::DictKeys
                                             : ListKind::DictValues;
      out = bound(obj, name, [obj, name, kind](Interpreter&, CallArgs& args) {
        bind_args("dict." + name, args, {});
        return dict_view(obj.as_dict(), kind);
      });
      return true;
    }
    if (name == "copy") {
      out = bound(obj, name, [obj](Interpreter&, CallArgs& args) {
        bind_args("dict.copy", args, {});
        return obj;
      });
      return true;
    }
    if (name == "fromkeys") {
      out = bound(obj, name, [](Interpreter&, CallArgs&) -> Value {
        throw Failure("NotImplementedError", "dict.fromkeys() is not supported");
      });
      return true;
    }
    return false;
  }
  if (obj.is_list()) {
    const ListKind kind = obj.as_list().kind;
    if (kind == ListKind::List) {
      static const std::set<std::string> mutating = {"append", "clear",  "extend",  "insert",
                                                     "pop",    "remove", "reverse", "sort"};
      if (mutating.count(name)) {
        unsafe = true;
        return true;
      }
      if (name == "copy") {
        out = bound(obj, name, [obj](Interpreter&, CallArgs& args) {
          bind_args("list.copy", args, {});
          return obj;
        });
        return true;
      }
    }
    if ((kind == ListKind::List || kind == ListKind::Tuple || kind == ListKind::Range) &&
        (name == "count" || name == "index")) {
      out = bound(obj, name, [obj, name](Interpreter&, CallArgs& args) {
        no_keywords(name, args);
        const auto a = bind_args(name, args, {"value", "start", "stop"}, 1);
        const auto& items = obj.as_list().items;
        if (name == "count") {
          int64_t n = 0;
          for (const auto& x : items) n += py::equals(x, *a[0]);
          return Value::integer(n);
        }
        const auto idx = py::slice_indices(items.size(), index_arg(name, a[1]),
                                           index_arg(name, a[2]), std::nullopt);
        for (size_t i : idx) {
          if (py::equals(items[i], *a[0])) return Value::integer(static_cast<int64_t>(i));
        }
        throw Failure("ValueError", py::repr(*a[0]) + " is not in " + py::type_name(obj));
      });
      return true;
    }
    return false;
  }
  if (obj.is_float() && name == "is_integer") {
    out = bound(obj, name, [obj](Interpreter&, CallArgs& args) {
      bind_args("float.is_integer", args, {});
      const double d = obj.as_float();
      return Value::boolean(std::isfinite(d) && std::floor(d) == d);
    });
    return true;
  }
  return false;
}

}  // namespace volt::jinja

// The globals of transformers' template environment: jinja2's range (the sandbox's, capped at
// 100000 items), dict, namespace, cycler and joiner, and transformers' raise_exception and
// strftime_now.
#include <locale.h>

#include <cstring>

#include "args.h"
#include "interpreter.h"
#include "python.h"

namespace volt::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value native(const std::string& name, NativeFunction::Body body) {
  return Value::object(std::make_shared<NativeFunction>(name, std::move(body)));
}

Value range_fn(Interpreter&, CallArgs& args) {
  if (!args.keywords.empty()) throw Failure("TypeError", "range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) {
    throw Failure("TypeError",
                  "range expected at most 3 arguments, got " + std::to_string(p.size()));
  }
  const auto as_int = [](const Value& v) {
    if (v.is_int() || v.is_bool()) return v.to_int();
    throw Failure("TypeError",
                  "'" + py::type_name(v) + "' object cannot be interpreted as an integer");
  };
  int64_t start = 0, stop, step = 1;
  if (p.size() == 1) {
    stop = as_int(p[0]);
  } else {
    start = as_int(p[0]);
    stop = as_int(p[1]);
    if (p.size() == 3) step = as_int(p[2]);
  }
  if (step == 0) throw Failure("ValueError", "range() arg 3 must not be zero");
  // The length, computed without overflow.
  __int128 len = 0;
  if (step > 0 && start < stop) len = ((__int128)stop - start - 1) / step + 1;
  if (step < 0 && start > stop) len = ((__int128)start - stop - 1) / (-(__int128)step) + 1;
  if (len > kMaxRange) {
    throw Failure("OverflowError",
                  "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  std::vector<Value> items;
  for (int64_t i = 0; i < static_cast<int64_t>(len); ++i)
    items.push_back(Value::integer(start + i * step));
  return Value::range(start, stop, step, std::move(items));
}

// dict(mapping_or_pairs, **kwargs), as Python builds it.
std::shared_ptr<Dict> build_dict(const std::string& fn, const CallArgs& args) {
  auto d = std::make_shared<Dict>();
  if (args.positional.size() > 1) {
    throw Failure("TypeError", fn + " expected at most 1 argument, got " +
                                   std::to_string(args.positional.size()));
  }
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.as_dict().entries()) d->set(k, v);
    } else {
      size_t i = 0;
      for (const auto& pair : py::iterate(src)) {
        const auto kv = py::iterate(pair);
        if (kv.size() != 2) {
          throw Failure("ValueError", "dictionary update sequence element #" + std::to_string(i) +
                                          " has length " + std::to_string(kv.size()) +
                                          "; 2 is required");
        }
        py::check_hashable(kv[0]);
        d->set(kv[0], kv[1]);
        ++i;
      }
    }
  }
  for (const auto& [k, v] : args.keywords) d->set(Value::string(k), v);
  return d;
}

template <typename T>
std::shared_ptr<T> lock(const std::weak_ptr<T>& weak) {
  auto p = weak.lock();
  if (!p) throw Failure("RuntimeError", "the cycler this method belongs to no longer exists");
  return p;
}

class Cycler : public Object, public std::enable_shared_from_this<Cycler> {
 public:
  explicit Cycler(std::vector<Value> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::string repr() const override { return "<jinja2.utils.Cycler object>"; }
  Value attribute(const std::string& name) override {
    if (name == "current") return items_[pos_];
    if (name == "next") {
      return native("next", [weak = weak_from_this()](Interpreter&, CallArgs&) {
        const auto self = lock(weak);
        Value v = self->items_[self->pos_];
        self->pos_ = (self->pos_ + 1) % self->items_.size();
        return v;
      });
    }
    if (name == "reset") {
      return native("reset", [weak = weak_from_this()](Interpreter&, CallArgs&) {
        const auto self = lock(weak);
        self->pos_ = 0;
        return Value::none();
      });
    }
    return Object::attribute(name);
  }

 private:
  std::vector<Value> items_;
  size_t pos_ = 0;
};

class Joiner : public Object {
 public:
  explicit Joiner(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  std::string repr() const override { return "<jinja2.utils.Joiner object>"; }
  bool callable() const override { return true; }
  Value call(Interpreter&, CallArgs) override {
    if (!used_) {
      used_ = true;
      return Value::string("");
    }
    return Value::string(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

}  // namespace

std::string python_strftime(const std::string& format, const std::tm& when) {
  // datetime.strftime handles %f, %z and %Z itself (a naive datetime has no zone: both are
  // empty), then hands the rest to the C library's strftime in the C locale.
  std::string fmt;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      fmt.push_back(format[i]);
      continue;
    }
    const char d = format[++i];
    if (d == 'f') {
      fmt += "000000";
    } else if (d == 'z' || d == 'Z') {
      // empty
    } else {
      fmt.push_back('%');
      fmt.push_back(d);
    }
  }
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  std::tm t = when;
  for (size_t size = 256 + fmt.size() * 16; size <= (1u << 20); size *= 4) {
    std::string buf(size, '\0');
    const size_t n = strftime_l(buf.data(), buf.size(), fmt.c_str(), &t, c_locale);
    if (n > 0 || fmt.empty()) {
      buf.resize(n);
      return buf;
    }
  }
  return "";
}

std::unordered_map<std::string, Value> make_globals() {
  std::unordered_map<std::string, Value> g;
  g["range"] = native("range", range_fn);
  g["dict"] = native(
      "dict", [](Interpreter&, CallArgs& args) { return Value::dict(build_dict("dict", args)); });
  g["namespace"] = native("namespace", [](Interpreter& in, CallArgs& args) {
    auto ns = std::make_shared<Namespace>();
    const auto attributes = build_dict("namespace", args);
    for (const auto& [k, v] : attributes->entries()) {
      if (!k.is_string()) throw Failure("TypeError", "keywords must be strings");
      ns->set(k.as_string(), v);
    }
    in.adopt(ns);
    return Value::object(ns);
  });
  g["cycler"] = native("cycler", [](Interpreter&, CallArgs& args) {
    if (args.positional.empty())
      throw Failure("RuntimeError", "at least one item has to be provided");
    return Value::object(std::make_shared<Cycler>(args.positional));
  });
  g["joiner"] = native("joiner", [](Interpreter&, CallArgs& args) {
    const auto a = bind_args("joiner", args, {"sep"});
    return Value::object(std::make_shared<Joiner>(a[0] ? py::str(*a[0]) : ", "));
  });
  g["lipsum"] = native("lipsum", [](Interpreter&, CallArgs&) -> Value {
    throw Failure("NotImplementedError", "lipsum() is not supported (it is random)");
  });
  g["raise_exception"] = native("raise_exception", [](Interpreter&, CallArgs& args) -> Value {
    const auto a = bind_args("raise_exception", args, {"message"}, 1);
    throw Failure("TemplateError", py::str(*a[0]));
  });
  g["strftime_now"] = native("strftime_now", [](Interpreter& in, CallArgs& args) {
    const auto a = bind_args("strftime_now", args, {"format"}, 1);
    return Value::string(python_strftime(str_arg("strftime_now", *a[0]), in.now()));
  });
  return g;
}

}  // namespace volt::jinja

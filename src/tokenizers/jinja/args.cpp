#include "args.h"

#include "python.h"

namespace volt::jinja {

std::vector<std::optional<Value>> bind_args(const std::string& fn, const CallArgs& args,
                                            std::initializer_list<const char*> names,
                                            size_t required) {
  const std::vector<std::string> params(names.begin(), names.end());
  std::vector<std::optional<Value>> out(params.size());
  if (args.positional.size() > params.size()) {
    throw Failure("TypeError", fn + "() takes at most " + std::to_string(params.size()) +
                                   " argument" + (params.size() == 1 ? "" : "s") + " (" +
                                   std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [key, value] : args.keywords) {
    size_t i = 0;
    while (i < params.size() && params[i] != key) ++i;
    if (i == params.size())
      throw Failure("TypeError", fn + "() got an unexpected keyword argument '" + key + "'");
    if (out[i])
      throw Failure("TypeError", fn + "() got multiple values for argument '" + key + "'");
    out[i] = value;
  }
  for (size_t i = 0; i < required; ++i) {
    if (!out[i])
      throw Failure("TypeError", fn + "() missing required argument '" + params[i] + "'");
  }
  return out;
}

int64_t int_arg(const std::string& fn, const Value& v) {
  if (v.is_int() || v.is_bool()) return v.to_int();
  throw Failure("TypeError",
                fn + "(): '" + py::type_name(v) + "' object cannot be interpreted as an integer");
}

const std::string& str_arg(const std::string& fn, const Value& v) {
  if (v.is_string()) return v.as_string();
  throw Failure("TypeError", fn + "(): expected str, got " + py::type_name(v));
}

}  // namespace volt::jinja

// Python-style binding of call arguments to a signature, for the filters, tests, methods and
// global functions written in C++.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "object.h"

namespace volt::jinja {

/// out[i] is the argument for names[i] (positional or keyword), or empty when not given. Extra
/// positional arguments, unknown or repeated keywords and missing required ones (the first
/// `required` names) are TypeErrors naming `fn`, as Python reports them.
std::vector<std::optional<Value>> bind_args(const std::string& fn, const CallArgs& args,
                                            std::initializer_list<const char*> names,
                                            size_t required = 0);

/// An int argument (bool counts, as in Python), else a TypeError naming fn.
int64_t int_arg(const std::string& fn, const Value& v);
/// A str argument, else a TypeError naming fn.
const std::string& str_arg(const std::string& fn, const Value& v);

}  // namespace volt::jinja

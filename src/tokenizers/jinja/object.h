// Objects: the values that are neither data nor Undefined. A namespace (the one mutable value),
// and everything callable: built-in functions, bound methods of str/dict/list, macros, the loop
// object's helpers. Each says how it prints, what its attributes are and how it is called.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "value.h"

namespace volt::jinja {

class Interpreter;

/// The arguments of one call, as written: positional, then keyword arguments in order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

class Object {
 public:
  virtual ~Object() = default;
  /// Python's name for the type, as errors show it ('Namespace', 'Macro', 'LoopContext').
  virtual std::string type_name() const = 0;
  /// What {{ obj }} prints (Python's str(), which is repr() for these objects).
  virtual std::string repr() const = 0;
  /// The attribute `name`, or an Undefined that says it is missing.
  virtual Value attribute(const std::string& name);
  virtual bool callable() const { return false; }
  virtual Value call(Interpreter& interpreter, CallArgs args);
};

/// jinja2's namespace(): attributes that `{% set ns.attr = value %}` may change from any scope.
class Namespace : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  std::string repr() const override;
  Value attribute(const std::string& name) override;
  void set(const std::string& name, Value value) {
    attributes_.set(Value::string(name), std::move(value));
  }
  const Dict& attributes() const { return attributes_; }
  /// Drops every attribute, breaking reference cycles through this namespace.
  void clear() { attributes_ = Dict(); }

 private:
  Dict attributes_;
};

/// A built-in function or bound method implemented in C++.
class NativeFunction : public Object {
 public:
  using Body = std::function<Value(Interpreter&, CallArgs&)>;
  NativeFunction(std::string name, Body body, std::string bound_to = "")
      : name_(std::move(name)), body_(std::move(body)), bound_to_(std::move(bound_to)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override;
  bool callable() const override { return true; }
  Value call(Interpreter& interpreter, CallArgs args) override { return body_(interpreter, args); }

 private:
  std::string name_;
  Body body_;
  std::string bound_to_;  // "str" for 'abc'.upper: printed as <built-in method upper of str object>
};

}  // namespace volt::jinja

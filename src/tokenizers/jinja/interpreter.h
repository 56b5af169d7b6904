// The interpreter: walks a Program with jinja2's scoping (a fresh scope per loop iteration, per
// macro call and per block that captures output; {% if %} shares its scope), jinja2's sandboxed
// attribute and item access, Undefined, and transformers' {% generation %} tracking. No I/O:
// the only inputs are the variables given, the only output is text. Loops, output size and
// macro nesting are bounded (Limits).
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ast.h"
#include "object.h"
#include "value.h"

namespace volt::jinja {

struct Limits {
  size_t max_output_bytes = 64u << 20;    // the rendered text, and any string or list built
  int64_t max_loop_iterations = 1000000;  // summed over every loop of one render
  int max_call_depth = 100;               // nested macro calls
};

struct RenderInput {
  std::unordered_map<std::string, Value> variables;
  std::tm now{};  // what strftime_now formats (local time)
  Limits limits;
};

struct RenderOutput {
  std::string text;
  /// Byte ranges [start, end) of what {% generation %} blocks rendered, in order.
  std::vector<std::pair<size_t, size_t>> generation_spans;
};

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};

class Interpreter;

/// A macro, or the `caller` of a {% call %} block: a body run in a new scope over the scope it
/// was defined in.
class Macro : public Object {
 public:
  Macro(std::string name, const std::vector<Param>* params, const Body* body,
        const std::vector<std::string>* starts_undefined, std::shared_ptr<Scope> closure);
  std::string type_name() const override { return "Macro"; }
  std::string repr() const override { return "<Macro '" + name_ + "'>"; }
  Value attribute(const std::string& name) override;
  bool callable() const override { return true; }
  Value call(Interpreter& interpreter, CallArgs args) override;
  /// Drops the scope it closes over (breaking scope -> macro -> scope cycles at the end of a
  /// render).
  void release() { closure_.reset(); }

 private:
  friend class Interpreter;
  std::string name_;
  const std::vector<Param>* params_;
  const Body* body_;
  const std::vector<std::string>* starts_undefined_;
  std::shared_ptr<Scope> closure_;
  bool uses_varargs_ = false, uses_kwargs_ = false, uses_caller_ = false;
};

class Interpreter {
 public:
  Interpreter(const Program& program, RenderInput input);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  /// Renders; a failure is a jinja::Failure carrying the template line.
  RenderOutput run();

  // ---- what filters, tests, methods and objects use ----
  /// jinja2's sandboxed getattr (obj.name) and getitem (obj[key]).
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  /// Calls anything callable; Undefined raises its error, other values a TypeError.
  Value call(const Value& callee, CallArgs args);
  Value apply_filter(const std::string& name, const Value& input, CallArgs args);
  bool apply_test(const std::string& name, const Value& input, CallArgs args);
  const Limits& limits() const { return input_.limits; }
  const std::tm& now() const { return input_.now; }
  /// Counts one loop iteration (or one step of a filter walking a sequence) against the limit.
  void count_iteration();
  /// Keeps a namespace until the render ends, then clears it (namespaces can form cycles).
  void adopt(const std::shared_ptr<Namespace>& ns) { namespaces_.push_back(ns); }

 private:
  friend class Macro;
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const std::shared_ptr<Scope>& scope);
  Flow exec(const Node& node, const std::shared_ptr<Scope>& scope);
  Flow exec_for(const Node& node, const std::shared_ptr<Scope>& scope);
  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope);
  // The value jinja2 computes for e when it compiles the template, if it can
  // (Expr::maybe_constant).
  std::optional<Value> try_constant(const Expr& e, const std::shared_ptr<Scope>& scope);
  // Prints what {{ e }} prints.
  void output(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_inner(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_compare(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope, const Value* block_text);
  CallArgs eval_args(const Expr& e, const std::shared_ptr<Scope>& scope, size_t first);
  Value slice(const Value& obj, const Expr& slice, const std::shared_ptr<Scope>& scope);
  Value lookup(const std::string& name, const Scope* scope) const;
  void assign(const Target& target, const Value& value, Scope& scope);
  std::shared_ptr<Macro> make_macro(const Node& node, std::string name,
                                    const std::shared_ptr<Scope>& closure);
  Value call_macro(Macro& macro, CallArgs args);
  void write(std::string_view text);
  // A child scope of `scope` for a frame that starts with `undefined` names undefined.
  std::shared_ptr<Scope> child(const std::shared_ptr<Scope>& scope,
                               const std::vector<std::string>& undefined) const;
  // Runs the node's body in a child scope with its output captured.
  std::pair<Flow, std::string> capture(const Node& node, const std::shared_ptr<Scope>& scope);

  const Program& program_;
  RenderInput input_;
  std::unordered_map<std::string, Value> globals_;
  std::vector<std::string> buffers_;  // [0] is the render; the rest capture blocks being run
  std::vector<std::pair<size_t, size_t>> spans_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  std::vector<std::weak_ptr<Macro>> macros_;
  int64_t iterations_ = 0;
  int call_depth_ = 0;
  int const_mode_ = 0;  // > 0 while try_constant runs
};

/// The global functions every render sees: range, dict, namespace, cycler, joiner,
/// raise_exception and strftime_now (builtins.cpp).
std::unordered_map<std::string, Value> make_globals();
/// strftime as Python's datetime.strftime does it for a naive datetime (C locale; %f, %z, %Z).
std::string python_strftime(const std::string& format, const std::tm& when);
/// An attribute of a str, dict, list or number that Python has (a bound method), or nullopt.
/// `unsafe` is set for the methods that mutate (the immutable sandbox refuses them).
bool python_attribute(Interpreter& in, const Value& obj, const std::string& name, Value& out,
                      bool& unsafe);

}  // namespace volt::jinja

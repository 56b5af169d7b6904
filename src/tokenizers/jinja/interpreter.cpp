#include "interpreter.h"

#include <algorithm>

#include "parser.h"
#include "python.h"

namespace volt::jinja {

using Filter = Value (*)(Interpreter&, const Value&, CallArgs&);
using Test = bool (*)(Interpreter&, const Value&, CallArgs&);
Filter find_filter(const std::string& name);  // filters.cpp
Test find_test(const std::string& name);      // is_tests.cpp
bool test_takes_argument(const std::string& name);

namespace {

[[noreturn]] void fail_undefined(const Value& u) {
  const auto& info = u.undefined_info();
  throw Failure(info.unsafe ? "SecurityError" : "UndefinedError",
                info.hint.empty() ? "an undefined value was used" : info.hint);
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(py::string_repr(py::object_type_repr(obj)) + " has no attribute " +
                          py::string_repr(name));
}

Value unsafe_attribute(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute " + py::string_repr(name) + " of " +
                              py::string_repr(py::type_name(obj)) + " object is unsafe.",
                          true);
}

// Whether a Name expression for one of `names` appears anywhere in the body (jinja2 decides
// so at compile time whether a macro takes varargs, kwargs or caller).
void find_names(const Expr& e, bool* varargs, bool* kwargs, bool* caller) {
  if (e.kind == Expr::Kind::Name) {
    if (e.name == "varargs") *varargs = true;
    if (e.name == "kwargs") *kwargs = true;
    if (e.name == "caller") *caller = true;
  }
  for (const auto& a : e.args) {
    if (a) find_names(*a, varargs, kwargs, caller);
  }
  for (const auto& kw : e.kwargs) find_names(*kw.second, varargs, kwargs, caller);
}

void find_names(const Body& body, bool* varargs, bool* kwargs, bool* caller) {
  for (const auto& n : body) {
    for (const Expr* e : {n->expr.get(), n->cond.get()}) {
      if (e) find_names(*e, varargs, kwargs, caller);
    }
    for (const auto& v : n->values) find_names(*v, varargs, kwargs, caller);
    for (const auto& p : n->params) {
      if (p.default_value) find_names(*p.default_value, varargs, kwargs, caller);
    }
    find_names(n->body, varargs, kwargs, caller);
    find_names(n->else_body, varargs, kwargs, caller);
  }
}

// The object behind a bound method such as loop.cycle, which holds it weakly: the method may be
// stored in what the object holds (loop.changed(loop.cycle)), and a strong hold would leak.
template <typename T>
std::shared_ptr<T> lock(const std::weak_ptr<T>& weak) {
  auto p = weak.lock();
  if (!p) throw Failure("RuntimeError", "the object this method belongs to no longer exists");
  return p;
}

// jinja2's LoopContext: what `loop` is inside a for loop.
class Loop : public Object, public std::enable_shared_from_this<Loop> {
 public:
  Loop(std::shared_ptr<const std::vector<Value>> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "LoopContext"; }
  std::string repr() const override {
    return "<LoopContext " + std::to_string(index_ + 1) + "/" + std::to_string(items_->size()) +
           ">";
  }
  void set_index(size_t i) { index_ = i; }

  Value attribute(const std::string& name) override {
    const auto n = static_cast<int64_t>(items_->size());
    const auto i = static_cast<int64_t>(index_);
    if (name == "index") return Value::integer(i + 1);
    if (name == "index0") return Value::integer(i);
    if (name == "revindex") return Value::integer(n - i);
    if (name == "revindex0") return Value::integer(n - i - 1);
    if (name == "first") return Value::boolean(i == 0);
    if (name == "last") return Value::boolean(i == n - 1);
    if (name == "length") return Value::integer(n);
    if (name == "depth") return Value::integer(1);
    if (name == "depth0") return Value::integer(0);
    if (name == "previtem")
      return i > 0 ? (*items_)[index_ - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem")
      return i + 1 < n ? (*items_)[index_ + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
      return Value::object(std::make_shared<NativeFunction>(
          "cycle",
          [weak = weak_from_this()](Interpreter&, CallArgs& a) {
            const auto self = lock(weak);
            if (a.positional.empty()) throw Failure("TypeError", "no items for cycling given");
            return a.positional[self->index_ % a.positional.size()];
          },
          "LoopContext"));
    }
    if (name == "changed") {
      return Value::object(std::make_shared<NativeFunction>(
          "changed",
          [weak = weak_from_this()](Interpreter&, CallArgs& a) {
            const auto self = lock(weak);
            const Value v = Value::list(a.positional);
            if (self->has_last_ && py::equals(self->last_, v)) return Value::boolean(false);
            self->last_ = v;
            self->has_last_ = true;
            return Value::boolean(true);
          },
          "LoopContext"));
    }
    return Object::attribute(name);
  }

 private:
  std::shared_ptr<const std::vector<Value>> items_;
  size_t index_ = 0;
  Value last_;
  bool has_last_ = false;
};

// Thrown while computing an expression as a constant (Interpreter::try_constant) when it
// reaches what jinja2's optimizer cannot compute.
struct NotConstant {};

// jinja2's has_safe_repr: the values its optimizer writes into compiled code as constants.
bool safe_constant(const Value& v) {
  switch (v.kind()) {
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::String:
      return true;
    case Kind::List: {
      const ListKind k = v.as_list().kind;
      if (k != ListKind::List && k != ListKind::Tuple && k != ListKind::Range) return false;
      for (const auto& x : v.as_list().items) {
        if (!safe_constant(x)) return false;
      }
      return true;
    }
    case Kind::Dict:
      for (const auto& [k, x] : v.as_dict().entries()) {
        if (!safe_constant(k) || !safe_constant(x)) return false;
      }
      return true;
    default:
      return false;
  }
}

// Unpacks `value` into a tuple target (Python's `a, b = value`).
std::vector<Value> unpack(const Value& value, size_t n) {
  std::vector<Value> items = py::iterate(value);
  if (items.size() < n) {
    throw Failure("ValueError", "not enough values to unpack (expected " + std::to_string(n) +
                                    ", got " + std::to_string(items.size()) + ")");
  }
  if (items.size() > n)
    throw Failure("ValueError", "too many values to unpack (expected " + std::to_string(n) + ")");
  return items;
}

std::optional<int64_t> slice_part(const Value& v) {
  if (v.is_none()) return std::nullopt;
  if (v.is_int() || v.is_bool()) return v.to_int();
  throw Failure("TypeError", "slice indices must be integers or None or have an __index__ method");
}

}  // namespace

// ---- objects whose default behaviour lives here ----

Value Object::attribute(const std::string& name) {
  return Value::undefined(py::string_repr(py::qualified_type_name(type_name()) + " object") +
                          " has no attribute " + py::string_repr(name));
}

Value Object::call(Interpreter&, CallArgs) {
  throw Failure("TypeError", "'" + type_name() + "' object is not callable");
}

Value Namespace::attribute(const std::string& name) {
  const Value* v = attributes_.find(name);
  if (v != nullptr) return *v;
  return Value::undefined("'jinja2.utils.Namespace object' has no attribute " +
                          py::string_repr(name));
}

std::string NativeFunction::repr() const {
  if (bound_to_.empty()) return "<built-in function " + name_ + ">";
  return "<built-in method " + name_ + " of " + bound_to_ + " object>";
}

Macro::Macro(std::string name, const std::vector<Param>* params, const Body* body,
             const std::vector<std::string>* starts_undefined, std::shared_ptr<Scope> closure)
    : name_(std::move(name)),
      params_(params),
      body_(body),
      starts_undefined_(starts_undefined),
      closure_(std::move(closure)) {
  find_names(*body_, &uses_varargs_, &uses_kwargs_, &uses_caller_);
}

Value Macro::attribute(const std::string& name) {
  if (name == "name") return Value::string(name_);
  if (name == "arguments") {
    std::vector<Value> names;
    for (const auto& p : *params_) names.push_back(Value::string(p.name));
    return Value::list(std::move(names), ListKind::Tuple);
  }
  if (name == "catch_kwargs") return Value::boolean(uses_kwargs_);
  if (name == "catch_varargs") return Value::boolean(uses_varargs_);
  if (name == "caller") return Value::boolean(uses_caller_);
  return Value::undefined("'jinja2.runtime.Macro object' has no attribute " +
                          py::string_repr(name));
}

Value Macro::call(Interpreter& interpreter, CallArgs args) {
  return interpreter.call_macro(*this, std::move(args));
}

// ---- the interpreter ----

Interpreter::Interpreter(const Program& program, RenderInput input)
    : program_(program), input_(std::move(input)), globals_(make_globals()) {}

Interpreter::~Interpreter() {
  // Break the cycles a render can build (a namespace holding itself, a macro in the scope it
  // closes over) so that everything it allocated is freed.
  for (auto& ns : namespaces_) ns->clear();
  for (auto& m : macros_) {
    if (auto p = m.lock()) p->release();
  }
}

RenderOutput Interpreter::run() {
  buffers_.assign(1, std::string());
  const auto root = child(nullptr, program_.starts_undefined);
  exec_body(program_.body, root);
  root->vars.clear();
  RenderOutput out;
  out.text = std::move(buffers_[0]);
  out.generation_spans = std::move(spans_);
  return out;
}

void Interpreter::count_iteration() {
  if (++iterations_ > input_.limits.max_loop_iterations) {
    throw Failure("SandboxLimit", "the render ran more than max_loop_iterations (" +
                                      std::to_string(input_.limits.max_loop_iterations) +
                                      ") loop iterations");
  }
}

void Interpreter::write(std::string_view text) {
  std::string& out = buffers_.back();
  if (out.size() + text.size() > input_.limits.max_output_bytes) {
    throw Failure("SandboxLimit", "the render's output exceeds max_output_bytes (" +
                                      std::to_string(input_.limits.max_output_bytes) + " bytes)");
  }
  out.append(text);
}

std::shared_ptr<Scope> Interpreter::child(const std::shared_ptr<Scope>& scope,
                                          const std::vector<std::string>& undefined) const {
  auto inner = std::make_shared<Scope>();
  inner->parent = scope;
  for (const auto& name : undefined)
    inner->vars[name] = Value::undefined(py::string_repr(name) + " is undefined");
  return inner;
}

std::pair<Interpreter::Flow, std::string> Interpreter::capture(
    const Node& node, const std::shared_ptr<Scope>& scope) {
  const auto inner = child(scope, node.starts_undefined);
  buffers_.emplace_back();
  Flow flow;
  try {
    flow = exec_body(node.body, inner);
  } catch (...) {
    buffers_.pop_back();
    throw;
  }
  std::string text = std::move(buffers_.back());
  buffers_.pop_back();
  return {flow, std::move(text)};
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const std::shared_ptr<Scope>& scope) {
  for (const auto& node : body) {
    const Flow f = exec(*node, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Node& node, const std::shared_ptr<Scope>& scope) {
  try {
    switch (node.kind) {
      case Node::Kind::Text:
        write(node.text);
        return Flow::Normal;
      case Node::Kind::Output: {
        if (node.name == "print") {
          for (const auto& e : node.expr->args) output(*e, scope);
        } else {
          output(*node.expr, scope);
        }
        return Flow::Normal;
      }
      case Node::Kind::If:
        if (py::truthy(eval(*node.expr, scope))) return exec_body(node.body, scope);
        return exec_body(node.else_body, scope);
      case Node::Kind::For:
        return exec_for(node, scope);
      case Node::Kind::Set:
        assign(node.target, eval(*node.expr, scope), *scope);
        return Flow::Normal;
      case Node::Kind::SetBlock: {
        auto [flow, text] = capture(node, scope);
        if (flow != Flow::Normal) return flow;
        Value v = Value::string(std::move(text));
        if (node.expr) v = eval_filter(*node.expr, scope, &v);
        assign(node.target, v, *scope);
        return Flow::Normal;
      }
      case Node::Kind::FilterBlock: {
        auto [flow, text] = capture(node, scope);
        if (flow != Flow::Normal) return flow;
        const Value input = Value::string(std::move(text));
        write(py::str(eval_filter(*node.expr, scope, &input)));
        return Flow::Normal;
      }
      case Node::Kind::With: {
        const auto inner = child(scope, node.starts_undefined);
        std::vector<Value> values;
        for (const auto& v : node.values) values.push_back(eval(*v, scope));
        for (size_t i = 0; i < values.size(); ++i) assign(node.targets[i], values[i], *inner);
        return exec_body(node.body, inner);
      }
      case Node::Kind::Macro:
        scope->vars[node.name] = Value::object(make_macro(node, node.name, scope));
        return Flow::Normal;
      case Node::Kind::CallBlock: {
        const Expr& call_expr = *node.expr;
        const Value callee = eval(*call_expr.args[0], scope);
        CallArgs args = eval_args(call_expr, scope, 1);
        args.keywords.emplace_back("caller", Value::object(make_macro(node, "caller", scope)));
        write(py::str(call(callee, std::move(args))));
        return Flow::Normal;
      }
      case Node::Kind::Generation: {
        auto [flow, text] = capture(node, scope);
        const size_t start = buffers_[0].size();
        spans_.emplace_back(start, start + text.size());
        write(text);
        return flow;
      }
      case Node::Kind::Break:
        return Flow::Break;
      case Node::Kind::Continue:
        return Flow::Continue;
    }
  } catch (Failure& f) {
    if (f.line() == 0) f.set_line(node.line);
    throw;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const Node& node, const std::shared_ptr<Scope>& scope) {
  std::vector<Value> items = py::iterate(eval(*node.expr, scope));
  if (node.cond) {
    std::vector<Value> kept;
    for (auto& item : items) {
      count_iteration();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      assign(node.target, item, *probe);
      if (py::truthy(eval(*node.cond, probe))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(node.else_body, child(scope, node.else_starts_undefined));
    return Flow::Normal;
  }
  auto shared_items = std::make_shared<const std::vector<Value>>(std::move(items));
  auto loop = std::make_shared<Loop>(shared_items);
  const Value loop_value = Value::object(loop);
  // jinja2 runs the else block unless one iteration ran its body to the end (a break or a
  // continue before the end of every iteration leaves it to run).
  bool completed = false;
  for (size_t i = 0; i < shared_items->size(); ++i) {
    count_iteration();
    const auto inner = child(scope, node.starts_undefined);
    loop->set_index(i);
    inner->vars["loop"] = loop_value;
    assign(node.target, (*shared_items)[i], *inner);
    const Flow flow = exec_body(node.body, inner);
    if (flow == Flow::Normal) completed = true;
    if (flow == Flow::Break) break;
  }
  if (!completed && !node.else_body.empty())
    exec_body(node.else_body, child(scope, node.else_starts_undefined));
  return Flow::Normal;
}

void Interpreter::assign(const Target& target, const Value& value, Scope& scope) {
  switch (target.kind) {
    case Target::Kind::Name:
      scope.vars[target.name] = value;
      return;
    case Target::Kind::Tuple: {
      const std::vector<Value> parts = unpack(value, target.items.size());
      for (size_t i = 0; i < parts.size(); ++i) assign(target.items[i], parts[i], scope);
      return;
    }
    case Target::Kind::NamespaceAttr: {
      const Value ns = lookup(target.name, &scope);
      auto* n = ns.is_object() ? dynamic_cast<Namespace*>(&ns.as_object()) : nullptr;
      if (n == nullptr)
        throw Failure("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
      n->set(target.attr, value);
      return;
    }
  }
}

std::shared_ptr<Macro> Interpreter::make_macro(const Node& node, std::string name,
                                               const std::shared_ptr<Scope>& closure) {
  auto m = std::make_shared<Macro>(std::move(name), &node.params, &node.body,
                                   &node.starts_undefined, closure);
  macros_.push_back(m);
  return m;
}

Value Interpreter::call_macro(Macro& m, CallArgs args) {
  if (call_depth_ >= input_.limits.max_call_depth) {
    throw Failure("SandboxLimit", "macro calls nest deeper than max_call_depth (" +
                                      std::to_string(input_.limits.max_call_depth) + ")");
  }
  struct DepthGuard {
    explicit DepthGuard(int& d) : d(d) { ++d; }
    ~DepthGuard() { --d; }
    int& d;
  } guard(call_depth_);
  if (!m.closure_)
    throw Failure("TemplateRuntimeError", "macro '" + m.name_ + "' outlived its render");
  const auto scope = child(m.closure_, *m.starts_undefined_);
  const auto& params = *m.params_;
  Value caller = Value::undefined("No caller defined");
  if (m.uses_caller_) {
    for (auto it = args.keywords.begin(); it != args.keywords.end(); ++it) {
      if (it->first == "caller") {
        caller = it->second;
        args.keywords.erase(it);
        break;
      }
    }
  }
  if (args.positional.size() > params.size() && !m.uses_varargs_) {
    throw Failure("TypeError", "macro '" + m.name_ + "' takes not more than " +
                                   std::to_string(params.size()) + " argument(s)");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (i < args.positional.size()) {
      scope->vars[p.name] = args.positional[i];
      continue;
    }
    auto kw = std::find_if(args.keywords.begin(), args.keywords.end(),
                           [&](const auto& k) { return k.first == p.name; });
    if (kw != args.keywords.end()) {
      scope->vars[p.name] = kw->second;
      args.keywords.erase(kw);
    } else if (p.default_value) {
      scope->vars[p.name] = eval(*p.default_value, scope);
    } else {
      scope->vars[p.name] =
          Value::undefined("parameter " + py::string_repr(p.name) + " was not provided");
    }
  }
  if (m.uses_caller_) scope->vars["caller"] = caller;
  if (m.uses_varargs_) {
    std::vector<Value> extra;
    for (size_t i = params.size(); i < args.positional.size(); ++i)
      extra.push_back(args.positional[i]);
    scope->vars["varargs"] = Value::list(std::move(extra), ListKind::Tuple);
  }
  if (m.uses_kwargs_) {
    auto d = std::make_shared<Dict>();
    for (auto& [k, v] : args.keywords) d->set(Value::string(k), v);
    scope->vars["kwargs"] = Value::dict(std::move(d));
  } else if (!args.keywords.empty()) {
    if (args.keywords.front().first == "caller") {
      throw Failure(
          "TypeError",
          "macro '" + m.name_ +
              "' was invoked with two values for the special caller argument. This is most "
              "likely a bug.");
    }
    throw Failure("TypeError", "macro '" + m.name_ + "' takes no keyword argument '" +
                                   args.keywords.front().first + "'");
  }
  buffers_.emplace_back();
  try {
    exec_body(*m.body_, scope);
  } catch (...) {
    buffers_.pop_back();
    throw;
  }
  std::string text = std::move(buffers_.back());
  buffers_.pop_back();
  return Value::string(std::move(text));
}

Value Interpreter::lookup(const std::string& name, const Scope* scope) const {
  for (const Scope* s = scope; s != nullptr; s = s->parent.get()) {
    const auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  if (const auto it = input_.variables.find(name); it != input_.variables.end()) return it->second;
  if (const auto it = globals_.find(name); it != globals_.end()) return it->second;
  return Value::undefined(py::string_repr(name) + " is undefined");
}

Value Interpreter::call(const Value& callee, CallArgs args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.is_object() && callee.as_object().callable())
    return callee.as_object().call(*this, std::move(args));
  throw Failure("TypeError", "'" + py::type_name(callee) + "' object is not callable");
}

Value Interpreter::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_object()) {
    if (name.rfind("_", 0) == 0) return unsafe_attribute(obj, name);
    return obj.as_object().attribute(name);
  }
  Value method;
  bool unsafe = false;
  if (python_attribute(*this, obj, name, method, unsafe))
    return unsafe ? unsafe_attribute(obj, name) : method;
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  }
  if (name.rfind("__", 0) == 0) return unsafe_attribute(obj, name);
  return missing_attribute(obj, name);
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  switch (obj.kind()) {
    case Kind::Dict: {
      bool hashable = true;
      try {
        py::check_hashable(key);
      } catch (const Failure&) {
        hashable = false;
      }
      if (hashable) {
        if (const Value* v = obj.as_dict().find(key)) return *v;
      }
      break;
    }
    case Kind::List: {
      const List& l = obj.as_list();
      const bool subscriptable =
          l.kind == ListKind::List || l.kind == ListKind::Tuple || l.kind == ListKind::Range;
      if (subscriptable && (key.is_int() || key.is_bool())) {
        int64_t i = key.to_int();
        const auto n = static_cast<int64_t>(l.items.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return l.items[static_cast<size_t>(i)];
      }
      break;
    }
    case Kind::String:
      if (key.is_int() || key.is_bool()) {
        const auto cps = py::code_points(obj.as_string());
        int64_t i = key.to_int();
        const auto n = static_cast<int64_t>(cps.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n)
          return Value::string(
              py::from_code_points(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    const std::string& name = key.as_string();
    if (obj.is_object()) {
      if (name.rfind("_", 0) == 0) return unsafe_attribute(obj, name);
      return obj.as_object().attribute(name);
    }
    Value method;
    bool unsafe = false;
    if (python_attribute(*this, obj, name, method, unsafe))
      return unsafe ? unsafe_attribute(obj, name) : method;
    if (name.rfind("__", 0) == 0) return unsafe_attribute(obj, name);
    return missing_attribute(obj, name);
  }
  return Value::undefined(py::object_type_repr(obj) + " has no element " + py::repr(key));
}

Value Interpreter::slice(const Value& obj, const Expr& s, const std::shared_ptr<Scope>& scope) {
  Value parts[3];
  for (int i = 0; i < 3; ++i)
    parts[i] = s.args[static_cast<size_t>(i)] ? eval(*s.args[static_cast<size_t>(i)], scope)
                                              : Value::none();
  if (obj.is_undefined()) fail_undefined(obj);
  // Slices bypass the sandbox's getitem (jinja2 compiles them to a Python subscription), so a
  // wrong slice is Python's TypeError, not an Undefined.
  const bool sliceable =
      obj.is_string() || (obj.is_list() && (obj.as_list().kind == ListKind::List ||
                                            obj.as_list().kind == ListKind::Tuple ||
                                            obj.as_list().kind == ListKind::Range));
  if (obj.is_dict()) throw Failure("TypeError", "unhashable type: 'slice'");
  if (!sliceable)
    throw Failure("TypeError", "'" + py::type_name(obj) + "' object is not subscriptable");
  const std::optional<int64_t> b = slice_part(parts[0]), e = slice_part(parts[1]),
                               st = slice_part(parts[2]);
  if (obj.is_string()) {
    const auto cps = py::code_points(obj.as_string());
    std::vector<uint32_t> picked;
    for (size_t i : py::slice_indices(cps.size(), b, e, st)) picked.push_back(cps[i]);
    return Value::string(py::from_code_points(picked, 0, picked.size()));
  }
  const List& l = obj.as_list();
  std::vector<Value> items;
  for (size_t i : py::slice_indices(l.items.size(), b, e, st)) items.push_back(l.items[i]);
  if (l.kind == ListKind::Range) {
    const int64_t step = l.range_step * st.value_or(1);
    const int64_t start = items.empty() ? l.range_start : items.front().as_int();
    const int64_t stop = start + static_cast<int64_t>(items.size()) * step;
    return Value::range(start, stop, step, std::move(items));
  }
  return Value::list(std::move(items), l.kind);
}

Value Interpreter::apply_filter(const std::string& name, const Value& input, CallArgs args) {
  const Filter f = find_filter(name);
  if (f == nullptr) {
    if (is_unsupported_filter(name))
      throw Failure("TemplateRuntimeError", "the filter '" + name + "' is not supported");
    throw Failure("TemplateRuntimeError", "No filter named '" + name + "' found.");
  }
  return f(*this, input, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& input, CallArgs args) {
  const Test t = find_test(name);
  if (t == nullptr) throw Failure("TemplateRuntimeError", "No test named '" + name + "' found.");
  const size_t given = args.positional.size() + args.keywords.size();
  if (!test_takes_argument(name) && given > 0) {
    throw Failure("TypeError", "test_" + name + "() takes 1 positional argument but " +
                                   std::to_string(given + 1) + " were given");
  }
  return t(*this, input, args);
}

CallArgs Interpreter::eval_args(const Expr& e, const std::shared_ptr<Scope>& scope, size_t first) {
  CallArgs args;
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], scope));
  for (const auto& [k, v] : e.kwargs) args.keywords.emplace_back(k, eval(*v, scope));
  return args;
}

Value Interpreter::eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope,
                               const Value* block_text) {
  // A filter chain over a block's text: the innermost filter's subject is the text.
  Value input = e.args[0] ? (e.args[0]->kind == Expr::Kind::Filter
                                 ? eval_filter(*e.args[0], scope, block_text)
                                 : eval(*e.args[0], scope))
                          : *block_text;
  return apply_filter(e.name, input, eval_args(e, scope, 1));
}

std::optional<Value> Interpreter::try_constant(const Expr& e, const std::shared_ptr<Scope>& scope) {
  if (!e.maybe_constant) return std::nullopt;
  struct Mode {
    explicit Mode(int& m) : m(m) { ++m; }
    ~Mode() { --m; }
    int& m;
  } mode(const_mode_);
  try {
    return eval_inner(e, scope);
  } catch (const NotConstant&) {
  } catch (const Failure&) {
  }
  return std::nullopt;
}

Value Interpreter::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  if (const_mode_ > 0) {
    if (!e.maybe_constant) throw NotConstant{};
    return eval_inner(e, scope);
  }
  // jinja2's optimizer computes a constant subexpression when it compiles the template, and
  // keeps the value if it is one it can write into the compiled code.
  if (const auto v = try_constant(e, scope); v && safe_constant(*v)) return *v;
  try {
    return eval_inner(e, scope);
  } catch (Failure& f) {
    if (f.line() == 0) f.set_line(e.line);
    throw;
  }
}

void Interpreter::output(const Expr& e, const std::shared_ptr<Scope>& scope) {
  // A constant {{ }} is printed as jinja2 computed it when compiling, whatever it is.
  if (const auto v = try_constant(e, scope)) {
    write(py::str(*v));
    return;
  }
  write(py::str(eval(e, scope)));
}

Value Interpreter::eval_compare(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value left = eval(*e.args[0], scope);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.args[i + 1], scope);
    const std::string& op = e.ops[i];
    bool ok;
    if (op == "==") {
      ok = py::equals(left, right);
    } else if (op == "!=") {
      ok = !py::equals(left, right);
    } else if (op == "in") {
      ok = py::contains(right, left);
    } else if (op == "notin") {
      ok = !py::contains(right, left);
    } else {
      ok = py::compare(left, right, op);
    }
    if (!ok) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interpreter::eval_inner(const Expr& e, const std::shared_ptr<Scope>& scope) {
  switch (e.kind) {
    case Expr::Kind::Const:
      return e.constant;
    case Expr::Kind::Name:
      return lookup(e.name, scope.get());
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return Value::list(std::move(items),
                         e.kind == Expr::Kind::List ? ListKind::List : ListKind::Tuple);
    }
    case Expr::Kind::Dict: {
      auto d = std::make_shared<Dict>();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        py::check_hashable(k);
        d->set(k, eval(*e.args[i + 1], scope));
      }
      return Value::dict(std::move(d));
    }
    case Expr::Kind::GetAttr:
      return getattr(eval(*e.args[0], scope), e.name);
    case Expr::Kind::GetItem: {
      const Value obj = eval(*e.args[0], scope);
      if (e.args[1]->kind == Expr::Kind::Slice) {
        if (const_mode_ == 0) return slice(obj, *e.args[1], scope);
        // At compile time jinja2 slices through the sandbox's getitem: a wrong slice is Undefined.
        try {
          return slice(obj, *e.args[1], scope);
        } catch (const Failure& f) {
          if (f.kind() != "TypeError") throw;
          return Value::undefined(py::object_type_repr(obj) + " has no element slice");
        }
      }
      return getitem(obj, eval(*e.args[1], scope));
    }
    case Expr::Kind::Slice:
      throw Failure("TemplateSyntaxError", "a slice outside of []");
    case Expr::Kind::Call: {
      const Value callee = eval(*e.args[0], scope);
      return call(callee, eval_args(e, scope, 1));
    }
    case Expr::Kind::Filter:
      return eval_filter(e, scope, nullptr);
    case Expr::Kind::Test: {
      const Value subject = eval(*e.args[0], scope);
      return Value::boolean(apply_test(e.name, subject, eval_args(e, scope, 1)));
    }
    case Expr::Kind::Not:
      return Value::boolean(!py::truthy(eval(*e.args[0], scope)));
    case Expr::Kind::Neg:
      return py::negate(eval(*e.args[0], scope));
    case Expr::Kind::Pos:
      return py::positive(eval(*e.args[0], scope));
    case Expr::Kind::Binary: {
      const Value l = eval(*e.args[0], scope);
      const Value r = eval(*e.args[1], scope);
      return py::binary(e.name, l, r, input_.limits.max_output_bytes);
    }
    case Expr::Kind::Compare:
      return eval_compare(e, scope);
    case Expr::Kind::And: {
      Value l = eval(*e.args[0], scope);
      if (!py::truthy(l)) return l;
      return eval(*e.args[1], scope);
    }
    case Expr::Kind::Or: {
      Value l = eval(*e.args[0], scope);
      if (py::truthy(l)) return l;
      return eval(*e.args[1], scope);
    }
    case Expr::Kind::Cond:
      if (py::truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    case Expr::Kind::Concat: {
      std::string out;
      for (const auto& a : e.args) {
        out += py::str(eval(*a, scope));
        if (out.size() > input_.limits.max_output_bytes) {
          throw Failure("SandboxLimit", "a string exceeds max_output_bytes (" +
                                            std::to_string(input_.limits.max_output_bytes) +
                                            " bytes)");
        }
      }
      return Value::string(std::move(out));
    }
  }
  return Value();
}

}  // namespace volt::jinja

// The syntax tree the parser builds and the interpreter walks: expressions (jinja2's Expr nodes)
// and statements (its Stmt nodes), each with the template line it starts on.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "value.h"

namespace volt::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Const,    // constant
    Name,     // name
    List,     // args: items
    Tuple,    // args: items
    Dict,     // args: key, value, key, value, ...
    GetAttr,  // args[0].name
    GetItem,  // args[0][args[1]]
    Slice,    // args: start, stop, step (each may be null); only as GetItem's index
    Call,     // args[0](args[1:], kwargs)
    Filter,   // args[0] | name(args[1:], kwargs); args[0] is null in filter blocks
    Test,     // args[0] is name(args[1:], kwargs)
    Not,      // not args[0]
    Neg,      // -args[0]
    Pos,      // +args[0]
    Binary,   // args[0] name args[1], name one of + - * / // % **
    Compare,  // args[0] ops[0] args[1] ops[1] args[2] ... (chained, as Python)
    And,      // args[0] and args[1]
    Or,       // args[0] or args[1]
    Cond,     // args[1] if args[0] else args[2] (args[2] may be null: Undefined)
    Concat,   // args joined with ~
  };
  Kind kind;
  int line = 0;
  Value constant;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  // Whether jinja2's optimizer may compute this when it compiles the template (no names, no
  // calls, no filters that need the render; for `and`, `or` and `if`, what decides does not
  // either). The interpreter tries so, with jinja2's compile-time rules (constant.h).
  bool maybe_constant = false;

  Expr(Kind k, int l) : kind(k), line(l) {}
};

/// What {% set %}, {% for %} and {% with %} assign to: a name, a tuple of targets, or a
/// namespace attribute (ns.attr).
struct Target {
  enum class Kind { Name, Tuple, NamespaceAttr };
  Kind kind = Kind::Name;
  std::string name;  // Name; the namespace's name for NamespaceAttr
  std::string attr;  // NamespaceAttr
  std::vector<Target> items;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Param {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Node {
  enum class Kind {
    Text,         // text
    Output,       // {{ expr }}
    If,           // if expr: body, else else_body (elif chains nest an If in else_body)
    For,          // for target in expr [if cond]: body, else else_body
    Set,          // set target = expr
    SetBlock,     // set target [| expr filters]: body
    Macro,        // macro name(params): body
    CallBlock,    // call(params) expr: body  (expr is the Call)
    FilterBlock,  // filter expr: body
    With,         // with targets = values: body
    Break,
    Continue,
    Generation,  // transformers' {% generation %}: body, its output marked as assistant text
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  Target target;
  std::vector<Target> targets;  // With
  std::vector<ExprPtr> values;  // With
  std::string name;             // Macro
  std::vector<Param> params;    // Macro, CallBlock
  Body body;
  Body else_body;
  bool is_elif = false;  // an If the parser made from {% elif %}
  // The names the frame this node opens (For: its body) binds to Undefined when it starts:
  // jinja2 makes a name assigned in a frame before anything there reads it that frame's own
  // variable from the frame's start, so nested blocks that run before the assignment see it
  // undefined (symbols.cpp).
  std::vector<std::string> starts_undefined;
  std::vector<std::string> else_starts_undefined;  // For: its else block

  Node(Kind k, int l) : kind(k), line(l) {}
};

/// A parsed template; macros point into it, so it outlives every render.
struct Program {
  Body body;
  bool has_generation = false;  // the template marks assistant text with {% generation %}
  std::vector<std::string> starts_undefined;  // the template's top level, as Node's
};

}  // namespace volt::jinja

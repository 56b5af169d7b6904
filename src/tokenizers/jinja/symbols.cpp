// jinja2 decides at compile time which frame (the top level, a loop body, a macro, a block that
// captures output) each name belongs to (its idtracking.py), and one rule of it shows in what
// templates render: a name the frame assigns before anything in the frame itself reads it is
// the frame's own variable from the frame's start, undefined until the assignment runs. So
//   {% for m in messages %}{{ t }}{% endfor %}{% set t = 1 %}
// prints nothing in the loop even when the render passes a `t`. This walks each frame's
// statements as jinja2's symbol visitor does and records those names (Node::starts_undefined);
// every other lookup volt does at run time, through the scope chain, gives what jinja2 gives.
#include <functional>
#include <map>
#include <set>

#include "parser.h"

namespace volt::jinja {
namespace {

enum class Load { Resolve, Alias, Undefined, Param };

struct Symbols {
  const Symbols* parent = nullptr;
  std::map<std::string, Load> refs;
  std::set<std::string> stores;

  bool find(const std::string& name) const {
    for (const Symbols* s = this; s != nullptr; s = s->parent) {
      if (s->refs.count(name)) return true;
    }
    return false;
  }
  void load(const std::string& name) {
    if (!find(name)) refs[name] = Load::Resolve;
  }
  void store(const std::string& name) {
    stores.insert(name);
    if (refs.count(name)) return;
    refs[name] = parent != nullptr && parent->find(name) ? Load::Alias : Load::Undefined;
  }
  void param(const std::string& name) {
    stores.insert(name);
    refs[name] = Load::Param;
  }
  std::vector<std::string> undefined_names() const {
    std::vector<std::string> out;
    for (const auto& [name, load] : refs) {
      if (load == Load::Undefined) out.push_back(name);
    }
    return out;
  }
};

// Child frames are resolved after their parent frame has seen all of its own statements (as
// jinja2 analyzes a frame before it compiles the frames inside it).
using Pending = std::vector<std::function<void(const Symbols&)>>;

void visit_body(const Body& body, Symbols& sym, Pending& pending);
std::vector<std::string> resolve_frame(const Body& body, const Symbols* parent,
                                       const std::function<void(Symbols&)>& bind);

void visit_expr(const Expr& e, Symbols& sym) {
  if (e.kind == Expr::Kind::Name) sym.load(e.name);
  for (const auto& a : e.args) {
    if (a) visit_expr(*a, sym);
  }
  for (const auto& kw : e.kwargs) visit_expr(*kw.second, sym);
}

void visit_target(const Target& t, Symbols& sym) {
  switch (t.kind) {
    case Target::Kind::Name:
      sym.store(t.name);
      return;
    case Target::Kind::Tuple:
      for (const auto& item : t.items) visit_target(item, sym);
      return;
    case Target::Kind::NamespaceAttr:
      sym.load(t.name);
      return;
  }
}

void param_target(const Target& t, Symbols& sym) {
  if (t.kind == Target::Kind::Name) sym.param(t.name);
  for (const auto& item : t.items) param_target(item, sym);
}

// A frame of its own: `bind` declares what it starts with (parameters), then its body; the
// frames inside it come after.
std::vector<std::string> resolve_frame(const Body& body, const Symbols* parent,
                                       const std::function<void(Symbols&)>& bind) {
  Symbols sym;
  sym.parent = parent;
  bind(sym);
  Pending pending;
  visit_body(body, sym, pending);
  for (auto& p : pending) p(sym);
  return sym.undefined_names();
}

// Resolves `out` as a child frame of whatever frame is being visited, once that frame is done.
void child_frame(Pending& pending, std::vector<std::string>* out, const Body* body,
                 std::function<void(Symbols&)> bind) {
  pending.push_back(
      [out, body, bind](const Symbols& parent) { *out = resolve_frame(*body, &parent, bind); });
}

void visit_node(Node& n, Symbols& sym, Pending& pending);

// jinja2's branch_update: what one or two branches assign (but not all three: body, elifs,
// else) is read from the enclosing frame or the render's variables, not undefined.
void visit_if(Node& n, Symbols& sym, Pending& pending) {
  visit_expr(*n.expr, sym);
  // The elif chain and the final else, as jinja2's If node holds them.
  std::vector<Node*> elifs;
  Body* else_body = &n.else_body;
  while (else_body->size() == 1 && (*else_body)[0]->kind == Node::Kind::If &&
         (*else_body)[0]->is_elif) {
    elifs.push_back((*else_body)[0].get());
    else_body = &(*else_body)[0]->else_body;
  }
  const auto visit_copy = [&](auto visit) {
    Symbols copy = sym;
    visit(copy);
    return copy;
  };
  std::vector<Symbols> branches;
  branches.push_back(visit_copy([&](Symbols& s) {
    for (auto& c : n.body) visit_node(*c, s, pending);
  }));
  branches.push_back(visit_copy([&](Symbols& s) {
    for (Node* e : elifs) {
      // Each elif is an If of its own with no elif or else.
      visit_expr(*e->expr, s);
      Symbols body = s;
      for (auto& c : e->body) visit_node(*c, body, pending);
      std::map<std::string, int> counts;
      for (const auto& name : body.stores) {
        if (!s.stores.count(name)) ++counts[name];
      }
      for (const auto& [name, load] : body.refs) s.refs[name] = load;
      s.stores.insert(body.stores.begin(), body.stores.end());
      for (const auto& [name, count] : counts) {
        s.refs[name] = s.parent != nullptr && s.parent->find(name) ? Load::Alias : Load::Resolve;
      }
    }
  }));
  branches.push_back(visit_copy([&](Symbols& s) {
    for (auto& c : *else_body) visit_node(*c, s, pending);
  }));
  std::map<std::string, int> counts;
  for (const auto& b : branches) {
    for (const auto& name : b.stores) {
      if (!sym.stores.count(name)) ++counts[name];
    }
  }
  for (const auto& b : branches) {
    for (const auto& [name, load] : b.refs) sym.refs[name] = load;
    sym.stores.insert(b.stores.begin(), b.stores.end());
  }
  for (const auto& [name, count] : counts) {
    if (count == static_cast<int>(branches.size())) continue;
    sym.refs[name] = sym.parent != nullptr && sym.parent->find(name) ? Load::Alias : Load::Resolve;
  }
}

void visit_node(Node& n, Symbols& sym, Pending& pending) {
  switch (n.kind) {
    case Node::Kind::Text:
    case Node::Kind::Break:
    case Node::Kind::Continue:
      return;
    case Node::Kind::Output:
      visit_expr(*n.expr, sym);
      return;
    case Node::Kind::If:
      visit_if(n, sym, pending);
      return;
    case Node::Kind::For:
      visit_expr(*n.expr, sym);
      child_frame(pending, &n.starts_undefined, &n.body,
                  [&n](Symbols& s) { param_target(n.target, s); });
      child_frame(pending, &n.else_starts_undefined, &n.else_body, [](Symbols&) {});
      return;
    case Node::Kind::Set:
      visit_expr(*n.expr, sym);
      visit_target(n.target, sym);
      return;
    case Node::Kind::SetBlock:
      visit_target(n.target, sym);
      child_frame(pending, &n.starts_undefined, &n.body, [](Symbols&) {});
      return;
    case Node::Kind::Macro:
      sym.store(n.name);
      child_frame(pending, &n.starts_undefined, &n.body, [&n](Symbols& s) {
        for (const auto& p : n.params) s.param(p.name);
        for (const auto& p : n.params) {
          if (p.default_value) visit_expr(*p.default_value, s);
        }
      });
      return;
    case Node::Kind::CallBlock:
      visit_expr(*n.expr, sym);
      child_frame(pending, &n.starts_undefined, &n.body, [&n](Symbols& s) {
        for (const auto& p : n.params) s.param(p.name);
      });
      return;
    case Node::Kind::FilterBlock:
      visit_expr(*n.expr, sym);
      child_frame(pending, &n.starts_undefined, &n.body, [](Symbols&) {});
      return;
    case Node::Kind::With:
      for (const auto& v : n.values) visit_expr(*v, sym);
      child_frame(pending, &n.starts_undefined, &n.body, [&n](Symbols& s) {
        for (const auto& t : n.targets) visit_target(t, s);
      });
      return;
    case Node::Kind::Generation:
      child_frame(pending, &n.starts_undefined, &n.body, [](Symbols&) {});
      return;
  }
}

void visit_body(const Body& body, Symbols& sym, Pending& pending) {
  for (const auto& n : body) visit_node(*n, sym, pending);
}

}  // namespace

void resolve_frames(Program& program) {
  program.starts_undefined = resolve_frame(program.body, nullptr, [](Symbols&) {});
}

}  // namespace volt::jinja

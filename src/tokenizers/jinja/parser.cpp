#include "parser.h"

#include <algorithm>
#include <set>

#include "lexer.h"

namespace volt::jinja {
namespace {

// How deep expressions and blocks may nest (jinja2, being Python, gives up near 75 levels of
// parentheses); deeper input is an error rather than a stack overflow.
constexpr int kMaxParseDepth = 200;

// Sets Expr::maybe_constant on e and everything in it.
bool mark_constants(Expr& e) {
  bool children = true;
  for (auto& a : e.args) {
    if (a && !mark_constants(*a)) children = false;
  }
  for (auto& kw : e.kwargs) {
    if (!mark_constants(*kw.second)) children = false;
  }
  switch (e.kind) {
    case Expr::Kind::Const:
      e.maybe_constant = true;
      break;
    case Expr::Kind::Name:
    case Expr::Kind::Call:
      e.maybe_constant = false;
      break;
    case Expr::Kind::And:
    case Expr::Kind::Or:
    case Expr::Kind::Cond:
      // Only what decides has to be constant: the branch it picks is tried when it runs.
      e.maybe_constant = e.args[0]->maybe_constant;
      break;
    case Expr::Kind::Filter:
      e.maybe_constant = children && e.args[0] && has_filter(e.name) && e.name != "map" &&
                         e.name != "select" && e.name != "reject" && e.name != "selectattr" &&
                         e.name != "rejectattr";
      break;
    case Expr::Kind::Test:
      e.maybe_constant = children && has_test(e.name);
      break;
    default:
      e.maybe_constant = children;
  }
  return e.maybe_constant;
}

void mark_constants(Body& body) {
  for (auto& n : body) {
    for (Expr* e : {n->expr.get(), n->cond.get()}) {
      if (e) mark_constants(*e);
    }
    for (auto& v : n->values) mark_constants(*v);
    for (auto& p : n->params) {
      if (p.default_value) mark_constants(*p.default_value);
    }
    mark_constants(n->body);
    mark_constants(n->else_body);
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::shared_ptr<const Program> run() {
    auto program = std::make_shared<Program>();
    program->body = subparse({});
    if (current().type != TokenType::Eof) fail("unexpected " + quoted(current()));
    program->has_generation = has_generation_;
    mark_constants(program->body);
    resolve_frames(*program);
    return program;
  }

 private:
  // ---- the token stream ----
  const Token& current() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op) const {
    return current().type == TokenType::Operator && current().value == op;
  }
  bool is_name(const char* name) const {
    return current().type == TokenType::Name && current().value == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  static std::string quoted(const Token& t) { return "'" + describe(t) + "'"; }

  [[noreturn]] void fail(const std::string& message, int line = 0) const {
    throw Failure("TemplateSyntaxError", message, line != 0 ? line : current().line);
  }
  [[noreturn]] void fail_expected(const std::string& what) const {
    if (current().type == TokenType::Eof)
      fail("unexpected end of template, expected '" + what + "'.");
    fail("expected token '" + what + "', got " + quoted(current()));
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail_expected(op);
  }
  void expect_type(TokenType type, const char* what) {
    if (current().type != type) fail_expected(what);
    next();
  }
  const Token& expect_name() {
    if (current().type != TokenType::Name) fail_expected("name");
    return next();
  }
  void expect_name(const char* name) {
    if (!skip_name(name)) fail_expected(name);
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p(p) {
      if (++p.depth_ > kMaxParseDepth) {
        p.fail("the template nests deeper than " + std::to_string(kMaxParseDepth) + " levels");
      }
    }
    ~DepthGuard() { --p.depth_; }
    Parser& p;
  };

  // jinja2's compiler checks filter and test names, except inside {% if %} and conditional
  // expressions ("soft" frames), where an unknown one fails only if it runs.
  struct Frame {
    bool soft;
    int loops;
  };
  struct FrameScope {
    FrameScope(Parser& p, Frame f) : p(p), saved(p.frame_) { p.frame_ = f; }
    ~FrameScope() { p.frame_ = saved; }
    Parser& p;
    Frame saved;
  };

  // ---- statements ----
  Body subparse(const std::set<std::string>& end_tokens) {
    Body body;
    while (current().type != TokenType::Eof) {
      const Token& t = current();
      if (t.type == TokenType::Data) {
        auto n = std::make_unique<Node>(Node::Kind::Text, t.line);
        n->text = t.value;
        body.push_back(std::move(n));
        next();
      } else if (t.type == TokenType::VariableBegin) {
        next();
        auto n = std::make_unique<Node>(Node::Kind::Output, t.line);
        n->expr = parse_tuple(true, {}, false);
        expect_type(TokenType::VariableEnd, "end of print statement");
        body.push_back(std::move(n));
      } else if (t.type == TokenType::BlockBegin) {
        next();
        if (current().type == TokenType::Name && end_tokens.count(current().value)) return body;
        body.push_back(parse_statement());
        expect_type(TokenType::BlockEnd, "end of statement block");
      } else {
        fail("unexpected " + quoted(t));
      }
    }
    return body;
  }

  // The statements up to one of end_tokens (left as the current token unless drop_needle).
  Body parse_statements(const std::set<std::string>& end_tokens, const std::string& innermost,
                        bool drop_needle = false) {
    DepthGuard guard(*this);
    skip_op(":");
    expect_type(TokenType::BlockEnd, "end of statement block");
    Body body = subparse(end_tokens);
    if (current().type == TokenType::Eof) {
      std::string wanted;
      for (const auto& e : end_tokens) wanted += (wanted.empty() ? "'" : " or '") + e + "'";
      fail("Unexpected end of template. Jinja was looking for the following tags: " + wanted +
           ". The innermost block that needs to be closed is '" + innermost + "'.");
    }
    if (drop_needle) next();
    return body;
  }

  NodePtr parse_statement() {
    const Token& t = current();
    if (t.type != TokenType::Name) fail("tag name expected");
    const std::string tag = t.value;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "print") return parse_print();
    if (tag == "generation") return parse_generation();
    if (tag == "break" || tag == "continue") {
      if (frame_.loops == 0) fail("'" + tag + "' outside loop");
      next();
      return std::make_unique<Node>(tag == "break" ? Node::Kind::Break : Node::Kind::Continue,
                                    t.line);
    }
    if (tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
        tag == "block") {
      fail("'{% " + tag +
           " %}' is not supported: a chat template renders on its own, without a loader");
    }
    if (tag == "autoescape")
      fail("'{% autoescape %}' is not supported (transformers renders without autoescaping)");
    fail("Encountered unknown tag '" + tag + "'.");
  }

  NodePtr parse_if() {
    auto result = std::make_unique<Node>(Node::Kind::If, next().line);
    FrameScope soft(*this, {true, frame_.loops});
    Node* node = result.get();
    while (true) {
      node->expr = parse_tuple(false, {}, false);
      node->body = parse_statements({"elif", "else", "endif"}, "if");
      const Token& t = next();
      if (t.value == "elif") {
        auto elif = std::make_unique<Node>(Node::Kind::If, current().line);
        elif->is_elif = true;
        Node* raw = elif.get();
        node->else_body.push_back(std::move(elif));
        node = raw;
        continue;
      }
      if (t.value == "else") node->else_body = parse_statements({"endif"}, "if", true);
      break;
    }
    return result;
  }

  NodePtr parse_for() {
    auto node = std::make_unique<Node>(Node::Kind::For, next().line);
    node->target = parse_assign_target(false, {"in"});
    expect_name("in");
    node->expr = parse_tuple(false, {"recursive"}, false);
    if (skip_name("if")) {
      FrameScope inner(*this, {false, frame_.loops + 1});
      node->cond = parse_expression(true);
    }
    if (is_name("recursive")) fail("recursive loops ('for ... recursive') are not supported");
    {
      FrameScope inner(*this, {false, frame_.loops + 1});
      node->body = parse_statements({"endfor", "else"}, "for");
    }
    if (next().value == "else") {
      FrameScope inner(*this, {false, frame_.loops});
      node->else_body = parse_statements({"endfor"}, "for", true);
    }
    return node;
  }

  NodePtr parse_set() {
    const int line = next().line;
    Target target = parse_assign_target(true, {});
    if (skip_op("=")) {
      auto node = std::make_unique<Node>(Node::Kind::Set, line);
      node->target = std::move(target);
      node->expr = parse_tuple(true, {}, false);
      return node;
    }
    auto node = std::make_unique<Node>(Node::Kind::SetBlock, line);
    node->target = std::move(target);
    FrameScope inner(*this, {false, frame_.loops});
    if (is_op("|")) node->expr = parse_filter(nullptr, false);
    node->body = parse_statements({"endset"}, "set", true);
    return node;
  }

  std::vector<Param> parse_signature() {
    std::vector<Param> params;
    expect_op("(");
    bool defaults = false;
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      Param p;
      p.name = expect_name().value;
      check_assignable_name(p.name);
      if (skip_op("=")) {
        p.default_value = parse_expression(true);
        defaults = true;
      } else if (defaults) {
        fail("non-default argument follows default argument");
      }
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  NodePtr parse_macro() {
    auto node = std::make_unique<Node>(Node::Kind::Macro, next().line);
    node->name = expect_name().value;
    check_assignable_name(node->name);
    FrameScope inner(*this, {false, 0});
    node->params = parse_signature();
    node->body = parse_statements({"endmacro"}, "macro", true);
    return node;
  }

  NodePtr parse_call_block() {
    auto node = std::make_unique<Node>(Node::Kind::CallBlock, next().line);
    FrameScope inner(*this, {false, 0});
    if (is_op("(")) node->params = parse_signature();
    node->expr = parse_expression(true);
    if (node->expr->kind != Expr::Kind::Call) fail("expected call", node->line);
    node->body = parse_statements({"endcall"}, "call", true);
    return node;
  }

  NodePtr parse_filter_block() {
    auto node = std::make_unique<Node>(Node::Kind::FilterBlock, next().line);
    FrameScope inner(*this, {false, frame_.loops});
    node->expr = parse_filter(nullptr, true);
    node->body = parse_statements({"endfilter"}, "filter", true);
    return node;
  }

  NodePtr parse_with() {
    auto node = std::make_unique<Node>(Node::Kind::With, next().line);
    while (current().type != TokenType::BlockEnd) {
      if (!node->targets.empty()) expect_op(",");
      node->targets.push_back(parse_assign_target(false, {}));
      expect_op("=");
      node->values.push_back(parse_expression(true));
    }
    FrameScope inner(*this, {false, frame_.loops});
    node->body = parse_statements({"endwith"}, "with", true);
    return node;
  }

  NodePtr parse_print() {
    const int line = next().line;
    auto node = std::make_unique<Node>(Node::Kind::Output, line);
    auto tuple = std::make_unique<Expr>(Expr::Kind::Tuple, line);
    while (current().type != TokenType::BlockEnd && current().type != TokenType::Eof) {
      if (!tuple->args.empty()) expect_op(",");
      tuple->args.push_back(parse_expression(true));
    }
    // {% print a, b %} prints each expression in turn; a Tuple of one prints its element.
    node->expr = std::move(tuple);
    node->name = "print";
    return node;
  }

  NodePtr parse_generation() {
    auto node = std::make_unique<Node>(Node::Kind::Generation, next().line);
    has_generation_ = true;
    FrameScope inner(*this, {false, 0});
    node->body = parse_statements({"endgeneration"}, "generation", true);
    return node;
  }

  void check_assignable_name(const std::string& name) {
    static const std::set<std::string> constants = {"true", "false", "none",
                                                    "True", "False", "None"};
    if (constants.count(name)) fail("can't assign to 'const'");
  }

  // A name, a (possibly parenthesized) tuple of targets, or with_namespace: name.attr.
  Target parse_assign_target(bool with_namespace, const std::set<std::string>& extra_end) {
    Target t;
    if (with_namespace && current().type == TokenType::Name && look().type == TokenType::Operator &&
        look().value == ".") {
      t.kind = Target::Kind::NamespaceAttr;
      t.name = next().value;
      next();
      t.attr = expect_name().value;
      return t;
    }
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(parse_target_primary());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (items.empty()) fail("expected an expression, got " + quoted(current()));
      return std::move(items[0]);
    }
    t.kind = Target::Kind::Tuple;
    t.items = std::move(items);
    return t;
  }

  Target parse_target_primary() {
    if (current().type == TokenType::Name) {
      Target t;
      t.name = next().value;
      check_assignable_name(t.name);
      return t;
    }
    if (skip_op("(")) {
      Target t = parse_assign_target(false, {});
      expect_op(")");
      return t;
    }
    fail("can't assign to " + quoted(current()));
  }

  // ---- expressions ----
  bool is_tuple_end(const std::set<std::string>& extra_end) const {
    const Token& t = current();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd ||
        t.type == TokenType::Eof)
      return true;
    if (t.type == TokenType::Operator && t.value == ")") return true;
    return t.type == TokenType::Name && extra_end.count(t.value) > 0;
  }

  // Expressions separated by commas: one expression, or a Tuple.
  ExprPtr parse_tuple(bool with_condexpr, const std::set<std::string>& extra_end,
                      bool explicit_parens) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail("Expected an expression, got " + quoted(current()));
    }
    auto t = std::make_unique<Expr>(Expr::Kind::Tuple, line);
    t->args = std::move(items);
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    int line = current().line;
    ExprPtr expr1 = parse_or();
    while (skip_name("if")) {
      FrameScope soft(*this, {true, frame_.loops});
      ExprPtr expr2 = parse_or();
      ExprPtr expr3;
      if (skip_name("else")) expr3 = parse_condexpr();
      auto c = std::make_unique<Expr>(Expr::Kind::Cond, line);
      c->args.push_back(std::move(expr2));
      c->args.push_back(std::move(expr1));
      c->args.push_back(std::move(expr3));
      expr1 = std::move(c);
      line = current().line;
    }
    return expr1;
  }

  ExprPtr binary_node(Expr::Kind kind, ExprPtr l, ExprPtr r, int line, std::string name = "") {
    auto e = std::make_unique<Expr>(kind, line);
    e->name = std::move(name);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    const int line = current().line;
    ExprPtr left = parse_and();
    while (skip_name("or")) left = binary_node(Expr::Kind::Or, std::move(left), parse_and(), line);
    return left;
  }

  ExprPtr parse_and() {
    const int line = current().line;
    ExprPtr left = parse_not();
    while (skip_name("and"))
      left = binary_node(Expr::Kind::And, std::move(left), parse_not(), line);
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      const int line = next().line;
      DepthGuard guard(*this);
      auto e = std::make_unique<Expr>(Expr::Kind::Not, line);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    ExprPtr expr = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      const Token& t = current();
      if (t.type == TokenType::Operator && (t.value == "==" || t.value == "!=" || t.value == "<" ||
                                            t.value == "<=" || t.value == ">" || t.value == ">=")) {
        ops.push_back(next().value);
      } else if (skip_name("in")) {
        ops.push_back("in");
      } else if (is_name("not") && look().type == TokenType::Name && look().value == "in") {
        next();
        next();
        ops.push_back("notin");
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return expr;
    auto e = std::make_unique<Expr>(Expr::Kind::Compare, line);
    e->args.push_back(std::move(expr));
    for (auto& o : operands) e->args.push_back(std::move(o));
    e->ops = std::move(ops);
    return e;
  }

  ExprPtr parse_math1() {
    const int line = current().line;
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = next().value;
      left = binary_node(Expr::Kind::Binary, std::move(left), parse_concat(), line, op);
    }
    return left;
  }

  ExprPtr parse_concat() {
    const int line = current().line;
    std::vector<ExprPtr> args;
    args.push_back(parse_math2());
    while (skip_op("~")) args.push_back(parse_math2());
    if (args.size() == 1) return std::move(args[0]);
    auto e = std::make_unique<Expr>(Expr::Kind::Concat, line);
    e->args = std::move(args);
    return e;
  }

  ExprPtr parse_math2() {
    const int line = current().line;
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = next().value;
      left = binary_node(Expr::Kind::Binary, std::move(left), parse_pow(), line, op);
    }
    return left;
  }

  ExprPtr parse_pow() {
    const int line = current().line;
    ExprPtr left = parse_unary(true);
    while (skip_op("**"))
      left = binary_node(Expr::Kind::Binary, std::move(left), parse_unary(true), line, "**");
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const int line = current().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const bool neg = next().value == "-";
      node = std::make_unique<Expr>(neg ? Expr::Kind::Neg : Expr::Kind::Pos, line);
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    if (t.type == TokenType::Name) {
      auto e = std::make_unique<Expr>(Expr::Kind::Const, t.line);
      if (t.value == "true" || t.value == "True") {
        e->constant = Value::boolean(true);
      } else if (t.value == "false" || t.value == "False") {
        e->constant = Value::boolean(false);
      } else if (t.value == "none" || t.value == "None") {
        e->constant = Value::none();
      } else {
        e->kind = Expr::Kind::Name;
        e->name = t.value;
      }
      next();
      return e;
    }
    if (t.type == TokenType::String) {
      auto e = std::make_unique<Expr>(Expr::Kind::Const, t.line);
      std::string s = next().value;
      while (current().type == TokenType::String) s += next().value;
      e->constant = Value::string(std::move(s));
      return e;
    }
    if (t.type == TokenType::Integer || t.type == TokenType::Float) {
      auto e = std::make_unique<Expr>(Expr::Kind::Const, t.line);
      e->constant =
          t.type == TokenType::Integer ? Value::integer(t.integer) : Value::floating(t.number);
      next();
      return e;
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) return parse_list();
    if (is_op("{")) return parse_dict();
    if (t.type == TokenType::Eof) fail("unexpected end of template");
    fail("unexpected " + quoted(t));
  }

  ExprPtr parse_list() {
    auto e = std::make_unique<Expr>(Expr::Kind::List, next().line);
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    auto e = std::make_unique<Expr>(Expr::Kind::Dict, next().line);
    while (!is_op("}")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("}")) break;
      e->args.push_back(parse_expression(true));
      expect_op(":");
      e->args.push_back(parse_expression(true));
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filter(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& t = next();
    if (t.value == ".") {
      const Token& attr = current();
      if (attr.type == TokenType::Name) {
        auto e = std::make_unique<Expr>(Expr::Kind::GetAttr, t.line);
        e->name = next().value;
        e->args.push_back(std::move(node));
        return e;
      }
      if (attr.type != TokenType::Integer) fail("expected name or number", attr.line);
      auto e = std::make_unique<Expr>(Expr::Kind::GetItem, t.line);
      auto index = std::make_unique<Expr>(Expr::Kind::Const, attr.line);
      index->constant = Value::integer(next().integer);
      e->args.push_back(std::move(node));
      e->args.push_back(std::move(index));
      return e;
    }
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    auto e = std::make_unique<Expr>(Expr::Kind::GetItem, t.line);
    e->args.push_back(std::move(node));
    if (args.size() == 1) {
      e->args.push_back(std::move(args[0]));
    } else {
      auto tuple = std::make_unique<Expr>(Expr::Kind::Tuple, t.line);
      tuple->args = std::move(args);
      e->args.push_back(std::move(tuple));
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    const int line = current().line;
    std::vector<ExprPtr> parts;
    if (skip_op(":")) {
      parts.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!skip_op(":")) return node;
      parts.push_back(std::move(node));
    }
    if (is_op(":") || is_op("]") || is_op(",")) {
      parts.push_back(nullptr);
    } else {
      parts.push_back(parse_expression(true));
    }
    if (skip_op(":")) {
      if (is_op("]") || is_op(",")) {
        parts.push_back(nullptr);
      } else {
        parts.push_back(parse_expression(true));
      }
    } else {
      parts.push_back(nullptr);
    }
    auto e = std::make_unique<Expr>(Expr::Kind::Slice, line);
    e->args = std::move(parts);
    return e;
  }

  // (args, name=value, ...) into e->args (after e->args[0]) and e->kwargs.
  void parse_call_args(Expr& e) {
    const int line = current().line;
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
      if (current().type == TokenType::Name && look().type == TokenType::Operator &&
          look().value == "=") {
        std::string key = next().value;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("invalid syntax for function call expression", line);
        e.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = std::make_unique<Expr>(Expr::Kind::Call, current().line);
    e->args.push_back(std::move(node));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name().value;
    while (skip_op(".")) name += "." + expect_name().value;
    return name;
  }

  // An unknown name inside {% if %} or a conditional expression fails only if it runs (the
  // interpreter says so then).
  void check_known(const Expr& e, bool filter) {
    const bool known = filter ? has_filter(e.name) : has_test(e.name);
    if (known || frame_.soft) return;
    if (filter && is_unsupported_filter(e.name))
      fail("the filter '" + e.name + "' is not supported", e.line);
    throw Failure("TemplateAssertionError",
                  std::string("No ") + (filter ? "filter" : "test") + " named '" + e.name + "'.",
                  e.line);
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      auto e = std::make_unique<Expr>(Expr::Kind::Filter, current().line);
      e->name = dotted_name();
      e->args.push_back(std::move(node));
      if (is_op("(")) parse_call_args(*e);
      check_known(*e, true);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    const int line = next().line;
    const bool negated = skip_name("not");
    auto e = std::make_unique<Expr>(Expr::Kind::Test, line);
    e->name = dotted_name();
    e->args.push_back(std::move(node));
    const Token& t = current();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((t.type == TokenType::Name || t.type == TokenType::String ||
                t.type == TokenType::Integer || t.type == TokenType::Float || is_op("[") ||
                is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      e->args.push_back(parse_postfix(parse_primary()));
    }
    check_known(*e, false);
    if (!negated) return e;
    auto n = std::make_unique<Expr>(Expr::Kind::Not, line);
    n->args.push_back(std::move(e));
    return n;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  Frame frame_{false, 0};
  bool has_generation_ = false;
};

}  // namespace

std::shared_ptr<const Program> parse(const std::string& source) {
  return Parser(tokenize(source)).run();
}

}  // namespace volt::jinja

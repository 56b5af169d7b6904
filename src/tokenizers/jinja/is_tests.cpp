// jinja2's tests (`x is defined`, `x is divisibleby 3`, ...), with the same Python semantics:
// `number` counts bools, `integer` does not, `sequence` is anything with len() and [].
#include <map>
#include <set>

#include "args.h"
#include "interpreter.h"
#include "parser.h"
#include "python.h"

namespace volt::jinja {

using Test = bool (*)(Interpreter&, const Value&, CallArgs&);

namespace {

const Value& one(const std::string& test, CallArgs& args) {
  if (args.positional.size() + args.keywords.size() != 1) {
    throw Failure("TypeError", "the test '" + test + "' takes one argument");
  }
  return args.positional.empty() ? args.keywords[0].second : args.positional[0];
}

bool is_sequence_like(const Value& v) {
  if (v.is_string() || v.is_dict() || v.is_undefined()) return true;
  if (!v.is_list()) return false;
  const ListKind k = v.as_list().kind;
  return k == ListKind::List || k == ListKind::Tuple || k == ListKind::Range;
}

bool compare_test(const Value& v, CallArgs& args, const char* test, const char* op) {
  return py::compare(v, one(test, args), op);
}

bool same_as(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::None:
      return true;
    case Kind::Bool:
      return a.as_bool() == b.as_bool();
    case Kind::Int:  // CPython shares the small integers
      return a.as_int() == b.as_int() && a.as_int() >= -5 && a.as_int() <= 256;
    case Kind::Object:
      return a.object_ptr() == b.object_ptr();
    case Kind::List:
      return &a.as_list() == &b.as_list();
    case Kind::Dict:
      return &a.as_dict() == &b.as_dict();
    case Kind::String:
      return &a.as_string() == &b.as_string();
    default:
      return false;
  }
}

const std::map<std::string, Test>& tests() {
  static const std::map<std::string, Test> table = {
      {"defined", [](Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }},
      {"true", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false",
       [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"integer", [](Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }},
      {"float", [](Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }},
      {"number", [](Interpreter&, const Value& v, CallArgs&) { return v.is_number(); }},
      {"string", [](Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](Interpreter&, const Value& v, CallArgs&) { return v.is_dict(); }},
      {"iterable",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() ||
                (v.is_object() && v.as_object().type_name() == "LoopContext");
       }},
      {"sequence", [](Interpreter&, const Value& v, CallArgs&) { return is_sequence_like(v); }},
      {"callable",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_undefined() || (v.is_object() && v.as_object().callable());
       }},
      {"escaped", [](Interpreter&, const Value& v, CallArgs&) { return v.is_markup(); }},
      {"odd",
       [](Interpreter& in, const Value& v, CallArgs&) {
         return py::equals(py::binary("%", v, Value::integer(2), in.limits().max_output_bytes),
                           Value::integer(1));
       }},
      {"even",
       [](Interpreter& in, const Value& v, CallArgs&) {
         return py::equals(py::binary("%", v, Value::integer(2), in.limits().max_output_bytes),
                           Value::integer(0));
       }},
      {"divisibleby",
       [](Interpreter& in, const Value& v, CallArgs& a) {
         return py::equals(py::binary("%", v, one("divisibleby", a), in.limits().max_output_bytes),
                           Value::integer(0));
       }},
      {"lower", [](Interpreter&, const Value& v, CallArgs&) { return py::is_lower(py::str(v)); }},
      {"upper", [](Interpreter&, const Value& v, CallArgs&) { return py::is_upper(py::str(v)); }},
      {"eq", [](Interpreter&, const Value& v, CallArgs& a) { return py::equals(v, one("eq", a)); }},
      {"equalto",
       [](Interpreter&, const Value& v, CallArgs& a) { return py::equals(v, one("equalto", a)); }},
      {"==", [](Interpreter&, const Value& v, CallArgs& a) { return py::equals(v, one("==", a)); }},
      {"ne",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py::equals(v, one("ne", a)); }},
      {"!=",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py::equals(v, one("!=", a)); }},
      {"lt",
       [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "lt", "<"); }},
      {"lessthan", [](Interpreter&, const Value& v,
                      CallArgs& a) { return compare_test(v, a, "lessthan", "<"); }},
      {"<", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<", "<"); }},
      {"le",
       [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "le", "<="); }},
      {"<=",
       [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<=", "<="); }},
      {"gt",
       [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "gt", ">"); }},
      {"greaterthan", [](Interpreter&, const Value& v,
                         CallArgs& a) { return compare_test(v, a, "greaterthan", ">"); }},
      {">", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">", ">"); }},
      {"ge",
       [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "ge", ">="); }},
      {">=",
       [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">=", ">="); }},
      {"in",
       [](Interpreter&, const Value& v, CallArgs& a) { return py::contains(one("in", a), v); }},
      {"sameas",
       [](Interpreter&, const Value& v, CallArgs& a) { return same_as(v, one("sameas", a)); }},
      {"filter",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_string() &&
                (has_filter(v.as_string()) || is_unsupported_filter(v.as_string()));
       }},
      {"test", [](Interpreter&, const Value& v,
                  CallArgs&) { return v.is_string() && has_test(v.as_string()); }},
  };
  return table;
}

}  // namespace

bool test_takes_argument(const std::string& name) {
  static const std::set<std::string> names = {
      "divisibleby", "eq", "equalto", "==",          "ne", "!=", "lt", "lessthan", "<",
      "le",          "<=", "gt",      "greaterthan", ">",  "ge", ">=", "in",       "sameas"};
  return names.count(name) > 0;
}

Test find_test(const std::string& name) {
  const auto it = tests().find(name);
  return it == tests().end() ? nullptr : it->second;
}

bool has_test(const std::string& name) { return tests().count(name) > 0; }

}  // namespace volt::jinja

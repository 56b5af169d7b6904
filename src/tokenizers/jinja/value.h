// The runtime values of volt's Jinja interpreter, with Python's data model: None, bool, int,
// float, str (with jinja2's Markup flag), list and tuple (and the dict views and range, which
// differ only in how they print), dict (insertion-ordered), Undefined (jinja2's default kind,
// carrying the message an error about it would show) and objects (namespace, macro, loop,
// built-in functions and bound methods).
//
// Lists, dicts and strings are immutable once built (transformers renders in jinja2's
// ImmutableSandboxedEnvironment, where no template can mutate them), so values share them
// freely. Only a namespace's attributes change.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace volt::jinja {

/// A failure while lexing, parsing or rendering: `kind` is the Python exception jinja2 raises
/// in the same place (TypeError, UndefinedError, TemplateSyntaxError, ...), `line` the template
/// line (0: not known where it is raised; the interpreter fills in the line it is running).
class Failure : public std::runtime_error {
 public:
  Failure(std::string kind, const std::string& message, int line = 0)
      : std::runtime_error(message), kind_(std::move(kind)), line_(line) {}
  const std::string& kind() const { return kind_; }
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }

 private:
  std::string kind_;
  int line_;
};

/// Lists and dicts nest at most this deep (Python's own recursion limit is about 1000);
/// the functions that walk values recursively stop there too.
constexpr int kMaxNesting = 500;

class Value;
class Object;
struct List;
class Dict;

/// Python's str, or jinja2's Markup (a str that is already escaped: `+` escapes the other side).
struct Str {
  std::string text;  // valid UTF-8
  bool markup = false;
};

/// How a list-like value prints and behaves: the dict views are not subscriptable; a Generator
/// (what jinja2's select, map, unique, items, ... return) is also always true and has no len().
enum class ListKind : uint8_t { List, Tuple, DictKeys, DictValues, DictItems, Range, Generator };

struct UndefinedInfo {
  std::string hint;     // what an error about it says: "'x' is undefined"
  bool unsafe = false;  // jinja2's sandbox marks unsafe attributes (list.append) this way
};

enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Object };

class Value {
 public:
  /// An Undefined with no hint.
  Value();
  static Value undefined(std::string hint, bool unsafe = false);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double d);
  static Value string(std::string s, bool markup = false);
  static Value list(std::vector<Value> items, ListKind kind = ListKind::List);
  static Value range(int64_t start, int64_t stop, int64_t step, std::vector<Value> items);
  /// A generator whose walk fails with `error` (jinja2's generators fail when walked, not made).
  static Value failed_generator(const Failure& error);
  static Value dict(std::shared_ptr<const Dict> d);
  static Value object(std::shared_ptr<Object> o);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  /// bool, int or float (Python's bool is an int).
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_object() const { return kind() == Kind::Object; }

  const UndefinedInfo& undefined_info() const;
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  /// bool, int or float as a double.
  double to_double() const;
  /// bool or int as an int64.
  int64_t to_int() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }
  const std::string& as_string() const { return std::get<std::shared_ptr<const Str>>(v_)->text; }
  bool is_markup() const { return is_string() && std::get<std::shared_ptr<const Str>>(v_)->markup; }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(v_); }
  Object& as_object() const { return *std::get<std::shared_ptr<Object>>(v_); }
  const std::shared_ptr<Object>& object_ptr() const {
    return std::get<std::shared_ptr<Object>>(v_);
  }
  /// How deep lists and dicts nest inside this value (0 for a scalar).
  int depth() const;

 private:
  using Storage = std::variant<std::shared_ptr<const UndefinedInfo>, std::nullptr_t, bool, int64_t,
                               double, std::shared_ptr<const Str>, std::shared_ptr<const List>,
                               std::shared_ptr<const Dict>, std::shared_ptr<Object>>;
  explicit Value(Storage v) : v_(std::move(v)) {}
  Storage v_;
};

struct List {
  ListKind kind = ListKind::List;
  std::vector<Value> items;
  int depth = 1;
  int64_t range_start = 0, range_stop = 0, range_step = 1;  // ListKind::Range only
  std::shared_ptr<const Failure> deferred;                  // ListKind::Generator only
};

/// A Python dict: insertion-ordered, keys compared as Python does (1 == 1.0 == True).
class Dict {
 public:
  /// Inserts or overwrites; the key must be hashable (see py::check_hashable).
  void set(const Value& key, Value value);
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  int depth() const { return depth_; }

 private:
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> string_index_;
  int depth_ = 1;
};

/// Python's equality of hashable values (dict keys): numbers by value, strings by content,
/// tuples element by element, None equal to None.
bool keys_equal(const Value& a, const Value& b);

}  // namespace volt::jinja

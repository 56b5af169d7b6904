// Python's semantics for volt's Jinja values, as jinja2 (which is Python) gives them to
// templates: str methods on code points, str() and repr() of every value, float repr, json.dumps,
// truth, equality, ordering and arithmetic with Python's errors. Failures are thrown as
// jinja::Failure with the Python exception's name and message.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "value.h"

namespace volt::jinja::py {

// ---- text (python_text.cpp); every string is valid UTF-8 and indexed by code point ----

/// str.isspace for one code point (also what \s matches in Python's re).
bool is_space(uint32_t cp);
std::vector<uint32_t> code_points(std::string_view s);
std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end);
/// len(s): the number of code points.
size_t length(std::string_view s);

/// str.strip / lstrip / rstrip; chars == nullptr strips whitespace.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
/// str.split / rsplit; sep == nullptr splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit,
                               bool from_right);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
/// str.replace; count < 0 replaces every occurrence.
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
/// str.find / rfind / count over s[start:end] (code point indices, Python's clamping); -1 when
/// not found; find returns a code point index.
int64_t find(std::string_view s, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool from_right);
int64_t count(std::string_view s, std::string_view sub, std::optional<int64_t> start,
              std::optional<int64_t> end);
bool starts_with(std::string_view s, std::string_view prefix, std::optional<int64_t> start,
                 std::optional<int64_t> end, bool at_end);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
/// str.title: a cased letter after an uncased character starts a word.
std::string title(std::string_view s);
std::string capitalize(std::string_view s);
/// str.casefold: Unicode full case folding (ß -> ss).
std::string casefold(std::string_view s);
std::string swapcase(std::string_view s);
bool is_upper(std::string_view s);
bool is_lower(std::string_view s);
bool is_alpha(std::string_view s);
bool is_digit(std::string_view s);
bool is_decimal(std::string_view s);
bool is_numeric(std::string_view s);
bool is_alnum(std::string_view s);
bool is_space_string(std::string_view s);
bool is_title(std::string_view s);
/// str.center / ljust / rjust with a one-character fill.
std::string pad(std::string_view s, int64_t width, std::string_view fill,
                int where /*-1 ljust, 0 center, 1 rjust*/);

/// The positions Python's slice(start, stop, step) picks from a sequence of `len` items.
std::vector<size_t> slice_indices(size_t len, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, std::optional<int64_t> step);

// ---- printing (python_format.cpp) ----

/// float.__repr__: the shortest string that reads back to the same double ("1e-05", "0.1").
std::string float_repr(double d);
std::string string_repr(std::string_view s);
/// repr() of any value; objects print as Python prints them (<Namespace {...}>).
std::string repr(const Value& v);
/// str(): strings as they are, Undefined as "", everything else as repr().
std::string str(const Value& v);
/// Python's type name: 'str', 'int', 'NoneType', 'dict', ...
std::string type_name(const Value& v);
/// The module-qualified name jinja2 shows for a type: "jinja2.utils.Namespace" for "Namespace".
std::string qualified_type_name(const std::string& type_name);
/// jinja2's object_type_repr, used in its Undefined messages: "dict object", "None".
std::string object_type_repr(const Value& v);

struct JsonOptions {
  std::optional<std::string> indent;  // None: one line; a string (spaces for an int) per level
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
/// json.dumps with Python's defaults (and transformers' ensure_ascii=False).
std::string json_dumps(const Value& v, const JsonOptions& options);
/// A JSON document (ordered keys) as a value; integers beyond 64 bits and nesting deeper than
/// kMaxNesting are refused; strings must be valid UTF-8.
Value from_json(const nlohmann::ordered_json& j, const std::string& where);

// ---- semantics (python_ops.cpp) ----

bool truthy(const Value& v);
/// ==, as Python: 1 == 1.0 == True, [1] != (1,), two Undefined are equal.
bool equals(const Value& a, const Value& b);
/// The rich comparisons <, <=, >, >= (op is the operator's text); TypeError across types.
bool compare(const Value& a, const Value& b, std::string_view op);
/// Throws TypeError "unhashable type: 'list'" for values that cannot be dict keys.
void check_hashable(const Value& v);
/// The binary operators + - * / // % ** (op is the operator's text); `limit` bounds the size
/// of strings and lists they build.
Value binary(std::string_view op, const Value& a, const Value& b, size_t limit);
Value negate(const Value& v);
Value positive(const Value& v);
/// `item in container`.
bool contains(const Value& container, const Value& item);
/// markupsafe.escape's text: & < > " ' as HTML entities.
std::string html_escape(std::string_view s);

// ---- string formatting (python_printf.cpp) ----

/// `format % args` (printf-style), as Python formats it; `limit` bounds the result's size.
std::string percent_format(const std::string& format, const Value& args, size_t limit);
/// format(value, spec): the format mini-language of str.format for str, int, float and bool.
std::string format_value(const Value& v, std::string_view spec);

/// What `for x in v` walks: list items, dict keys, string characters; Undefined is empty.
std::vector<Value> iterate(const Value& v);

}  // namespace volt::jinja::py

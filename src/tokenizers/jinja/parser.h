// The parser: tokens to a Program, following jinja2's grammar and precedence (the conditional
// expression, or/and/not, comparisons, + -, ~, * / // %, ** (left-associative, as jinja2 has
// it), unary minus, postfix access, filters and tests). Statements that need a loader or that
// transformers does not enable are errors naming the statement and its line.
#pragma once

#include <memory>
#include <string>

#include "ast.h"

namespace volt::jinja {

/// Parses a template's source; a syntax error is a Failure with its line.
std::shared_ptr<const Program> parse(const std::string& source);

/// Fills in every frame's starts_undefined, as jinja2's compiler resolves names (symbols.cpp).
void resolve_frames(Program& program);

/// Whether volt implements the filter / test `name` (the parser checks names as jinja2's
/// compiler does; the interpreter owns the tables).
bool has_filter(const std::string& name);
bool has_test(const std::string& name);
/// A jinja2 built-in filter that volt does not implement (filesizeformat, urlize, ...).
bool is_unsupported_filter(const std::string& name);

}  // namespace volt::jinja

// The lexer: template text to tokens, with jinja2's whitespace rules as transformers configures
// them (trim_blocks, lstrip_blocks, keep_trailing_newline off; `-` and `+` markers), its number,
// name and string literals (Python escapes), and its bracket balancing. Comments are dropped;
// {% raw %} blocks become plain text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace volt::jinja {

enum class TokenType {
  Data,
  VariableBegin,
  VariableEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Integer,
  Float,
  Operator,
  Eof
};

struct Token {
  TokenType type = TokenType::Eof;
  std::string value;  // the text, name, operator or decoded string
  int64_t integer = 0;
  double number = 0;
  int line = 1;
};

/// The tokens of a template, ending with Eof; a lexing error is a Failure with its line.
std::vector<Token> tokenize(const std::string& source);

/// How jinja2 names a token in its errors: 'end of print statement', 'integer', "'+'", ...
std::string describe(const Token& t);

}  // namespace volt::jinja

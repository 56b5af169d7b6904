// Patterns that pre-tokenizers split on: literal strings, general regular expressions (ICU's
// engine: lookahead, \p{L}, \p{N}, (?i:...)) and hand-written matchers for the patterns that
// carry most real traffic, GPT-2's, Llama 3's (= tiktoken's cl100k) and Qwen's. The hand-written
// ones must find exactly the matches the regex finds; a test checks them against ICU on corpora
// and random text.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "volt/tokenizers/hf_components.h"

namespace volt::hf {

/// GPT-2's pre-tokenizer regex (openai/gpt-2 encoder.py; tiktoken r50k/p50k).
extern const char* const kGpt2Pattern;
/// Llama 3's pre-tokenizer regex (tiktoken cl100k_base; Llama 3's tokenizer.json).
extern const char* const kLlama3Pattern;
/// Qwen 2, 2.5 and 3: Llama 3's with single digits.
extern const char* const kQwen2Pattern;
/// tiktoken's o200k_base pattern (GPT-4o).
extern const char* const kO200kPattern;

class Pattern {
 public:
  virtual ~Pattern() = default;
  /// Calls on_match(begin, end) (byte offsets into text) for each non-overlapping match, left to
  /// right, as a regex engine's find-all does. Empty matches are not reported.
  virtual void find_all(std::string_view text,
                        FunctionRef<void(size_t, size_t)> on_match) const = 0;
};

/// A regex pattern: the hand-written matcher when `regex` is one of the known patterns above
/// (unless force_engine), else ICU's regex engine. A bad regex is an error naming `where`.
std::unique_ptr<Pattern> regex_pattern(const std::string& regex, const std::string& where,
                                       bool force_engine = false);
/// A literal string: every non-overlapping occurrence.
std::unique_ptr<Pattern> literal_pattern(std::string literal);

}  // namespace volt::hf

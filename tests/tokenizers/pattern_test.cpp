// The hand-written GPT-2, Llama 3 and Qwen pre-tokenizer matchers against ICU's regex engine
// running the same patterns: identical matches on real corpora and on random strings drawn from the
// characters where the patterns' alternatives disagree (apostrophes, digits, letters of several
// scripts, marks, every kind of whitespace, CR/LF, symbols).
#include "volt/tokenizers/pattern.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/io/files.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

std::vector<std::string> matches(const Pattern& p, std::string_view text) {
  std::vector<std::string> out;
  p.find_all(text, [&](size_t b, size_t e) { out.emplace_back(text.substr(b, e - b)); });
  return out;
}

using volt::test::escape_text;

// The first place where the two split lists differ, for a readable failure.
void expect_same_split(const Pattern& fast, const Pattern& engine, std::string_view text,
                       const std::string& what) {
  const auto a = matches(fast, text), b = matches(engine, text);
  if (a == b) return;
  size_t i = 0, offset = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) offset += a[i++].size();
  ADD_FAILURE() << what << ": split " << i << " at byte " << offset << " differs: hand-written '"
                << (i < a.size() ? escape_text(a[i]) : "<end>") << "' vs regex engine '"
                << (i < b.size() ? escape_text(b[i]) : "<end>") << "'; context '"
                << escape_text(text.substr(offset, 40)) << "'";
}

class PatternParity : public ::testing::TestWithParam<const char*> {};

TEST_P(PatternParity, MatchesTheRegexEngineOnCorpora) {
  const auto fast = regex_pattern(GetParam(), "test");
  const auto engine = regex_pattern(GetParam(), "test", /*force_engine=*/true);
  for (const char* rel : {"corpora/tinyshakespeare/input.txt", "corpora/wikitext-2/valid.txt"}) {
    const std::string text = io::read_file(volt_test_data(rel));
    expect_same_split(*fast, *engine, text, rel);
  }
}

TEST_P(PatternParity, MatchesTheRegexEngineOnRandomText) {
  const auto fast = regex_pattern(GetParam(), "test");
  const auto engine = regex_pattern(GetParam(), "test", /*force_engine=*/true);
  // Pieces chosen to hit every alternative and every boundary between them.
  const std::vector<std::string> alphabet = {"a",
                                             "Z",
                                             "'",
                                             "s",
                                             "S",
                                             "t",
                                             "re",
                                             "VE",
                                             "ll",
                                             "d",
                                             "M",
                                             "\u017F",
                                             " ",
                                             "  ",
                                             "\t",
                                             "\n",
                                             "\r",
                                             "\r\n",
                                             "\v",
                                             "\f",
                                             "\u00A0",
                                             "\u2003",
                                             "\u3000",
                                             "\u2028",
                                             "0",
                                             "7",
                                             "\u0663",
                                             "\u00BD",
                                             "\u2167",
                                             "!",
                                             ".",
                                             "...",
                                             "$",
                                             "_",
                                             "-",
                                             "(",
                                             "\u00E9",
                                             "e\u0301",
                                             "\u0301",
                                             "\u4E2D",
                                             "\u05E9",
                                             "\u0627",
                                             "\u0915\u094D",
                                             "\U0001F600",
                                             "\U0001F44D\U0001F3FD",
                                             "\u200D",
                                             "\uFE0F",
                                             "\u00DF",
                                             "\u0130",
                                             "\u01C5"};
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k) text += alphabet[rng() % alphabet.size()];
    expect_same_split(*fast, *engine, text, "random text " + escape_text(text));
    if (HasFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    HandWritten, PatternParity, ::testing::Values(kGpt2Pattern, kLlama3Pattern, kQwen2Pattern),
    [](const auto& info) {
      return std::string(info.index == 0 ? "Gpt2" : info.index == 1 ? "Llama3" : "Qwen2");
    });

TEST(Pattern, QwenSplitsSingleDigits) {
  const auto p = regex_pattern(kQwen2Pattern, "test");
  EXPECT_EQ(matches(*p, "x 1234"), (std::vector<std::string>{"x", " ", "1", "2", "3", "4"}));
}

TEST(Pattern, Gpt2SplitsAsOpenAIDoes) {
  const auto p = regex_pattern(kGpt2Pattern, "test");
  EXPECT_EQ(matches(*p, "Hello world"), (std::vector<std::string>{"Hello", " world"}));
  EXPECT_EQ(
      matches(*p, "I'm   here's 123!!\n\nx"),
      (std::vector<std::string>{"I", "'m", "  ", " here", "'s", " 123", "!!", "\n", "\n", "x"}));
  EXPECT_EQ(matches(*p, "end  "), (std::vector<std::string>{"end", "  "}));
}

TEST(Pattern, Llama3SplitsDigitsInThreesAndKeepsNewlinesWithPunctuation) {
  const auto p = regex_pattern(kLlama3Pattern, "test");
  EXPECT_EQ(matches(*p, "1234567 I'VE (hello).\n\n  x"),
            (std::vector<std::string>{"123", "456", "7", " I", "'VE", " (", "hello", ").\n\n", " ",
                                      " x"}));
}

TEST(Pattern, BadRegexIsAClearError) {
  try {
    regex_pattern("(unclosed", "my/tokenizer.json");
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("my/tokenizer.json: bad regex"), std::string::npos)
        << e.what();
  }
}

TEST(Pattern, LiteralFindsNonOverlappingOccurrences) {
  const auto p = literal_pattern("aa");
  EXPECT_EQ(matches(*p, "aaaXaa"), (std::vector<std::string>{"aa", "aa"}));
}

}  // namespace
}  // namespace volt::hf

// The tokenizer.json pipeline around the model: pre-tokenizers (expected splits from the
// `tokenizers` crate's own documentation and tests), added tokens (special, lstrip/rstrip,
// single_word, normalized), the post-processor template, BOS/EOS discovery, batch encoding,
// save/load and the errors for unsupported or malformed files.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/io/files.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/hf_tokenizer.h"
#include "volt/tokenizers/tiktoken.h"

namespace volt {
namespace {

using hf::json;
using test::error_of;

std::vector<std::string> pre_split(const json& j, std::string_view text) {
  auto p = hf::pre_tokenizer_from_json(j, "test");
  std::vector<std::string> out;
  p->split(text, true, [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

using Words = std::vector<std::string>;

// tokenizers/src/tokenizer/normalizer.rs, SplitDelimiterBehavior's documentation.
TEST(PreTokenizer, SplitBehaviorsMatchTheCrateDocumentation) {
  auto split = [](const char* behavior) {
    return pre_split({{"type", "Split"},
                      {"pattern", {{"String", "-"}}},
                      {"behavior", behavior},
                      {"invert", false}},
                     "the-final--countdown");
  };
  EXPECT_EQ(split("Removed"), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (Words{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Words{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (Words{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (Words{"the", "-", "final", "--", "countdown"}));
}

TEST(PreTokenizer, SplitWithInvertKeepsTheMatches) {
  EXPECT_EQ(pre_split({{"type", "Split"},
                       {"pattern", {{"Regex", "\\w+"}}},
                       {"behavior", "Removed"},
                       {"invert", true}},
                      "Hey, man!"),
            (Words{"Hey", "man"}));
}

// The crate's pre_tokenizers/*.rs tests.
TEST(PreTokenizer, WhitespaceBertMetaspaceDigitsPunctuation) {
  EXPECT_EQ(pre_split({{"type", "Whitespace"}}, "Hey man!!   how_are you?"),
            (Words{"Hey", "man", "!!", "how_are", "you", "?"}));
  EXPECT_EQ(pre_split({{"type", "WhitespaceSplit"}}, "Hey man!!\t how-are"),
            (Words{"Hey", "man!!", "how-are"}));
  EXPECT_EQ(pre_split({{"type", "BertPreTokenizer"}}, "Hey friend!     How are you?!?"),
            (Words{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
  const json meta = {{"type", "Metaspace"},
                     {"replacement", "\u2581"},
                     {"prepend_scheme", "always"},
                     {"split", true}};
  EXPECT_EQ(pre_split(meta, "Hey friend!"), (Words{"\u2581Hey", "\u2581friend!"}));
  EXPECT_EQ(pre_split(meta, "Hey   friend!"),
            (Words{"\u2581Hey", "\u2581", "\u2581", "\u2581friend!"}));
  json no_split = meta;
  no_split["split"] = false;
  EXPECT_EQ(pre_split(no_split, "Hey friend!"), (Words{"\u2581Hey\u2581friend!"}));
  EXPECT_EQ(pre_split({{"type", "Digits"}, {"individual_digits", true}}, "Hey 123 friend!"),
            (Words{"Hey ", "1", "2", "3", " friend!"}));
  EXPECT_EQ(pre_split({{"type", "Digits"}, {"individual_digits", false}}, "Hey 123 friend!"),
            (Words{"Hey ", "123", " friend!"}));
  EXPECT_EQ(pre_split({{"type", "Punctuation"}}, "Hey friend!     How are you?!?"),
            (Words{"Hey friend", "!", "     How are you", "?", "!", "?"}));
  EXPECT_EQ(
      pre_split({{"type", "Sequence"},
                 {"pretokenizers", {{{"type", "WhitespaceSplit"}}, {{"type", "Punctuation"}}}}},
                "Hey friend!  How?"),
      (Words{"Hey", "friend", "!", "How", "?"}));
}

TEST(PreTokenizer, ByteLevelAddsThePrefixSpaceAndSplitsLikeGpt2) {
  EXPECT_EQ(pre_split({{"type", "ByteLevel"}, {"add_prefix_space", true}}, "Hello my friend"),
            (Words{" Hello", " my", " friend"}));
  EXPECT_EQ(pre_split({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}},
                      "Hello my friend"),
            (Words{"Hello my friend"}));
}

TEST(PreTokenizer, UnsupportedTypeAndBadBehaviorAreClearErrors) {
  EXPECT_NE(error_of([] {
              pre_split({{"type", "UnicodeScripts2"}}, "x");
            }).find("pre_tokenizer 'UnicodeScripts2' is not supported"),
            std::string::npos);
  EXPECT_NE(
      error_of([] {
        pre_split({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "Merged"}}, "x");
      }).find("unknown split behavior 'Merged'"),
      std::string::npos);
}

// A small byte-level BPE over "hello world" with added tokens, to exercise the pipeline.
json tiny_bpe_json() {
  json vocab = json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    ch = hf::bytes_to_alphabet(std::string(1, static_cast<char>(b)));
    vocab[ch] = id++;
  }
  for (const char* t :
       {"he", "ll", "hell", "hello", "\u0120w", "or", "\u0120wor", "ld", "\u0120world"}) {
    vocab[t] = id++;
  }
  json merges = json::array(
      {"h e", "l l", "he ll", "hell o", "\u0120 w", "o r", "\u0120w or", "l d", "\u0120wor ld"});
  return {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 300},
         {"content", "<|end|>"},
         {"special", true},
         {"lstrip", false},
         {"rstrip", false},
         {"single_word", false},
         {"normalized", false}},
        {{"id", 301},
         {"content", "<mask>"},
         {"special", true},
         {"lstrip", true},
         {"rstrip", true},
         {"single_word", false},
         {"normalized", false}},
        {{"id", 302},
         {"content", "cat"},
         {"special", false},
         {"lstrip", false},
         {"rstrip", false},
         {"single_word", true},
         {"normalized", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<|end|>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens",
         {{"<|end|>", {{"id", "<|end|>"}, {"ids", {300}}, {"tokens", {"<|end|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

TEST(HfTokenizer, MergesByRankAndMatchesAddedTokens) {
  HfTokenizer t(tiny_bpe_json(), "tiny");
  const auto hello = *t.token_to_id("hello");
  const auto world = *t.token_to_id("\u0120world");
  EXPECT_EQ(t.encode("hello world"), (std::vector<int64_t>{hello, world}));
  // Special tokens are split out of the raw text first.
  EXPECT_EQ(t.encode("hello<|end|> world"), (std::vector<int64_t>{hello, 300, world}));
  // ... unless parse_special is off: then they are plain text.
  EncodeOptions plain;
  plain.parse_special = false;
  EXPECT_GT(t.encode("<|end|>", plain).size(), 1u);
  // lstrip/rstrip swallow the spaces around <mask>.
  EXPECT_EQ(t.encode("hello  <mask>  hello"), (std::vector<int64_t>{hello, 301, hello}));
  // single_word: "cat" alone is the added token, inside "cats" it is not.
  EXPECT_EQ(t.encode("cat"), (std::vector<int64_t>{302}));
  EXPECT_EQ(t.encode("cats").size(), 4u);  // c a t s as bytes
  // The template prepends <|end|> with add_special_tokens; --bos/--eos name BOS/EOS explicitly.
  EncodeOptions special;
  special.add_special_tokens = true;
  EXPECT_EQ(t.encode("hello", special), (std::vector<int64_t>{300, hello}));
  EXPECT_EQ(t.bos_id(), 300);
  EXPECT_EQ(t.decode({hello, 300, world}), "hello<|end|> world");
  EXPECT_EQ(t.decode({hello, 300, world}, /*skip_special=*/true), "hello world");
  EXPECT_EQ(t.vocab_size(), 303);
  EXPECT_NE(error_of([&] { t.decode({999}); }).find("id 999 is not in the vocabulary"),
            std::string::npos);
}

// Added tokens in encode_with_offsets: each covers what it matched, with the whitespace its
// lstrip/rstrip swallowed; a single_word token inside a word is not one; the template's is empty.
TEST(HfTokenizer, AddedTokenOffsetsCoverWhatTheyMatched) {
  HfTokenizer t(tiny_bpe_json(), "tiny");
  const auto spans = [&](const std::string& text, const EncodeOptions& o) {
    const Encoding e = t.encode_with_offsets(text, o);
    EXPECT_EQ(e.ids, t.encode(text, o)) << text;
    std::string s;
    for (const auto& sp : e.offsets)
      s += std::to_string(sp.start) + "-" + std::to_string(sp.end) + " ";
    return s;
  };
  EncodeOptions special;
  special.add_special_tokens = true;
  EXPECT_EQ(spans("hello  <mask>  hello", {}), "0-5 5-15 15-20 ");
  EXPECT_EQ(spans("hello<|end|> world", special), "0-0 0-5 5-12 12-18 ");
  EXPECT_EQ(spans("cat cats", {}), "0-3 3-4 4-5 5-6 6-7 7-8 ");
}

// A vocabulary without GPT-2's alphabet behind a ByteLevel pre-tokenizer: each alphabet character
// not in it falls back to the bytes of its UTF-8, and those pieces cover the one raw byte it
// stands for ("é" is the raw bytes C3 A9, the alphabet's "Ã©", four fallback pieces).
TEST(HfTokenizer, ByteFallbackPiecesOfAnAlphabetCharacterCoverItsByte) {
  json vocab = {{"<unk>", 0}, {"a", 1}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 2 + b;
  }
  const json j = {{"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                  {"model",
                   {{"type", "BPE"},
                    {"vocab", vocab},
                    {"merges", json::array()},
                    {"unk_token", "<unk>"},
                    {"byte_fallback", true}}}};
  const HfTokenizer t(j, "alphabet-less");
  const Encoding e = t.encode_with_offsets("a\u00E9");
  EXPECT_EQ(e.ids, (std::vector<int64_t>{1, 2 + 0xC3, 2 + 0x83, 2 + 0xC2, 2 + 0xA9}));
  std::string s;
  for (const auto& sp : e.offsets)
    s += std::to_string(sp.start) + "-" + std::to_string(sp.end) + " ";
  EXPECT_EQ(s, "0-1 1-2 1-2 2-3 2-3 ");
}

TEST(HfTokenizer, InvalidUtf8IsAnErrorNamingTheOffset) {
  HfTokenizer t(tiny_bpe_json(), "tiny");
  EXPECT_NE(error_of([&] { t.encode("ab\xC3("); }).find("invalid UTF-8 at byte 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { t.encode("\xED\xA0\x80"); }).find("invalid UTF-8 at byte 0"),
            std::string::npos);  // a UTF-16 surrogate
}

TEST(HfTokenizer, BatchEncodingEqualsOneByOne) {
  auto t = load_tokenizer(volt_test_data("tokenizers/gpt2/tokenizer.json"));
  const std::string text = io::read_file(volt_test_data("corpora/tinyshakespeare/input.txt"));
  std::vector<std::string> docs;
  for (size_t i = 0; i < text.size() && docs.size() < 200; i += 4000)
    docs.push_back(text.substr(i, 4000));
  const auto batch = t->encode_batch(docs, {}, 2);
  ASSERT_EQ(batch.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(batch[i], t->encode(docs[i])) << "doc " << i;
}

TEST(HfTokenizer, Gpt2InEveryFormatGivesTheSameIds) {
  const std::string dir = volt_test_data("tokenizers/gpt2");
  auto json_tok = load_tokenizer(dir + "/tokenizer.json");
  auto files_tok = load_tokenizer(dir + "/vocab.json");
  auto tiktoken = load_tokenizer(dir + "/r50k_base.tiktoken");
  const std::string text = io::read_file(volt_test_data("corpora/wikitext-2/valid.txt"));
  const auto ids = json_tok->encode(text);
  EXPECT_EQ(files_tok->encode(text), ids);
  EXPECT_EQ(tiktoken->encode(text), ids);
  EXPECT_EQ(json_tok->encode("Hello world"), (std::vector<int64_t>{15496, 995}));
  // Special tokens in the text are split out the same way in both formats.
  EXPECT_EQ(tiktoken->encode("Hi<|endoftext|>there"), json_tok->encode("Hi<|endoftext|>there"));
  EXPECT_EQ(tiktoken->encode("Hi<|endoftext|>there")[1], 50256);
  EXPECT_EQ(json_tok->eos_id(), 50256);
  EXPECT_EQ(tiktoken->eos_id(), 50256);
  EXPECT_EQ(tiktoken->kind(), "tiktoken:r50k_base");
  EXPECT_EQ(json_tok->kind(), "hf-byte-level-bpe");
}

TEST(HfTokenizer, SaveAndLoadRoundTrip) {
  test::ScopedTempDir dir;
  auto t = load_tokenizer(volt_test_data("tokenizers/llama3/tokenizer.json"));
  t->save(dir.path());
  auto u = load_tokenizer(dir.path());
  const std::string text = "Hello, world! 12345 \u4F60\u597D";
  EXPECT_EQ(u->encode(text), t->encode(text));
  EXPECT_EQ(u->bos_id(), t->bos_id());
  EXPECT_EQ(u->eos_id(), t->eos_id());
  EXPECT_EQ(*t->bos_id(), 128000);
}

TEST(HfTokenizer, MalformedFilesAreClearErrors) {
  test::ScopedTempDir dir;
  const std::string path = dir.path() + "/tokenizer.json";
  io::write_file_atomic(path, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
  EXPECT_NE(error_of([&] { load_tokenizer(path); }).find("model type 'Unigram' is not supported"),
            std::string::npos);
  io::write_file_atomic(
      path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}");
  EXPECT_NE(error_of([&] {
              load_tokenizer(path);
            }).find("merge 0 ('a', 'b') uses a token that is not in the vocabulary"),
            std::string::npos);
  io::write_file_atomic(path, "{\"model\": ");
  EXPECT_NE(error_of([&] { load_tokenizer(path); }).find(path), std::string::npos);
  EXPECT_NE(
      error_of([&] { load_tokenizer(dir.path() + "/nothing"); }).find("no such file or directory"),
      std::string::npos);
}

}  // namespace
}  // namespace volt

// The character tokenizer: nanoGPT's shakespeare_char vocabulary, encode/decode, UTF-8 handling,
// errors, and the Hugging Face tokenizer.json it saves.
#include "volt/tokenizers/char_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/core/check.h"
#include "volt/io/files.h"

namespace volt {
namespace {

using test::ScopedTempDir;

using test::error_of;

const std::string& shakespeare() {
  static const std::string text = io::read_file(volt_test_data("corpora/tinyshakespeare/input.txt"));
  return text;
}

TEST(CharTokenizer, TinyShakespeareVocabularyIsNanoGPTs) {
  const auto tok = CharTokenizer::from_text(shakespeare());
  ASSERT_EQ(tok.vocab_size(), 65);
  // nanoGPT prepare.py: chars = sorted(list(set(data))); print(''.join(chars))
  const std::string want = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string got;
  for (int64_t i = 0; i < tok.vocab_size(); ++i) got += tok.id_to_token(i);
  EXPECT_EQ(got, want);
  // The ids of Karpathy's "hii there" example.
  EXPECT_EQ(tok.encode("hii there"), (std::vector<int64_t>{46, 47, 47, 1, 58, 46, 43, 56, 43}));
  EXPECT_EQ(tok.decode({46, 47, 47, 1, 58, 46, 43, 56, 43}), "hii there");
  EXPECT_EQ(tok.token_to_id("\n"), 0);
  EXPECT_EQ(tok.token_to_id("z"), 64);
  EXPECT_FALSE(tok.token_to_id("~").has_value());
  EXPECT_EQ(tok.kind(), "char");
}

TEST(CharTokenizer, EncodeDecodeRoundTripsTheCorpus) {
  const auto tok = CharTokenizer::from_text(shakespeare());
  const std::string part = shakespeare().substr(0, 20000);
  const auto ids = tok.encode(part);
  ASSERT_EQ(ids.size(), part.size());
  EXPECT_EQ(tok.decode(ids), part);
  EXPECT_TRUE(tok.encode("").empty());
  EXPECT_EQ(tok.decode({}), "");
}

TEST(CharTokenizer, MultiByteCodePointsAreSingleTokensInCodePointOrder) {
  const std::string text = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9D\x84\x9E!";  // héllo wörld ✓ 𝄞!
  const auto tok = CharTokenizer::from_text(text);
  const std::vector<std::string> want{" ", "!", "d", "h", "l", "o", "r", "w",
                                      "\xC3\xA9", "\xC3\xB6", "\xE2\x9C\x93", "\xF0\x9D\x84\x9E"};
  ASSERT_EQ(tok.vocab_size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(tok.id_to_token(static_cast<int64_t>(i)), want[i]) << i;
  const auto ids = tok.encode(text);
  EXPECT_EQ(ids.size(), 16u);  // code points, not bytes
  EXPECT_EQ(ids[1], 8);        // é
  EXPECT_EQ(ids[14], 11);      // 𝄞
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_EQ(utf8_chars(text).size(), 16u);
}

TEST(CharTokenizer, UnknownCharactersAreErrors) {
  const auto tok = CharTokenizer::from_text("abc ");
  EXPECT_NE(error_of([&] { tok.encode("abz"); }).find("not in the vocabulary"), std::string::npos);
  const auto msg = error_of([&] { tok.encode("a\xC3\xA9"); });
  EXPECT_NE(msg.find("'\xC3\xA9' is not in the vocabulary"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { tok.decode({0, 4}); }).find("token id 4 is out of range [0, 4)"), std::string::npos);
  EXPECT_NE(error_of([&] { tok.id_to_token(-1); }).find("out of range"), std::string::npos);
}

TEST(CharTokenizer, InvalidUtf8IsAnErrorNamingTheByte) {
  EXPECT_NE(error_of([] { CharTokenizer::from_text("ab\xFF"); }).find("invalid UTF-8 at byte 2"), std::string::npos);
  EXPECT_NE(error_of([] { CharTokenizer::from_text("abc\xC3"); }).find("invalid UTF-8 at byte 3"),
            std::string::npos);  // truncated
  EXPECT_NE(error_of([] { CharTokenizer::from_text("a\xC3(z"); }).find("invalid UTF-8 at byte 2"),
            std::string::npos);  // bad continuation byte
  EXPECT_NE(error_of([] { utf8_chars("\x80", "input.txt"); }).find("input.txt: invalid UTF-8 at byte 0"),
            std::string::npos);
  const auto tok = CharTokenizer::from_text("a(\xC3\xA9");
  EXPECT_NE(error_of([&] { tok.encode("a\xE2\x9C"); }).find("invalid UTF-8 at byte 1"), std::string::npos);
}

// A bad continuation byte after a valid lead byte is invalid UTF-8, not an unknown character.
TEST(CharTokenizer, EncodeReportsABadContinuationByteAsInvalidUtf8) {
  const auto tok = CharTokenizer::from_text("a(\xC3\xA9");
  const auto msg = error_of([&] { tok.encode("a\xC3("); });
  EXPECT_NE(msg.find("invalid UTF-8 at byte"), std::string::npos) << msg;
}

TEST(CharTokenizer, ConstructorRejectsEmptyAndDuplicateVocabularies) {
  EXPECT_NE(error_of([] { CharTokenizer(std::vector<std::string>{}); }).find("at least one character"),
            std::string::npos);
  EXPECT_NE(error_of([] { CharTokenizer({"a", "b", "a"}); }).find("duplicate character in the vocabulary at id 2"),
            std::string::npos);
}

TEST(CharTokenizer, SaveLoadRoundTripAndHfTokenizerJson) {
  ScopedTempDir dir;
  const auto tok = CharTokenizer::from_text(shakespeare());
  tok.save(dir.path());
  const auto j = io::read_json(dir / "tokenizer.json");
  EXPECT_EQ(j.at("model").at("type"), "BPE");
  EXPECT_TRUE(j.at("model").at("merges").is_array());
  EXPECT_TRUE(j.at("model").at("merges").empty());
  EXPECT_EQ(j.at("decoder").at("type"), "Fuse");
  EXPECT_TRUE(j.at("pre_tokenizer").is_null());
  EXPECT_TRUE(j.at("normalizer").is_null());
  const auto& vocab = j.at("model").at("vocab");
  ASSERT_EQ(vocab.size(), 65u);
  EXPECT_EQ(vocab.at("\n").get<int64_t>(), 0);
  EXPECT_EQ(vocab.at("h").get<int64_t>(), 46);
  EXPECT_EQ(vocab.at("z").get<int64_t>(), 64);
  const auto cfg = io::read_json(dir / "tokenizer_config.json");
  EXPECT_EQ(cfg.at("tokenizer_class"), "PreTrainedTokenizerFast");

  for (const std::string& path : {dir.path(), dir / "tokenizer.json"}) {
    const auto loaded = load_tokenizer(path);
    ASSERT_NE(loaded, nullptr);
    EXPECT_EQ(loaded->kind(), "char");
    ASSERT_EQ(loaded->vocab_size(), 65);
    for (int64_t i = 0; i < 65; ++i) EXPECT_EQ(loaded->id_to_token(i), tok.id_to_token(i));
    const std::string sample = shakespeare().substr(1000, 500);
    EXPECT_EQ(loaded->encode(sample), tok.encode(sample));
  }
  // Multi-byte vocabularies survive the JSON round trip too.
  ScopedTempDir dir2;
  const auto mb = CharTokenizer::from_text("caf\xC3\xA9 \xE2\x9C\x93");
  mb.save(dir2.path());
  const auto mb2 = load_tokenizer(dir2.path());
  EXPECT_EQ(mb2->encode("\xE2\x9C\x93 caf\xC3\xA9"), mb.encode("\xE2\x9C\x93 caf\xC3\xA9"));
}

TEST(CharTokenizer, LoadTokenizerErrors) {
  ScopedTempDir dir;
  EXPECT_NE(error_of([&] { load_tokenizer(dir / "nope"); }).find("no such file or directory"), std::string::npos);
  EXPECT_NE(error_of([&] { load_tokenizer(dir.path()); }).find("no tokenizer in this directory"),
            std::string::npos);
  // A real BPE tokenizer with merges is not a char tokenizer: it loads as the general pipeline.
  const auto gpt2 = volt_test_data("tokenizers/gpt2/tokenizer.json");
  EXPECT_EQ(CharTokenizer::try_load(gpt2), nullptr);
  EXPECT_EQ(load_tokenizer(gpt2)->kind(), "hf-byte-level-bpe");
}

}  // namespace
}  // namespace volt

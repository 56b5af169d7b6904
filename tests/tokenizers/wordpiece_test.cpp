// The WordPiece model, and a BERT pipeline built on it (BertNormalizer + BertPreTokenizer +
// WordPiece + the WordPiece decoder + the [CLS] $A [SEP] template), against the `tokenizers`
// crate. Every expected id and string comes from the crate itself (npm `tokenizers` 0.23.2, its
// Node binding), printed by
//   node scripts/hf_component_expected.mjs wordpiece
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/hf_tokenizer.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

using test::error_of;

// The script's WP_VOCAB, ids in order.
const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",   "un",  "##aff", "##able", "a",
    "##b",   "##c",   "abc",   "hello", "##lo",   "hel",   "##l", "world", "##s",    ",",
    ".",     "!",     "'",     "t",     "don",    "##n",   "can", "é",     "##é",    "e",
    "##e",   "ni",    "##ño",  "##o",   "中",     "国",    "x",   "##x",   "##xx",   "##xxx",
    "ñ",     "##and", "##ú",   "run",   "##ning", "##ing", "i"};

json wordpiece_json(const json& overrides = json::object()) {
  json vocab = json::object();
  for (size_t i = 0; i < kVocab.size(); ++i) vocab[kVocab[i]] = i;
  json j = {{"type", "WordPiece"},
            {"unk_token", "[UNK]"},
            {"continuing_subword_prefix", "##"},
            {"max_input_chars_per_word", 100},
            {"vocab", vocab}};
  j.update(overrides);
  return j;
}

std::vector<int64_t> tokenize(const Model& m, std::string_view word, bool byte_level = false) {
  std::vector<int64_t> ids;
  m.tokenize(word, byte_level, ids);
  return ids;
}

struct WordCase {
  const char* overrides;
  const char* word;
  std::vector<int64_t> ids;
};

// node scripts/hf_component_expected.mjs wordpiece: one word at a time, under four settings.
const WordCase kWordCases[] = {
    {R"json({})json", "unaffable", {6, 7, 8}},
    {R"json({})json", "hello", {13}},
    {R"json({})json", "hellos", {13, 18}},
    {R"json({})json", "helo", {15, 33}},
    {R"json({})json", "abc", {12}},
    {R"json({})json", "abcc", {12, 11}},
    {R"json({})json", "ab", {9, 10}},
    {R"json({})json", "running", {43, 44}},
    {R"json({})json", "runing", {43, 45}},
    {R"json({})json", "niño", {31, 32}},
    {R"json({})json", "ñandú", {40, 41, 42}},
    {R"json({})json", "é", {27}},
    {R"json({})json", "éé", {27, 28}},
    {R"json({})json", "xxxxxxx", {36, 39, 39}},
    {R"json({})json", "zebra", {1}},
    {R"json({})json", "unaffablez", {1}},
    {R"json({})json", "the", {5}},
    {R"json({})json", "##aff", {7}},
    {R"json({"max_input_chars_per_word":5})json", "unaffable", {1}},
    {R"json({"max_input_chars_per_word":5})json", "hello", {13}},
    {R"json({"max_input_chars_per_word":5})json", "hellos", {1}},
    {R"json({"max_input_chars_per_word":5})json", "helo", {15, 33}},
    {R"json({"max_input_chars_per_word":5})json", "abc", {12}},
    {R"json({"max_input_chars_per_word":5})json", "abcc", {12, 11}},
    {R"json({"max_input_chars_per_word":5})json", "ab", {9, 10}},
    {R"json({"max_input_chars_per_word":5})json", "running", {1}},
    {R"json({"max_input_chars_per_word":5})json", "runing", {1}},
    {R"json({"max_input_chars_per_word":5})json", "niño", {31, 32}},
    {R"json({"max_input_chars_per_word":5})json", "ñandú", {40, 41, 42}},
    {R"json({"max_input_chars_per_word":5})json", "é", {27}},
    {R"json({"max_input_chars_per_word":5})json", "éé", {27, 28}},
    {R"json({"max_input_chars_per_word":5})json", "xxxxxxx", {1}},
    {R"json({"max_input_chars_per_word":5})json", "zebra", {1}},
    {R"json({"max_input_chars_per_word":5})json", "unaffablez", {1}},
    {R"json({"max_input_chars_per_word":5})json", "the", {5}},
    {R"json({"max_input_chars_per_word":5})json", "##aff", {7}},
    {R"json({"continuing_subword_prefix":""})json", "unaffable", {1}},
    {R"json({"continuing_subword_prefix":""})json", "hello", {13}},
    {R"json({"continuing_subword_prefix":""})json", "hellos", {1}},
    {R"json({"continuing_subword_prefix":""})json", "helo", {1}},
    {R"json({"continuing_subword_prefix":""})json", "abc", {12}},
    {R"json({"continuing_subword_prefix":""})json", "abcc", {1}},
    {R"json({"continuing_subword_prefix":""})json", "ab", {1}},
    {R"json({"continuing_subword_prefix":""})json", "running", {1}},
    {R"json({"continuing_subword_prefix":""})json", "runing", {1}},
    {R"json({"continuing_subword_prefix":""})json", "niño", {1}},
    {R"json({"continuing_subword_prefix":""})json", "ñandú", {1}},
    {R"json({"continuing_subword_prefix":""})json", "é", {27}},
    {R"json({"continuing_subword_prefix":""})json", "éé", {27, 27}},
    {R"json({"continuing_subword_prefix":""})json", "xxxxxxx", {36, 36, 36, 36, 36, 36, 36}},
    {R"json({"continuing_subword_prefix":""})json", "zebra", {1}},
    {R"json({"continuing_subword_prefix":""})json", "unaffablez", {1}},
    {R"json({"continuing_subword_prefix":""})json", "the", {5}},
    {R"json({"continuing_subword_prefix":""})json", "##aff", {7}},
    {R"json({"unk_token":"[MASK]"})json", "unaffable", {6, 7, 8}},
    {R"json({"unk_token":"[MASK]"})json", "hello", {13}},
    {R"json({"unk_token":"[MASK]"})json", "hellos", {13, 18}},
    {R"json({"unk_token":"[MASK]"})json", "helo", {15, 33}},
    {R"json({"unk_token":"[MASK]"})json", "abc", {12}},
    {R"json({"unk_token":"[MASK]"})json", "abcc", {12, 11}},
    {R"json({"unk_token":"[MASK]"})json", "ab", {9, 10}},
    {R"json({"unk_token":"[MASK]"})json", "running", {43, 44}},
    {R"json({"unk_token":"[MASK]"})json", "runing", {43, 45}},
    {R"json({"unk_token":"[MASK]"})json", "niño", {31, 32}},
    {R"json({"unk_token":"[MASK]"})json", "ñandú", {40, 41, 42}},
    {R"json({"unk_token":"[MASK]"})json", "é", {27}},
    {R"json({"unk_token":"[MASK]"})json", "éé", {27, 28}},
    {R"json({"unk_token":"[MASK]"})json", "xxxxxxx", {36, 39, 39}},
    {R"json({"unk_token":"[MASK]"})json", "zebra", {4}},
    {R"json({"unk_token":"[MASK]"})json", "unaffablez", {4}},
    {R"json({"unk_token":"[MASK]"})json", "the", {5}},
    {R"json({"unk_token":"[MASK]"})json", "##aff", {7}},
};

TEST(WordPiece, GreedyLongestMatchAsTheCrate) {
  for (const auto& c : kWordCases) {
    const auto m = wordpiece_model_from_json(wordpiece_json(json::parse(c.overrides)), "test.json");
    EXPECT_EQ(tokenize(*m, c.word), c.ids) << c.overrides << " on '" << c.word << "'";
  }
}

TEST(WordPiece, EmptyWordHasNoPieces) {
  // models/wordpiece/mod.rs tokenize: the loop over the word never runs and nothing is bad.
  const auto m = wordpiece_model_from_json(wordpiece_json(), "test.json");
  EXPECT_TRUE(tokenize(*m, "").empty());
}

struct ByteLevelCase {
  const char* text;
  std::vector<std::string> alphabet_words;  // the crate's pre-tokenized words (byte alphabet)
  std::vector<int64_t> ids;
};

// node scripts/hf_component_expected.mjs wordpiece: a ByteLevel pre-tokenizer before the model.
const ByteLevelCase kByteLevelCases[] = {
    {"hi hé", {"hi", "ĠhÃ©"}, {2, 6, 5, 3, 4}},
    {" hi", {"Ġhi"}, {1}},
};

TEST(WordPiece, ByteLevelWordsGoThroughTheByteAlphabet) {
  const auto m = wordpiece_model_from_json(
      json::parse(R"({"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##",)"
                  R"("max_input_chars_per_word":100,)"
                  R"("vocab":{"[UNK]":0,"Ġhi":1,"h":2,"##Ã":3,"##©":4,"Ġh":5,"##i":6}})"),
      "test.json");
  for (const auto& c : kByteLevelCases) {
    // volt's ByteLevel pre-tokenizer hands the model raw bytes with byte_level = true; the same
    // raw words are the crate's alphabet words read back.
    std::vector<int64_t> raw_ids, mapped_ids;
    for (const auto& w : c.alphabet_words) {
      std::string raw;
      for (size_t i = 0; i < w.size();) {
        raw.push_back(static_cast<char>(byte_from_unicode(unicode::next_code_point(w, i))));
      }
      m->tokenize(raw, true, raw_ids);
      m->tokenize(w, false, mapped_ids);
    }
    EXPECT_EQ(raw_ids, c.ids) << c.text;
    EXPECT_EQ(mapped_ids, c.ids) << c.text;
  }
}

TEST(WordPiece, VocabularyLookupsAndJson) {
  const auto m = wordpiece_model_from_json(wordpiece_json(), "test.json");
  EXPECT_EQ(m->vocab_size(), static_cast<int64_t>(kVocab.size()));
  for (size_t i = 0; i < kVocab.size(); ++i) {
    ASSERT_NE(m->id_to_token(static_cast<int64_t>(i)), nullptr);
    EXPECT_EQ(*m->id_to_token(static_cast<int64_t>(i)), kVocab[i]);
    EXPECT_EQ(m->token_to_id(kVocab[i]), static_cast<int64_t>(i));
  }
  EXPECT_EQ(m->id_to_token(-1), nullptr);
  EXPECT_EQ(m->id_to_token(static_cast<int64_t>(kVocab.size())), nullptr);
  EXPECT_EQ(m->token_to_id("aff"), std::nullopt);  // only "##aff" is in the vocabulary
  EXPECT_EQ(m->to_json(), wordpiece_json());
  // What to_json writes loads back into the same model.
  const auto again = wordpiece_model_from_json(m->to_json(), "test.json");
  EXPECT_EQ(tokenize(*again, "unaffable"), (std::vector<int64_t>{6, 7, 8}));
}

TEST(WordPiece, SparseIdsAndBuilderDefaults) {
  // The crate's WordPieceBuilder fills in [UNK], "##" and 100 when the file leaves them out.
  const auto m = wordpiece_model_from_json(
      json::parse(R"({"type":"WordPiece","vocab":{"[UNK]":7,"a":4000000000,"##b":12}})"),
      "test.json");
  EXPECT_EQ(tokenize(*m, "ab"), (std::vector<int64_t>{4000000000, 12}));
  EXPECT_EQ(tokenize(*m, "ba"), (std::vector<int64_t>{7}));
  EXPECT_EQ(tokenize(*m, std::string(101, 'a')), (std::vector<int64_t>{7}));
  ASSERT_NE(m->id_to_token(4000000000), nullptr);
  EXPECT_EQ(*m->id_to_token(4000000000), "a");
  EXPECT_EQ(m->id_to_token(8), nullptr);
  EXPECT_EQ(m->vocab_size(), 3);
  EXPECT_EQ(m->to_json().at("continuing_subword_prefix"), "##");
}

TEST(WordPiece, ErrorsNameTheFileAndTheProblem) {
  auto load = [](const char* text) {
    return wordpiece_model_from_json(json::parse(text), "test.json");
  };
  // As in the crate, a missing unk token is an error only once a word needs it.
  const auto m = load(R"({"type":"WordPiece","unk_token":"<unk>","vocab":{"a":0}})");
  EXPECT_EQ(tokenize(*m, "a"), (std::vector<int64_t>{0}));
  EXPECT_EQ(
      error_of([&] { tokenize(*m, "b"); }),
      "[tokenizer.json] test.json: WordPiece unk_token '<unk>' is not in the vocabulary, and a "
      "word needs it");
  EXPECT_EQ(error_of([&] { load(R"({"type":"WordPiece"})"); }),
            "[tokenizer.json] test.json: WordPiece model has no \"vocab\" object");
  EXPECT_EQ(error_of([&] { load(R"({"type":"WordPiece","vocab":{"a":"0"}})"); }),
            "[tokenizer.json] test.json: vocab entry 'a' has a non-integer id \"0\"");
  EXPECT_EQ(error_of([&] { load(R"({"type":"WordPiece","vocab":{"a":-1}})"); }),
            "[tokenizer.json] test.json: vocab entry 'a' has id -1 out of range");
  EXPECT_EQ(
      error_of([&] { load(R"({"type":"WordPiece","max_input_chars_per_word":-5,"vocab":{}})"); }),
      "[tokenizer.json] test.json: WordPiece max_input_chars_per_word must be a non-negative "
      "integer, got -5");
  EXPECT_NE(error_of([&] {
              load(R"({"type":"WordPiece","unk_token":5,"vocab":{}})");
            }).find("test.json: WordPiece model: "),
            std::string::npos);
}

// ------------------------------------------------------------------------------ BERT pipeline

json bert_tokenizer_json() {
  json added = json::array();
  for (int id = 0; id < 5; ++id) {
    added.push_back({{"id", id},
                     {"content", kVocab[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  auto special = [](const char* name, int type_id) {
    return json{{"SpecialToken", {{"id", name}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* name, int type_id) {
    return json{{"Sequence", {{"id", name}, {"type_id", type_id}}}};
  };
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       json::parse(R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,)"
                   R"("strip_accents":null,"lowercase":true})")},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)}},
        {"pair",
         {special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0), sequence("B", 1),
          special("[SEP]", 1)}},
        {"special_tokens",
         {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
          {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model", wordpiece_json()},
  };
}

struct BertCase {
  const char* text;
  const char* normalized;
  std::vector<std::string> words;  // the crate's BertPreTokenizer words
  std::vector<int64_t> ids;
  std::vector<int64_t> ids_with_special;
  const char* decoded;
  const char* decoded_skip_special;
};

// node scripts/hf_component_expected.mjs wordpiece: the BERT pipeline.
const BertCase kBertCases[] = {
    {"Hello, WORLD! Unaffable.",
     "hello, world! unaffable.",
     {"hello", ",", "world", "!", "unaffable", "."},
     {13, 19, 17, 21, 6, 7, 8, 20},
     {2, 13, 19, 17, 21, 6, 7, 8, 20, 3},
     "[CLS] hello, world! unaffable. [SEP]",
     "hello, world! unaffable."},
    {"Don't stop running, i can't!",
     "don't stop running, i can't!",
     {"don", "'", "t", "stop", "running", ",", "i", "can", "'", "t", "!"},
     {24, 22, 23, 1, 43, 44, 19, 46, 26, 22, 23, 21},
     {2, 24, 22, 23, 1, 43, 44, 19, 46, 26, 22, 23, 21, 3},
     "[CLS] don ' t [UNK] running, i can ' t! [SEP]",
     "don ' t running, i can ' t!"},
    {"Niño ÑANDÚ é中国x",
     "nino nandu e 中  国 x",
     {"nino", "nandu", "e", "中", "国", "x"},
     {31, 25, 33, 1, 29, 34, 35, 36},
     {2, 31, 25, 33, 1, 29, 34, 35, 36, 3},
     "[CLS] nino [UNK] e 中 国 x [SEP]",
     "nino e 中 国 x"},
    {"hello[SEP]world [MASK]",
     "hello[sep]world [mask]",
     {"hello", "[", "sep", "]", "world", "[", "mask", "]"},
     {13, 3, 17, 4},
     {2, 13, 3, 17, 4, 3},
     "[CLS] hello [SEP] world [MASK] [SEP]",
     "hello world"},
    {"  ", "  ", {}, {}, {2, 3}, "[CLS] [SEP]", ""},
    {"Héllo\u00A0wörld\tzebra",
     "hello world zebra",
     {"hello", "world", "zebra"},
     {13, 17, 1},
     {2, 13, 17, 1, 3},
     "[CLS] hello world [UNK] [SEP]",
     "hello world"},
};

TEST(WordPiece, BertPipelineComponentsAsTheCrate) {
  const json j = bert_tokenizer_json();
  const auto normalizer = normalizer_from_json(j.at("normalizer"), "test.json");
  const auto model = wordpiece_model_from_json(j.at("model"), "test.json");
  const auto decoder = decoder_from_json(j.at("decoder"), "test.json");
  for (const auto& c : kBertCases) {
    EXPECT_EQ(normalizer->normalize(c.text), c.normalized) << c.text;
    // The ids of each pre-tokenized word (no added token in the text: they split it first).
    if (std::string(c.text).find('[') == std::string::npos) {
      std::vector<int64_t> ids;
      for (const auto& w : c.words) model->tokenize(w, false, ids);
      EXPECT_EQ(ids, c.ids) << c.text;
    }
    std::vector<std::string> tokens;
    for (int64_t id : c.ids_with_special) tokens.push_back(*model->id_to_token(id));
    std::string decoded;
    for (const auto& t : decoder->decode_chain(tokens)) decoded += t;
    EXPECT_EQ(decoded, c.decoded) << c.text;
  }
}

TEST(WordPiece, BertPipelineEncodesAndDecodesAsTheCrate) {
  const HfTokenizer tok(bert_tokenizer_json(), "test.json");
  EXPECT_EQ(tok.kind(), "hf-wordpiece");
  for (const auto& c : kBertCases) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << c.text;
    EncodeOptions with_special;
    with_special.add_special_tokens = true;
    EXPECT_EQ(tok.encode(c.text, with_special), c.ids_with_special) << c.text;
    EXPECT_EQ(tok.decode(c.ids_with_special), c.decoded) << c.text;
    EXPECT_EQ(tok.decode(c.ids_with_special, /*skip_special=*/true), c.decoded_skip_special)
        << c.text;
  }
}

// Offsets through the whole BERT pipeline: a piece covers the original bytes its normalized text
// came from (accents stripped and letters lowercased in place), [UNK] covers its whole word, the
// spaces BERT drops belong to no token, and [CLS]/[SEP] are empty at the ends.
TEST(WordPiece, BertOffsetsPointAtTheOriginalBytes) {
  const HfTokenizer tok(bert_tokenizer_json(), "test.json");
  const std::string text = "Ni\u00F1o \u00D1AND\u00DA \u00E9\u4E2D\u56FDx";
  EncodeOptions with_special;
  with_special.add_special_tokens = true;
  const Encoding e = tok.encode_with_offsets(text, with_special);
  EXPECT_EQ(e.ids, (std::vector<int64_t>{2, 31, 25, 33, 1, 29, 34, 35, 36, 3}));
  std::vector<std::string> pieces;
  for (const auto& sp : e.offsets) pieces.push_back(text.substr(sp.start, sp.end - sp.start));
  EXPECT_EQ(pieces, (std::vector<std::string>{"", "Ni", "\u00F1", "o", "\u00D1AND\u00DA", "\u00E9",
                                              "\u4E2D", "\u56FD", "x", ""}));
  EXPECT_EQ(e.offsets.front().start, 0u);
  EXPECT_EQ(e.offsets.back().start, text.size());
}

// A byte-level word through WordPiece: pieces of the alphabet map back to the word's bytes.
TEST(WordPiece, ByteLevelSpansAreRawBytes) {
  const auto model = wordpiece_model_from_json(wordpiece_json(), "test.json");
  std::vector<int64_t> ids;
  std::vector<Span> spans;
  model->tokenize_spans("abcc", true, ids, spans);
  EXPECT_EQ(ids, (std::vector<int64_t>{12, 11}));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].begin, 0u);
  EXPECT_EQ(spans[0].end, 3u);
  EXPECT_EQ(spans[1].begin, 3u);
  EXPECT_EQ(spans[1].end, 4u);
}

}  // namespace
}  // namespace volt::hf

// encode_with_offsets on hand-checked texts, one per rule of its contract (tokenizer.h), for each
// kind of tokenizer: byte-level BPE, SentencePiece-style tokenizer.json, SentencePiece .model,
// tiktoken, char; WordPiece and the added-token rules are in wordpiece_test.cpp and
// hf_pipeline_test.cpp. Then token_mask_for_spans, and the chat case it exists for: the assistant
// reply of a rendered Qwen3 conversation, marked as a byte span, becomes exactly its tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "offsets_checks.h"
#include "test_data.h"
#include "test_util.h"
#include "volt/tokenizers/char_tokenizer.h"
#include "volt/tokenizers/span_mask.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {
namespace {

using test::error_of;
using Spans = std::vector<ByteSpan>;

std::shared_ptr<Tokenizer> load(const std::string& rel) {
  return load_tokenizer(volt_test_data("tokenizers/" + rel));
}

// The offsets, after checking that the ids are encode()'s and the offsets keep the contract.
Spans offsets_of(const Tokenizer& tok, const std::string& text, const EncodeOptions& o = {},
                 test::OffsetsExpectations want = {}) {
  const Encoding e = tok.encode_with_offsets(text, o);
  EXPECT_EQ(e.ids, tok.encode(text, o)) << text;
  EXPECT_EQ(test::check_offsets(tok, text, e, want), "") << text;
  return e.offsets;
}

std::string show(const Spans& spans) {
  std::string s;
  for (const auto& sp : spans)
    s += "[" + std::to_string(sp.start) + "," + std::to_string(sp.end) + ") ";
  return s;
}

#define EXPECT_SPANS(actual, ...) EXPECT_EQ(show(actual), show(Spans{__VA_ARGS__}))

TEST(Offsets, ByteLevelTokensCoverTheirBytesEvenInsideACharacter) {
  const auto gpt2 = load("gpt2/tokenizer.json");
  EXPECT_SPANS(offsets_of(*gpt2, "Hello world"), {0, 5}, {5, 11});
  // "🦙" is 4 bytes; GPT-2 has it as " \xF0\x9F", "\x99" ... : each token covers its own bytes.
  EXPECT_SPANS(offsets_of(*gpt2, "Hi \U0001F999 there"), {0, 2}, {2, 5}, {5, 6}, {6, 7}, {7, 13});
  // A special token written in the text covers what it matched.
  EXPECT_SPANS(offsets_of(*gpt2, "a<|endoftext|>b"), {0, 1}, {1, 14}, {14, 15});
}

TEST(Offsets, TemplateAndBosEosTokensAreEmptyAtTheEnds) {
  const auto llama31 = load("llama3_1");
  EncodeOptions o;
  o.add_special_tokens = true;
  o.add_eos = true;
  const Encoding e = llama31->encode_with_offsets("Hi there", o);
  EXPECT_EQ(e.ids.front(), 128000);  // <|begin_of_text|>, from the post-processor
  EXPECT_EQ(e.ids.back(), 128009);   // <|eot_id|>, its eos_token
  EXPECT_SPANS(e.offsets, {0, 0}, {0, 2}, {2, 8}, {8, 8});
  const auto llama2 = load("llama2/tokenizer.model");
  EXPECT_SPANS(offsets_of(*llama2, "", o), {0, 0}, {0, 0});
}

TEST(Offsets, NormalizedCharactersMapBackToTheirInputBytes) {
  // Qwen3 NFC-normalizes: "e" + U+0301 (3 bytes) becomes "é" (2 bytes) inside the token "fé".
  const auto qwen = load("qwen3");
  test::OffsetsExpectations nfc;
  nfc.tokens_decode_to_their_bytes = false;  // "fé" decodes composed, the text is decomposed
  EXPECT_SPANS(offsets_of(*qwen, "cafe\u0301 ok", {}, nfc), {0, 2}, {2, 6}, {6, 9});
  // Gemma 3 writes " " as "▁" (3 bytes from 1), and spells characters it lacks byte by byte.
  const auto gemma = load("gemma3");
  const Encoding e = gemma->encode_with_offsets("a \U0001F999 \u216B");
  EXPECT_EQ(gemma->id_to_token(e.ids[2]), "<0xF0>");
  EXPECT_SPANS(e.offsets, {0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8}, {8, 9},
               {9, 10});
}

TEST(Offsets, InsertedSpacesCoverNoInput) {
  // Mistral: the Prepend normalizer's "▁" joins the first word without adding a byte; after <s>,
  // the next piece is prepended again, and that "▁" is a token of its own: empty, at 15.
  const auto mistral = load("mistral");
  const Encoding e = mistral->encode_with_offsets("Hello  world<s> x");
  EXPECT_EQ(e.ids, (std::vector<int64_t>{22557, 28705, 1526, 1, 28705, 1318}));
  EXPECT_SPANS(e.offsets, {0, 5}, {5, 6}, {6, 12}, {12, 15}, {15, 15}, {15, 17});
  // SentencePiece's dummy prefix: "▁▁" is the dummy one and the first space.
  const auto llama2 = load("llama2/tokenizer.model");
  EXPECT_SPANS(offsets_of(*llama2, "  Hi"), {0, 1}, {1, 4});
  // Text after a special piece gets its own dummy prefix: a lone "▁" (29871), empty at 9.
  const Encoding s = llama2->encode_with_offsets("Hello <s> world");
  EXPECT_EQ(s.ids, (std::vector<int64_t>{15043, 29871, 1, 29871, 3186}));
  EXPECT_SPANS(s.offsets, {0, 5}, {5, 6}, {6, 9}, {9, 9}, {9, 15});
}

TEST(Offsets, PreTokenizerSplitsOfTodaysFamilies) {
  // DeepSeek-V3 splits CJK runs and digit triples before its word regex.
  const auto deepseek = load("deepseek_v3");
  EncodeOptions o;
  o.add_special_tokens = true;  // add_bos_token: true
  const Encoding e = deepseek->encode_with_offsets("\u4F60\u597Dworld 123456", o);
  EXPECT_EQ(e.ids.front(), 0);
  EXPECT_SPANS(e.offsets, {0, 0}, {0, 6}, {6, 11}, {11, 12}, {12, 15}, {15, 18});
  // gpt-oss (o200k): case-aware words ("HTTP" "Server", " i" "Phone"), a contraction apart.
  const auto gptoss = load("gptoss");
  const std::string text = "HTTPServer's iPhone";
  const Encoding g = gptoss->encode_with_offsets(text);
  EXPECT_EQ(test::check_offsets(*gptoss, text, g), "");
  std::vector<std::string> pieces;
  for (const auto& sp : g.offsets) pieces.push_back(text.substr(sp.start, sp.end - sp.start));
  EXPECT_EQ(pieces, (std::vector<std::string>{"HTTP", "Server", "'s", " i", "Phone"}));
}

TEST(Offsets, TiktokenAndCharTokenizers) {
  const auto r50k = load("gpt2/r50k_base.tiktoken");
  EXPECT_SPANS(offsets_of(*r50k, "Hello<|endoftext|> world"), {0, 5}, {5, 18}, {18, 24});
  EncodeOptions plain;
  plain.parse_special = false;  // "<|endoftext|>" as text: "<", "|", "endoftext", "|", ">"
  EXPECT_EQ(offsets_of(*r50k, "<|endoftext|>", plain).back().end, 13u);
  const CharTokenizer chars = CharTokenizer::from_text("h\u00E9!");
  EXPECT_SPANS(offsets_of(chars, "h\u00E9!"), {0, 1}, {1, 3}, {3, 4});
}

TEST(Offsets, EncodeWithOffsetsChecksItsInput) {
  const auto gpt2 = load("gpt2/tokenizer.json");
  EXPECT_NE(error_of([&] { gpt2->encode_with_offsets("ab\xC3("); }).find("invalid UTF-8 at byte 2"),
            std::string::npos);
  EncodeOptions bos;
  bos.add_bos = true;  // a bare GPT-2 tokenizer.json names no BOS
  EXPECT_NE(error_of([&] { gpt2->encode_with_offsets("a", bos); }).find("has no BOS token"),
            std::string::npos);
}

// ------------------------------------------------------------------------ token_mask_for_spans

TEST(TokenMask, TokensOverlappingASpanAreInIt) {
  const Spans tokens = {{0, 0}, {0, 3}, {3, 5}, {5, 9}, {9, 9}};
  EXPECT_EQ(token_mask_for_spans(tokens, {{3, 9}}), (std::vector<uint8_t>{0, 0, 1, 1, 0}));
  // A span inside one token takes the token; empty tokens are in no span.
  EXPECT_EQ(token_mask_for_spans(tokens, {{6, 7}}), (std::vector<uint8_t>{0, 0, 0, 1, 0}));
  EXPECT_EQ(token_mask_for_spans(tokens, {{0, 9}}), (std::vector<uint8_t>{0, 1, 1, 1, 0}));
  // Spans in any order, overlapping or touching; an empty span selects nothing.
  EXPECT_EQ(token_mask_for_spans(tokens, {{5, 9}, {4, 4}, {0, 2}, {1, 3}}),
            (std::vector<uint8_t>{0, 1, 0, 1, 0}));
  EXPECT_EQ(token_mask_for_spans(tokens, {}), (std::vector<uint8_t>(5, 0)));
}

TEST(TokenMask, StraddlingTokensAreIncludedOrAnError) {
  const Spans tokens = {{0, 4}, {4, 8}};
  EXPECT_EQ(token_mask_for_spans(tokens, {{2, 8}}), (std::vector<uint8_t>{1, 1}));
  EXPECT_NE(error_of([&] {
              token_mask_for_spans(tokens, {{2, 8}}, SpanEdge::kError);
            }).find("token 0 (bytes [0, 4)) straddles the edge of the span [2, 8)"),
            std::string::npos);
  // Touching spans act as one: a token across the seam is inside.
  EXPECT_EQ(token_mask_for_spans(tokens, {{0, 6}, {6, 8}}, SpanEdge::kError),
            (std::vector<uint8_t>{1, 1}));
  EXPECT_NE(error_of([&] {
              token_mask_for_spans(tokens, {{5, 3}});
            }).find("ends before it starts"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              token_mask_for_spans({{4, 8}, {0, 4}}, {{0, 1}});
            }).find("offsets must come from encode_with_offsets"),
            std::string::npos);
}

// The loss mask of a chat: the assistant's reply (its text and the end-of-turn token that closes
// it, as transformers' {% generation %} marks it), given as a byte span of the rendered text, is
// exactly the tokens the mask selects. Chat formats of four families; Gemma 3's newlines are
// added tokens, Mistral's reply starts with a space its first token holds.
struct ChatCase {
  const char* tokenizer;
  std::string prompt, reply, after;
  SpanEdge edge;
};

TEST(TokenMask, MarksTheAssistantReplyOfARenderedChat) {
  const std::vector<ChatCase> cases = {
      {"qwen3", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
       "It is 4.<|im_end|>", "\n", SpanEdge::kError},
      {"llama3_1",
       "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\n",
       "It is 4.<|eot_id|>", "", SpanEdge::kError},
      {"gemma3", "<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
       "It is 4.\n\nSure.<end_of_turn>", "\n", SpanEdge::kError},
      {"deepseek_v3",
       "<\uFF5Cbegin\u2581of\u2581sentence\uFF5C><\uFF5CUser\uFF5C>What is 2+2?"
       "<\uFF5CAssistant\uFF5C>",
       "It is 4.<\uFF5Cend\u2581of\u2581sentence\uFF5C>", "", SpanEdge::kError},
      {"mistral", "<s>[INST] What is 2+2? [/INST]", " It is 4.</s>", "", SpanEdge::kInclude},
  };
  for (const auto& c : cases) {
    const auto tok = load(c.tokenizer);
    const std::string text = c.prompt + c.reply + c.after;
    const Encoding e = tok->encode_with_offsets(text);
    EXPECT_EQ(test::check_offsets(*tok, text, e), "") << c.tokenizer;
    const auto mask = token_mask_for_spans(
        e.offsets, {{c.prompt.size(), c.prompt.size() + c.reply.size()}}, c.edge);
    std::vector<int64_t> masked;
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i]) masked.push_back(e.ids[i]);
    }
    // Mistral's decoder drops the reply's leading space, as it drops any text's.
    const std::string want = c.reply[0] == ' ' ? c.reply.substr(1) : c.reply;
    EXPECT_EQ(tok->decode(masked), want) << c.tokenizer;
    EXPECT_EQ(masked.back(), *tok->eos_id()) << c.tokenizer;
    // The prompt's last token and what follows the reply are not the assistant's.
    const size_t first = static_cast<size_t>(std::find(mask.begin(), mask.end(), 1) - mask.begin());
    ASSERT_GT(first, 0u) << c.tokenizer;
    EXPECT_LE(e.offsets[first - 1].end, c.prompt.size() + (c.edge == SpanEdge::kInclude ? 1 : 0))
        << c.tokenizer;
    if (!c.after.empty()) {
      EXPECT_EQ(mask.back(), 0) << c.tokenizer;
    }
  }
}

}  // namespace
}  // namespace volt

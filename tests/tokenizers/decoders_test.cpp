// Hugging Face decoders against the `tokenizers` crate. Every expected value comes from the crate
// itself (npm `tokenizers` 0.23.2, its Node binding), printed by
//   node scripts/hf_component_expected.mjs decoders
// The error cases and the places where volt is deliberately more lenient are volt's own.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "volt/tokenizers/hf_components.h"

namespace volt::hf {
namespace {

using test::error_of;
using namespace std::string_view_literals;

std::unique_ptr<Decoder> decoder(const char* config) {
  return decoder_from_json(json::parse(config), "test/tokenizer.json");
}

std::string join(const std::vector<std::string>& tokens, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < tokens.size(); ++i) s += (i ? sep : "") + tokens[i];
  return s;
}

struct Expected {
  std::vector<std::string> tokens;
  std::string_view joined;  // what decode() returns: the chain's tokens, concatenated
  std::string_view chain;   // the chain's tokens joined by " " (the script's SHOW_TOKENS)
};

struct Case {
  const char* config;
  std::vector<Expected> expected;
};

// node scripts/hf_component_expected.mjs decoders
const Case kCases[] = {
    {R"json({"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,)json"
     R"json("use_regex":true})json",
     {
         {{"Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ċ"},
          "Hello my friend, how\n",
          "Hello my friend, how\n"},
         {{"æ", "Īĳ", "€x", "Ġ"}, "我€x ", "我€x "},
         {{"âĤ", "A", "Ģ", "À¯", "íłĢ", "ðĢ", "ôĲĢĢ", "ðŁĺ", "z"},
          "�A�������������z",
          "�A�������������z"},
         {{}, "", ""},
     }},
    {R"json({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true})json",
     {
         {{"▁Hey", "▁friend!", "▁▁a"}, "Hey friend!  a", "Hey  friend!   a"},
         {{"▁a▁c", "▁b"}, "ac b", "ac  b"},
         {{"x▁"}, "x", "x"},
     }},
    {R"json({"type":"Metaspace","replacement":"▁","prepend_scheme":"first"})json",
     {
         {{"▁a▁c", "▁b"}, "ac b", "ac  b"},
     }},
    {R"json({"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":false})json",
     {
         {{"▁a▁c", "▁b"}, " a c b", " a c  b"},
     }},
    {R"json({"type":"Metaspace","replacement":"▁","add_prefix_space":true})json",
     {
         {{"▁Hey", "▁friend!"}, "Hey friend!", "Hey  friend!"},
     }},
    {R"json({"type":"Metaspace","replacement":"_","add_prefix_space":false,)json"
     R"json("prepend_scheme":"never"})json",
     {
         {{"_a_", "_b"}, " a  b", " a   b"},
     }},
    {R"json({"type":"ByteFallback"})json",
     {
         {{"Hey", "<0x61>", "friend!"}, "Heyafriend!", "Hey a friend!"},
         {{"<0xE5>", "<0x8f>", "<0xab>", "a", "<0xE5>", "<0x8f>", "b"}, "叫a��b", "叫 a � � b"},
         {{"<0xC3>", "<0xA9>", "<0xC3>"}, "���", "� � �"},
         {{"<0x>", "<0x411>", "<0xf>", "<0X41>", "<0x4g>", "<0x+f>", "<0x-1>"},
          "<0x><0x411><0xf><0X41><0x4g>\017<0x-1>",
          "<0x> <0x411> <0xf> <0X41> <0x4g> \017 <0x-1>"},
     }},
    {R"json({"type":"Fuse"})json",
     {
         {{"Hey", " friend!", ""}, "Hey friend!", "Hey friend!"},
         {{}, "", ""},
     }},
    {R"json({"type":"Strip","content":" ","start":1,"stop":0})json",
     {
         {{"  a", " b", "c "}, " abc ", " a b c "},
     }},
    {R"json({"type":"Strip","content":"H","start":2,"stop":2})json",
     {
         {{"HHaHH", "HHHHH", "xHH", "aH", "HeyH"}, "aHxaey", "a H x a ey"},
     }},
    {R"json({"type":"Replace","pattern":{"String":"▁"},"content":" "})json",
     {
         {{"▁a", "b▁▁", ""}, " ab  ", " a b   "},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"(a)"},"content":"$1$1"})json",
     {
         {{"abc", "bab"}, "$1$1bcb$1$1b", "$1$1bc b$1$1b"},
     }},
    {R"json({"type":"WordPiece","prefix":"##","cleanup":true})json",
     {
         {{"##a", "do", "not", "i", "'", "m", "hi", ".", "##b##c", "x", "?", "!", ",", "n't", "'s",
           "'ve", "'re"},
          "##a do not i ' m hi.b##c x?!,n't's've're",
          "##a  do  not  i  '  m  hi . b##c  x ? ! , n't 's 've 're"},
         {{"un", "##aff", "##able", "do not", "it ' s", "can 't", "x ."},
          "unaffable don't it's can 't x.",
          "un aff able  don't  it's  can 't  x."},
     }},
    {R"json({"type":"WordPiece","prefix":"##","cleanup":false})json",
     {
         {{"##uelo", "Ara", "##új", "##o", "No", "##guera", "."},
          "##uelo Araújo Noguera .",
          "##uelo  Ara új o  No guera  ."},
     }},
    {R"json({"type":"WordPiece","prefix":"@@","cleanup":false})json",
     {
         {{"a", "@@b", "##c"}, "ab ##c", "a b  ##c"},
     }},
    {R"json({"type":"BPEDecoder","suffix":"</w>"})json",
     {
         {{"hel", "lo</w>", "wor", "ld</w>"}, "hello world", "hel lo  wor ld"},
         {{" a</w>", "b</w>  "}, " a b  ", " a  b  "},
         {{}, "", ""},
     }},
    {R"json({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true})json",
     {
         {{"<pad>", "h", "h", "e", "|", "|", "l", "<pad>", "l", "o", "o", "<pad>", "."},
          "he llo.",
          "h e   l l o ."},
     }},
    {R"json({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":false})json",
     {
         {{"a", "a", "|", " .", "b"}, "a| .b", "a |  . b"},
     }},
    {R"json({"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},)json"
     R"json("content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip",)json"
     R"json("content":" ","start":1,"stop":0}]})json",
     {
         {{"▁Hi", "<0xE2>", "<0x82>", "<0xAC>", "▁<0x41>", "▁▁x"},
          "Hi€ <0x41>  x",
          "Hi€ <0x41>  x"},
     }},
};

TEST(Decoder, MatchesTheCrate) {
  for (const auto& c : kCases) {
    const auto d = decoder(c.config);
    for (const auto& e : c.expected) {
      const auto chain = d->decode_chain(e.tokens);
      EXPECT_EQ(join(chain, ""), e.joined) << c.config << "\n  on " << join(e.tokens, " | ");
      EXPECT_EQ(join(chain, " "), e.chain) << c.config << "\n  on " << join(e.tokens, " | ");
    }
  }
}

TEST(Decoder, ByteLevelReadsInvalidUtf8AsRustsFromUtf8Lossy) {
  // One U+FFFD per maximal invalid subsequence: "\xF0\x9F\x98" (a truncated emoji) is one,
  // "\xC0\xAF" (overlong) is two.
  const auto d = decoder(R"({"type":"ByteLevel"})");
  auto bytes = [](std::string_view raw) { return bytes_to_alphabet(raw); };
  EXPECT_EQ(d->decode_chain({bytes("\xF0\x9F\x98"), "x"}), std::vector<std::string>{"\uFFFDx"});
  EXPECT_EQ(d->decode_chain({bytes("\xC0\xAF")}), std::vector<std::string>{"\uFFFD\uFFFD"});
  EXPECT_EQ(d->decode_chain({bytes("\xF0\x9F\x98\x80")}), std::vector<std::string>{"\U0001F600"});
}

TEST(Decoder, LegacyMetaspaceWithoutPrefixSpaceMeansNever) {
  // volt only: the crate rejects add_prefix_space=false unless prepend_scheme is "never"; files
  // written before prepend_scheme existed carry just add_prefix_space, meaning "never".
  const auto d = decoder(R"({"type":"Metaspace","replacement":"▁","add_prefix_space":false})");
  EXPECT_EQ(join(d->decode_chain({"▁a▁c", "▁b"}), ""), " a c b");
}

TEST(Decoder, StripNeverRunsPastTheToken) {
  // volt only: the crate indexes out of bounds (a panic) when a token is all `content` and
  // shorter than start + stop; here nothing of it is left.
  const auto d = decoder(R"({"type":"Strip","content":"H","start":2,"stop":2})");
  EXPECT_EQ(d->decode_chain({"H", "HHH", "", "HxH"}), (std::vector<std::string>{"", "", "", "x"}));
}

TEST(Decoder, ErrorsNameTheFileAndTheProblem) {
  auto err = [](const char* cfg) { return error_of([&] { decoder(cfg); }); };
  EXPECT_EQ(err(R"({"type":"Foo"})"),
            "[tokenizer.json] test/tokenizer.json: decoder 'Foo' is not supported (supported: "
            "ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder, CTC, "
            "Sequence)");
  EXPECT_EQ(err(R"({"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"Foo"}]})"),
            err(R"({"type":"Foo"})"));
  EXPECT_EQ(err(R"({"decoders":[]})"),
            "[tokenizer.json] test/tokenizer.json: a decoder must be an object with a \"type\"");
  // Fields the crate requires are required here too.
  EXPECT_EQ(err(R"({"type":"WordPiece","prefix":"##"})"),
            "[tokenizer.json] test/tokenizer.json: decoder WordPiece has no \"cleanup\"");
  EXPECT_EQ(err(R"({"type":"Metaspace","prepend_scheme":"always"})"),
            "[tokenizer.json] test/tokenizer.json: decoder Metaspace has no \"replacement\"");
  EXPECT_EQ(err(R"({"type":"Metaspace","replacement":"▁▁"})"),
            "[tokenizer.json] test/tokenizer.json: Metaspace replacement must be one character, "
            "got '▁▁'");
  EXPECT_EQ(err(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"})"),
            "[tokenizer.json] test/tokenizer.json: Metaspace prepend_scheme 'sometimes' is not one "
            "of always, first, never");
  EXPECT_EQ(err(R"({"type":"Metaspace","replacement":"▁","add_prefix_space":false,)"
                R"("prepend_scheme":"first"})"),
            "[tokenizer.json] test/tokenizer.json: Metaspace add_prefix_space=false contradicts "
            "prepend_scheme 'first'");
  EXPECT_EQ(err(R"({"type":"Strip","content":"","start":1,"stop":0})"),
            "[tokenizer.json] test/tokenizer.json: Strip content must be one character, got ''");
  EXPECT_EQ(
      err(R"({"type":"Strip","content":" ","start":-1,"stop":0})"),
      "[tokenizer.json] test/tokenizer.json: Strip start must be a non-negative integer, got -1");
  EXPECT_NE(err(R"({"type":"BPEDecoder","suffix":7})").find("decoder BPEDecoder: "),
            std::string::npos);
  EXPECT_NE(err(R"({"type":"Replace","pattern":{"Regex":"("},"content":""})")
                .find("test/tokenizer.json: Replace regex '(' does not compile"),
            std::string::npos);
}

}  // namespace
}  // namespace volt::hf

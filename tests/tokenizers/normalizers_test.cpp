// Hugging Face normalizers against the `tokenizers` crate. Every expected value comes from the
// crate itself (npm `tokenizers` 0.23.2, its Node binding), printed by
//   node scripts/hf_component_expected.mjs normalizers   (the case table)
//   node scripts/hf_component_expected.mjs unicode       (the per-code-point digests)
// The error cases and the few places where volt is deliberately more lenient are volt's own.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"
#include "volt/core/sha256.h"
#include "volt/io/files.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

using test::error_of;
using namespace std::string_view_literals;

// SentencePiece rules (ﬁ->fi, Ａ->A, 𝔾->G, ZWJ->' ', a+◌́->á, ا+◌ٓ->آ, A->a, é->e+◌́, Ⅰ->I)
// compiled by spm_train; the script's comment says how.
constexpr const char* kSmallCharsmap =
    "AAQAAAAAAQBBDQAACAAAgMwYAgCBBQAAEQAAgKkFAAAKAACA2UQCAKdgAwCTBQAAFAAAgI0FAAAAAACABgAAgKxwAg"
    "CARAIAoH0AAIEFAAAOAACAoQkAAIWQAgACAACAnWwCAJT8AgC+DQAABAAAgBoAAAAdAAAAHAAAAB8AAAC8qAIAIQAA"
    "AGG4AwAjAAAAIgAAACUAAAAkAAAAJwAAACYAAAApAAAAKAAAACsAAAAqAAAALQAAACwAAAAvAAAALgAAADEAAAAwAA"
    "AAMwAAADIAAAA1AAAANAAAADcAAAA2AAAAOQAAADgAAAA7AAAAOgAAAD0AAAA8AAAAPwAAAD4AAABBAAAAQAAAAEMA"
    "AABCAAAARQAAAEQAAABHAAAARgAAAEkAAABIAAAASwAAAEoAAABNAAAATAAAAE8AAABOAAAAUQAAAFAAAABTAAAAUg"
    "AAAFUAAABUAAAAVwAAAFYAAABZAAAAWAAAAFsAAABaAAAAXQAAAFwAAABfAAAAXgAAAGEAAABgAAAAYwAAAGIAAABl"
    "AAAAZAAAAGcAAABmAAAAaQAAAGgAAABrAAAAagAAAG0AAABsAAAAbwAAAG4AAABxAAAAcAAAAHMAAAByAAAAdQAAAH"
    "QAAAB3AAAAdgAAAHkAAAB4AAAAewAAAHoAAAB9AAAAfAAAAH8AAAB+AAAAgQAAAIAAAACDAAAAw7AAAIUAAACEAAAA"
    "hwAAAIYAAACJAAAAiAAAAIsAAACKAAAAjQAAAIwAAACPAAAAjgAAAJEAAACQAAAAkwAAAJIAAACVAAAAlAAAAJcAAA"
    "CWAAAA2NgAAJgAAACbAAAAmgAAAJ0AAACcAAAAnwAAAJ4AAAChAAAAoAAAAOLIAACiAAAApQAAAKQAAACnAAAApgAA"
    "AKkAAACoAAAAqwAAAKoAAACtAAAArAAAAK8AAADvMAAA8OgAALAAAACzAAAAsgAAALUAAAC0AAAAtwAAALYAAAC5AA"
    "AAuAAAALsAAAC6AAAAvQAAALwAAAC/AAAAvgAAAMEAAADAAAAAwwAAAMIAAADFAAAAxAAAAMcAAADGAAAAyQAAAMgA"
    "AADLAAAAygAAAM0AAADMAAAAzwAAAM4AAADRAAAA0AAAANMAAADSAAAA1QAAANQAAADXAAAA1gAAANkAAADYAAAA2w"
    "AAANoAAADdAAAA3AAAAN8AAADeAAAA4QAAAOAAAADjAAAA4gAAAOUAAADkAAAA5wAAAOYAAADpAAAA6AAAAOsAAADq"
    "AAAA7QAAAOwAAADvAAAA7gAAAPEAAADwAAAA8wAAAPIAAAD1AAAA9AAAAPcAAAD2AAAA+QAAAPgAAAD7AAAA+gAAAP"
    "0AAAD8AAAA/wAAAP4AAAAgAEEARwBJAGEAZcyBAGZpAMOhANiiAA==";

json config(const char* text) {
  std::string s = text;
  if (auto at = s.find("SMALL_CHARSMAP"); at != std::string::npos) {
    s.replace(at, std::string("SMALL_CHARSMAP").size(), kSmallCharsmap);
  }
  return json::parse(s);
}

std::string normalize(const char* cfg, std::string_view text) {
  return normalizer_from_json(config(cfg), "test/tokenizer.json")->normalize(text);
}

struct Case {
  const char* config;
  std::vector<std::pair<std::string_view, std::string_view>> io;  // {input, expected}; may hold NUL
};

// node scripts/hf_component_expected.mjs normalizers
const Case kCases[] = {
    {R"json({"type":"NFC"})json",
     {
         {"e\u0301 A\u030A 한", "é Å 한"},
         {"a\u0301\u07FD", "á\u07FD"},
         {"x\u0315\u0301", "x\u0301\u0315"},
     }},
    {R"json({"type":"NFD"})json",
     {
         {"é Å ḱ ệ 한", "e\u0301 A\u030A k\u0301 e\u0323\u0302 한"},
         {"x\u0301\u0D3B", "x\u0301\u0D3B"},
         {"\U00011938", "\U00011938"},
     }},
    {R"json({"type":"NFKC"})json",
     {
         {"ﬁ ① Ａ ㎏ ½ x²", "fi 1 A kg 1⁄2 x2"},
         {"🅬 ㋿", "🅬 ㋿"},
     }},
    {R"json({"type":"NFKD"})json",
     {
         {"ﬁé ǅ", "fie\u0301 Dz\u030C"},
         {"㋿", "㋿"},
     }},
    {R"json({"type":"Lowercase"})json",
     {
         {"HELLO World", "hello world"},
         {"ΟΔΟΣ Σ. İx ǅ ẞ ÀÉ", "οδοσ σ. i\u0307x ǆ ß àé"},
         {"𐵐Ƛ", "𐵰ƛ"},
     }},
    {R"json({"type":"Prepend","prepend":"▁"})json",
     {
         {"", ""},
         {"hello world", "▁hello world"},
     }},
    {R"json({"type":"Replace","pattern":{"String":" "},"content":"▁"})json",
     {
         {"  hello  world ", "▁▁hello▁▁world▁"},
         {"", ""},
     }},
    {R"json({"type":"Replace","pattern":{"String":"a.b"},"content":"X"})json",
     {
         {"a.b axb a.ba.b", "X axb XX"},
     }},
    {R"json({"type":"Replace","pattern":{"String":""},"content":"-"})json",
     {
         {"ab", "-a-b-"},
         {"", ""},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "})json",
     {
         {"This     is   a\t\n test", "This is a test"},
         {"a\013b\u0085c\u00A0d\u2028e\u200Bf", "a b c d e\u200Bf"},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"a*"},"content":"-"})json",
     {
         {"baaac", "-b-c-"},
         {"", ""},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"^a|b$"},"content":"-"})json",
     {
         {"ab\nab", "--\n--"},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"a.c"},"content":"-"})json",
     {
         {"a\nc a\015c a\u2028c abc", "a\nc - - -"},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"(?<=a)b"},"content":"$1"})json",
     {
         {"abab bb", "a$1a$1 bb"},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"(l)(e)"},"content":"$1 $2"})json",
     {
         {"le travail", "$1 $2 travail"},
     }},
    {R"json({"type":"Replace","pattern":{"Regex":"\\d+"},"content":"#"})json",
     {
         {"a1 b22 c٣٤", "a# b# c#"},
     }},
    {R"json({"type":"Strip","strip_left":true,"strip_right":false})json",
     {
         {" \u3000 x \u00A0", "x \u00A0"},
     }},
    {R"json({"type":"Strip","strip_left":false,"strip_right":true})json",
     {
         {"\t x \u2029\n", "\t x"},
     }},
    {R"json({"type":"Strip","strip_left":true,"strip_right":true})json",
     {
         {" \u200B x\u0085 ", "\u200B x"},
         {"   ", ""},
     }},
    {R"json({"type":"StripAccents"})json",
     {
         {"क\u093E é ำ e\u0301\u0304\u0304o", "क é ำ eo"},
         {"ᳲx\U000111C9", "x\U000111C9"},
     }},
    {R"json({"type":"Sequence","normalizers":[{"type":"NFKD"},{"type":"StripAccents"},)json"
     R"json({"type":"Lowercase"}]})json",
     {
         {"Cụ thể, ậ… Me llamó", "cu the, a... me llamo"},
         {"ำน\u0E49ำ3ลำ", "านา3ลา"},
     }},
    {R"json({"type":"Nmt"})json",
     {
         {"a\001b\tc▁d\u200Be�f\013g\u008Fh\n", "ab c d e fgh "},
     }},
    {R"json({"type":"ByteLevel"})json",
     {
         {"Hello 我今天", "HelloĠæĪĳä»Ĭå¤©"},
         {"", ""},
     }},
    {R"json({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":false,)json"
     R"json("strip_accents":false,"lowercase":false})json",
     {
         {"a\000b�c\u0085d\u00ADe\tf\n\015\013g\014h\u3000i\u2028j\u200Bk\uE000l\u0378m"sv,
          "abcde f  gh i jkl\u0378m"},
         {"new Cf: \u0890\U00013430\U000110CD old Cf: \u180E\u2066\u061C",
          "new Cf: \u0890\U00013430\U000110CD old Cf: "},
     }},
    {R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":true,)json"
     R"json("strip_accents":false,"lowercase":false})json",
     {
         {"a中b文c 𫠠𫤠㐀 한국어 ひらがな",
          "a 中 b 文 c 𫠠 𫤠  㐀  한국어 ひらがな"},
     }},
    {R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,)json"
     R"json("strip_accents":true,"lowercase":false})json",
     {
         {"Héllo à la Ça क\u093F \u1734\u1885\uA9BD", "Hello a la Ca क\u093F \u1885\uA9BD"},
     }},
    {R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,)json"
     R"json("strip_accents":null,"lowercase":true})json",
     {
         {"ÉCOLE Straße", "ecole straße"},
     }},
    {R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,)json"
     R"json("strip_accents":null,"lowercase":false})json",
     {
         {"ÉCOLE Straße", "ÉCOLE Straße"},
     }},
    {R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,)json"
     R"json("lowercase":true})json",
     {
         {"ÉCOLE", "ecole"},
     }},
    {R"json({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,)json"
     R"json("strip_accents":null,"lowercase":true})json",
     {
         {"Hello, WORLD!  Héllo\u00A0wörld\t中国人 ΑΣ",
          "hello, world!  hello world  中  国  人  ασ"},
         {"  \000 Don't  stop\u200D "sv, "   don't  stop "},
     }},
    {R"json({"type":"Precompiled","precompiled_charsmap":"SMALL_CHARSMAP"})json",
     {
         {"ﬁ Ａ 𝔾\u200Dx", "fi A G x"},
         {"a\u0301 A\u0301 A\u0301\u0301\u0301", "á a a\u0301\u0301\u0301"},
         {"ا\u0653 é Ⅰ", "آ e\u0301 I"},
         {"plain text", "plain text"},
         {"", ""},
     }},
    {R"json({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},)json"
     R"json({"type":"Replace","pattern":{"String":" "},"content":"▁"}]})json",
     {
         {"Hello world", "▁Hello▁world"},
         {" x ", "▁▁x▁"},
         {"", ""},
     }},
};

TEST(Normalizer, MatchesTheCrate) {
  for (const auto& c : kCases) {
    const auto n = normalizer_from_json(config(c.config), "test/tokenizer.json");
    for (const auto& [input, expected] : c.io) {
      EXPECT_EQ(n->normalize(input), expected) << c.config << "\n  on \"" << input << "\"";
    }
  }
}

struct UnicodeCase {
  const char* name;
  const char* config;
  const char* sha256;
};

// node scripts/hf_component_expected.mjs unicode: what each normalizer makes of every code point.
const UnicodeCase kUnicodeCases[] = {
    {"NFC", R"json({"type":"NFC"})json",
     "bff8755312bc77f24146568cb0e1ca60bc5097c3c76a76f04d45f690e019588a"},
    {"NFD", R"json({"type":"NFD"})json",
     "bd3c9b5953fc61a947f9cf7b68eb2679ce5a8acc4eec2b9cded563fd98bd07d9"},
    {"NFKC", R"json({"type":"NFKC"})json",
     "edfe371dde25cbf335a5ef99b40e9ba4d684dba6364fb27fb5cbd785893ab47e"},
    {"NFKD", R"json({"type":"NFKD"})json",
     "47151c3a5d2a10a46877ca5a151c680f52f348442791d365bf3b49c7b957d67a"},
    {"Lowercase", R"json({"type":"Lowercase"})json",
     "09e78efd50925191515e82c250a82461c6d5e1f51181e2e549c66cb7918e0824"},
    {"StripAccents", R"json({"type":"StripAccents"})json",
     "935f6a0ac7bf1282bfe639ac65b6b3b21302e0608aec249d3cc33de7efa1d497"},
    {"BertClean",
     R"json({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":false,)json"
     R"json("strip_accents":false,"lowercase":false})json",
     "55ed4bd99bbb8770493f48cedcf00c5326f0875a5a359f60d2960b496eb1cc10"},
    {"BertChinese",
     R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":true,)json"
     R"json("strip_accents":false,"lowercase":false})json",
     "fb764f174c877e0df784c34b80892c5fb802d7ee337ef089d21cf0b5317c03a9"},
    {"BertAccents",
     R"json({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,)json"
     R"json("strip_accents":true,"lowercase":false})json",
     "a4d8642dcf029aa92c4d817f4dfdc22b8d149a76f1e3626e588c7ab5250b0076"},
};

// Every code point from U+0001 to U+10FFFF (no surrogates, no separator), in chunks of 4096, each
// followed by a separator; the digest covers the normalized chunks, as the script computes it.
// A mismatch means some character's treatment differs from the crate's: the script's --dump
// lists, per normalizer, every code point the crate changes and into what.
TEST(Normalizer, EveryCodePointAsTheCrate) {
  for (const auto& c : kUnicodeCases) {
    const auto n = normalizer_from_json(config(c.config), "test/tokenizer.json");
    const uint32_t sep = std::string(c.name).rfind("Bert", 0) == 0 ? '|' : 0xE000;
    Sha256 digest;
    std::string chunk;
    int in_chunk = 0;
    for (uint32_t cp = 1; cp <= 0x10FFFF; ++cp) {
      if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == sep) continue;
      unicode::append_utf8(chunk, cp);
      unicode::append_utf8(chunk, sep);
      if (++in_chunk == 4096) {
        digest.update(n->normalize(chunk));
        chunk.clear();
        in_chunk = 0;
      }
    }
    if (!chunk.empty()) digest.update(n->normalize(chunk));
    EXPECT_EQ(digest.hex_digest(), c.sha256) << c.name;
  }
}

// normalize_aligned (for encode_with_offsets) writes what normalize writes, and says for each
// byte which input bytes it came from: checked on every case above and on the torture text.
TEST(Normalizer, AlignedRunWritesTheSameTextAndMapsEachByteBack) {
  const std::string torture =
      io::read_file((std::filesystem::path(__FILE__).parent_path().parent_path() /
                     "goldens/tokenizers/unicode_torture.txt")
                        .string());
  const auto check = [&](const char* cfg, std::string_view input) {
    const auto n = normalizer_from_json(config(cfg), "test/tokenizer.json");
    AlignedText a;
    n->normalize_aligned(input, a);
    EXPECT_EQ(a.text, n->normalize(input)) << cfg;
    ASSERT_EQ(a.from.size(), a.text.size()) << cfg;
    for (size_t i = 0; i < a.from.size(); ++i) {
      ASSERT_LE(a.from[i].begin, a.from[i].end) << cfg << " byte " << i;
      ASSERT_LE(a.from[i].end, input.size()) << cfg << " byte " << i;
      if (i > 0) {
        ASSERT_GE(a.from[i].begin, a.from[i - 1].begin) << cfg << " byte " << i;
        ASSERT_GE(a.from[i].end, a.from[i - 1].end) << cfg << " byte " << i;
      }
    }
  };
  for (const auto& c : kCases) {
    for (const auto& [input, expected] : c.io) check(c.config, input);
    check(c.config, torture);
  }
  for (const auto& c : kUnicodeCases) check(c.config, torture);
}

TEST(Normalizer, AlignedRunMapsRewritesToTheirInput) {
  const auto spans = [](const char* cfg, std::string_view input) {
    AlignedText a;
    normalizer_from_json(config(cfg), "test/tokenizer.json")->normalize_aligned(input, a);
    std::string s;
    for (const Span& sp : a.from)
      s += std::to_string(sp.begin) + "-" + std::to_string(sp.end) + " ";
    return s;
  };
  // NFC: "e" + U+0301 (3 bytes) becomes "é" (2 bytes), both from all 3.
  EXPECT_EQ(spans(R"({"type":"NFC"})", "e\u0301x"), "0-3 0-3 3-4 ");
  // A space becomes "▁": its 3 bytes come from the one space.
  EXPECT_EQ(spans(R"({"type":"Replace","pattern":{"String":" "},"content":"\u2581"})", "a b"),
            "0-1 1-2 1-2 1-2 2-3 ");
  // Prepend: the prefix comes from no input (empty, at 0).
  EXPECT_EQ(spans(R"({"type":"Prepend","prepend":"\u2581"})", "ab"), "0-0 0-0 0-0 0-1 1-2 ");
  // Lowercase maps a character at a time: U+0130 (2 bytes) becomes "i" + U+0307 (3 bytes).
  EXPECT_EQ(spans(R"({"type":"Lowercase"})", "\u0130A"), "0-2 0-2 0-2 2-3 ");
  // BERT's spaces around a CJK character come from no input; its accents go with their letter.
  EXPECT_EQ(spans(R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,)"
                  R"("strip_accents":true,"lowercase":true})",
                  "\u00C9\u4E2D"),
            "0-2 2-2 2-5 2-5 2-5 5-5 ");
  // Strip keeps the middle, each byte where it was.
  EXPECT_EQ(spans(R"({"type":"Strip","strip_left":true,"strip_right":true})", " a "), "1-2 ");
}

TEST(Normalizer, EmptyPrecompiledCharsmapIsTheIdentity) {
  // volt only: the crate cannot load an empty charsmap; an empty rule set changes nothing.
  EXPECT_EQ(normalize(R"({"type":"Precompiled","precompiled_charsmap":""})", "ﬁ Ａ"), "ﬁ Ａ");
  EXPECT_EQ(normalize(R"({"type":"Precompiled","precompiled_charsmap":null})", "ﬁ Ａ"), "ﬁ Ａ");
}

TEST(Normalizer, ErrorsNameTheFileAndTheProblem) {
  auto err = [](const char* cfg) { return error_of([&] { normalize(cfg, "x"); }); };
  EXPECT_EQ(
      err(R"({"type":"Foo"})"),
      "[tokenizer.json] test/tokenizer.json: normalizer 'Foo' is not supported (supported: "
      "NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Nmt, ByteLevel, Prepend, Strip, Replace, "
      "BertNormalizer, Precompiled, Sequence)");
  EXPECT_EQ(err(R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Foo"}]})"),
            err(R"({"type":"Foo"})"));
  EXPECT_EQ(err(R"({"normalizers":[]})"),
            "[tokenizer.json] test/tokenizer.json: a normalizer must be an object with a \"type\"");
  // Fields the crate requires are required here too.
  EXPECT_EQ(err(R"({"type":"Strip","strip_left":true})"),
            "[tokenizer.json] test/tokenizer.json: normalizer Strip has no \"strip_right\"");
  EXPECT_EQ(err(R"({"type":"BertNormalizer","clean_text":true,"lowercase":true})"),
            "[tokenizer.json] test/tokenizer.json: normalizer BertNormalizer has no "
            "\"handle_chinese_chars\"");
  EXPECT_EQ(err(R"({"type":"Lowercase","x":1})"), "<no error>");
  EXPECT_NE(err(R"({"type":"Prepend","prepend":3})").find("normalizer Prepend: "),
            std::string::npos);
  EXPECT_EQ(err(R"({"type":"Replace","pattern":{"Glob":"*"},"content":""})"),
            "[tokenizer.json] test/tokenizer.json: Replace pattern must be {\"String\": ...} or "
            "{\"Regex\": ...}, got {\"Glob\":\"*\"}");
  EXPECT_NE(err(R"({"type":"Replace","pattern":{"Regex":"["},"content":""})")
                .find("test/tokenizer.json: Replace regex '[' does not compile"),
            std::string::npos);
  EXPECT_EQ(err(R"({"type":"Precompiled","precompiled_charsmap":"AAA"})"),
            "[tokenizer.json] test/tokenizer.json: precompiled_charsmap is too short to hold its "
            "trie size");
  EXPECT_EQ(err(R"({"type":"Precompiled","precompiled_charsmap":"not base64!"})"),
            "[tokenizer.json] test/tokenizer.json: precompiled_charsmap is not base64");
  EXPECT_EQ(err(R"({"type":"Precompiled","precompiled_charsmap":"/////wAAAAA="})"),
            "[tokenizer.json] test/tokenizer.json: precompiled_charsmap's trie (4294967295 bytes) "
            "runs past its end (8 bytes)");
}

}  // namespace
}  // namespace volt::hf

// Token-for-token parity with the reference tokenizers, on real corpora and a Unicode torture
// text. Every golden in tests/goldens/tokenizers/<tokenizer>/<corpus>.json (written by
// scripts/tokenizer-goldens/make-goldens.sh from gpt-tokenizer, tiktoken, js-tiktoken,
// @huggingface/tokenizers, SentencePiece, ...) is one test: load the tokenizer, encode the whole
// text, compare the ids; then decode(encode(text)) == text where the reference round-trips.
// A mismatch names the first differing token, the ids around it and the text there.
// Each golden is also a test of encode_with_offsets: the same ids, and offsets that tile the text.
// A missing golden, corpus or tokenizer file is a failure, never a skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "offsets_checks.h"
#include "test_data.h"
#include "test_util.h"
#include "volt/core/sha256.h"
#include "volt/tokenizers/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;

// tests/goldens: env VOLT_GOLDENS_DIR, else beside this source file.
fs::path goldens_dir() {
  if (const char* env = std::getenv("VOLT_GOLDENS_DIR"); env != nullptr && *env != '\0') return env;
  return fs::path(__FILE__).parent_path().parent_path() / "goldens";
}
fs::path tokenizer_goldens_dir() { return goldens_dir() / "tokenizers"; }

// Where "stdlib:" texts live (Debian's libpython3.11-stdlib); env VOLT_PYTHON_STDLIB overrides.
fs::path python_stdlib_dir() {
  if (const char* env = std::getenv("VOLT_PYTHON_STDLIB"); env != nullptr && *env != '\0')
    return env;
  return "/usr/lib/python3.11";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string join_ids(Ids::const_iterator begin, Ids::const_iterator end) {
  std::string s;
  for (auto it = begin; it != end; ++it) {
    if (it != begin) s += ' ';
    s += std::to_string(*it);
  }
  return s;
}

using volt::test::escape_text;

// The bytes [from, to) of text, both ends moved back to a UTF-8 character boundary.
std::string_view utf8_slice(std::string_view text, size_t from, size_t to) {
  auto boundary = [&](size_t i) {
    i = std::min(i, text.size());
    while (i > 0 && i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
    return i;
  };
  from = boundary(from);
  to = boundary(to);
  return text.substr(from, to - from);
}

std::string text_around(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return "\"" + escape_text(utf8_slice(text, offset >= 60 ? offset - 60 : 0, offset)) +
         "\" >>>HERE>>> \"" + escape_text(utf8_slice(text, offset, offset + 60)) + "\"";
}

// Each id with its vocabulary entry (e.g. "Ġthe", "▁the", "<0x0A>"; best effort: a broken
// tokenizer must not hide the ids).
std::string ids_with_pieces(const volt::Tokenizer& tok, const Ids& ids, size_t from, size_t to,
                            size_t mark) {
  std::ostringstream os;
  for (size_t i = from; i < std::min(to, ids.size()); ++i) {
    std::string piece;
    try {
      piece = tok.id_to_token(ids[i]);
    } catch (const std::exception&) {
      piece = "<no such id>";
    }
    os << (i == mark ? " >>" : " ") << ids[i] << "\"" << escape_text(piece) << "\""
       << (i == mark ? "<<" : "");
  }
  return os.str();
}

// The byte offset in text where the ids [0, n) end, from the decoder; "approximate" when the
// decoded prefix is not a prefix of the text.
std::string offset_of_prefix(const volt::Tokenizer& tok, const Ids& ids, size_t n,
                             std::string_view text, size_t* offset) {
  try {
    const std::string prefix =
        tok.decode(Ids(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n)));
    *offset = std::min(prefix.size(), text.size());
    const bool exact = text.substr(0, prefix.size()) == prefix;
    return "byte " + std::to_string(prefix.size()) +
           (exact ? "" : " (approximate: the decoded prefix is not a prefix of the text)");
  } catch (const std::exception& e) {
    *offset = 0;
    return std::string("unknown (decode failed: ") + e.what() + ")";
  }
}

struct GoldenCase {
  std::string name;  // test name: <tokenizer>_<corpus>
  fs::path path;     // the golden json; empty when discovery found nothing
  std::string problem;
};

std::vector<GoldenCase> discover_goldens() {
  std::vector<GoldenCase> cases;
  const fs::path dir = tokenizer_goldens_dir();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return {{"missing_goldens",
             {},
             "golden directory " + dir.string() + " does not exist (env VOLT_GOLDENS_DIR)"}};
  }
  for (const auto& sub : fs::directory_iterator(dir)) {
    if (!sub.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(sub.path())) {
      if (f.path().extension() != ".json") continue;
      std::string name = sub.path().filename().string() + "_" + f.path().stem().string();
      for (auto& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      cases.push_back({name, f.path(), ""});
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const GoldenCase& a, const GoldenCase& b) { return a.name < b.name; });
  if (cases.empty())
    return {{"missing_goldens", {}, "no <tokenizer>/<corpus>.json golden under " + dir.string()}};
  return cases;
}

// gtest prints a failing parameter with this (instead of its bytes).
void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << (c.path.empty() ? c.problem : c.path.string());
}

// The last tokenizer loaded: the goldens run grouped by tokenizer, and the big ones (Gemma 3's
// tokenizer.json is 33 MB) take seconds to load.
std::shared_ptr<volt::Tokenizer> load_once(const std::string& path) {
  static std::string last_path;
  static std::shared_ptr<volt::Tokenizer> last;
  if (path != last_path || !last) {
    last.reset();
    last = volt::load_tokenizer(path);
    last_path = path;
  }
  return last;
}

class TokenizerParity : public ::testing::TestWithParam<GoldenCase> {};

// The golden's text, which must be byte for byte the one the golden was made from.
std::string golden_text(const nlohmann::json& g, const std::string& what) {
  const std::string text_spec = g.at("text");
  fs::path text_path;
  if (text_spec.rfind("stdlib:", 0) == 0) {
    text_path = python_stdlib_dir() / text_spec.substr(7);
  } else if (text_spec.rfind("golden:", 0) == 0) {
    text_path = tokenizer_goldens_dir() / text_spec.substr(7);
  } else {
    text_path = volt_test_data(text_spec);
  }
  if (!fs::exists(text_path))
    throw std::runtime_error(what + ": the text " + text_path.string() + " is missing");
  std::string text = read_file(text_path);
  if (volt::sha256_hex(text) != g.at("text_sha256").get<std::string>()) {
    throw std::runtime_error(what + ": the text " + text_path.string() + " (" +
                             std::to_string(text.size()) +
                             " bytes, golden: " + g.at("text_bytes").dump() +
                             ") is not the one the golden was made from; restore it, or regenerate "
                             "the goldens with scripts/tokenizer-goldens/make-goldens.sh");
  }
  return text;
}

TEST_P(TokenizerParity, MatchesReference) {
  const GoldenCase& c = GetParam();
  ASSERT_TRUE(c.problem.empty()) << c.problem;
  const nlohmann::json g = nlohmann::json::parse(read_file(c.path));
  const std::string tokenizer_path = g.at("tokenizer_path");
  const std::string what = g.at("tokenizer").get<std::string>() + " (" + tokenizer_path + ") on " +
                           g.at("text").get<std::string>();
  std::string text;
  std::shared_ptr<volt::Tokenizer> tok;
  try {
    text = golden_text(g, what);
    tok = load_once(volt_test_data(tokenizer_path));
  } catch (const std::exception& e) {
    FAIL() << what << ": " << e.what();
  }
  ASSERT_NE(tok, nullptr);

  volt::EncodeOptions options;  // no BOS/EOS, no post-processor
  options.parse_special = g.value("parse_special", true);
  Ids ids;
  try {
    ids = tok->encode(text, options);
  } catch (const std::exception& e) {
    FAIL() << what << ": encode failed: " << e.what();
  }

  const size_t expected_tokens = g.at("tokens").get<size_t>();
  const std::string references = g.at("references").dump();
  if (g.contains("ids")) {
    // Small texts: the full list, so the first difference is exact.
    const Ids expected = g.at("ids").get<Ids>();
    const auto mm = std::mismatch(expected.begin(), expected.end(), ids.begin(), ids.end());
    if (mm.first != expected.end() || mm.second != ids.end()) {
      const size_t i = static_cast<size_t>(mm.first - expected.begin());
      size_t offset = 0;
      const std::string where = offset_of_prefix(*tok, expected, i, text, &offset);
      const size_t from = i >= 4 ? i - 4 : 0;
      ADD_FAILURE() << what << ": ids differ from " << references << "\n"
                    << "  first difference at token " << i << " (expected " << expected.size()
                    << " tokens, got " << ids.size() << "), text " << where << "\n"
                    << "  expected [" << from
                    << "..]:" << ids_with_pieces(*tok, expected, from, i + 8, i) << "\n"
                    << "  actual   [" << from
                    << "..]:" << ids_with_pieces(*tok, ids, from, i + 8, i) << "\n"
                    << "  text: " << text_around(text, offset);
    }
  } else {
    // Large texts: a SHA-256 per run of `chunk` ids pins the first differing run, and the text
    // where it starts (the ids before it are right, so decoding them finds the offset).
    const size_t chunk = g.at("chunk").get<size_t>();
    const auto& hashes = g.at("chunk_sha256");
    const size_t expected_chunks = hashes.size();
    for (size_t k = 0; k < std::max(expected_chunks, (ids.size() + chunk - 1) / chunk); ++k) {
      const size_t begin = k * chunk;
      const size_t end = std::min(ids.size(), begin + chunk);
      const std::string got =
          begin < ids.size()
              ? volt::sha256_hex(join_ids(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                          ids.begin() + static_cast<std::ptrdiff_t>(end)))
              : "<no ids>";
      if (k < expected_chunks && got == hashes[k].get<std::string>()) continue;
      size_t offset = 0;
      const std::string where =
          offset_of_prefix(*tok, ids, std::min(begin, ids.size()), text, &offset);
      const std::string golden_name =
          c.path.parent_path().filename().string() + "/" + c.path.stem().string();
      ADD_FAILURE()
          << what << ": ids differ from " << references << "\n"
          << "  expected " << expected_tokens << " tokens, got " << ids.size() << "\n"
          << "  the first difference is in tokens [" << begin << ", " << begin + chunk
          << ") (chunk " << k << " of " << expected_chunks << "), which start at text " << where
          << "\n"
          << "  actual ids there:" << ids_with_pieces(*tok, ids, begin, begin + 16, begin) << "\n"
          << "  text: " << text_around(text, offset) << "\n"
          << "  the reference's ids there: scripts/tokenizer-goldens/make-goldens.sh --show "
          << golden_name << " " << begin << " " << begin + chunk;
      break;
    }
  }
  EXPECT_EQ(ids.size(), expected_tokens) << what;
  EXPECT_EQ(volt::sha256_hex(join_ids(ids.begin(), ids.end())),
            g.at("ids_sha256").get<std::string>())
      << what;

  // decode(encode(text)) == text wherever the reference round-trips.
  if (g.value("round_trip", false)) {
    std::string decoded;
    try {
      decoded = tok->decode(ids);
    } catch (const std::exception& e) {
      FAIL() << what << ": decode failed: " << e.what();
    }
    if (decoded != text) {
      const auto mm = std::mismatch(text.begin(), text.end(), decoded.begin(), decoded.end());
      const size_t at = static_cast<size_t>(mm.first - text.begin());
      ADD_FAILURE() << what << ": decode(encode(text)) != text (" << decoded.size() << " vs "
                    << text.size() << " bytes), first difference at byte " << at << "\n"
                    << "  text:    " << text_around(text, at) << "\n"
                    << "  decoded: " << text_around(decoded, at);
    }
  }
}

// encode_with_offsets on the golden's text: the golden's ids, each with bytes that tile the text
// (no golden tokenizer drops input), and each token that has its bytes to itself decodes to them
// wherever the reference round-trips the text.
TEST_P(TokenizerParity, OffsetsTileTheText) {
  const GoldenCase& c = GetParam();
  ASSERT_TRUE(c.problem.empty()) << c.problem;
  const nlohmann::json g = nlohmann::json::parse(read_file(c.path));
  const std::string tokenizer_path = g.at("tokenizer_path");
  const std::string what = g.at("tokenizer").get<std::string>() + " (" + tokenizer_path + ") on " +
                           g.at("text").get<std::string>();
  volt::Encoding e;
  std::string text;
  std::shared_ptr<volt::Tokenizer> tok;
  try {
    text = golden_text(g, what);
    tok = load_once(volt_test_data(tokenizer_path));
    volt::EncodeOptions options;
    options.parse_special = g.value("parse_special", true);
    e = tok->encode_with_offsets(text, options);
  } catch (const std::exception& ex) {
    FAIL() << what << ": " << ex.what();
  }
  EXPECT_EQ(e.ids.size(), g.at("tokens").get<size_t>()) << what;
  EXPECT_EQ(volt::sha256_hex(join_ids(e.ids.begin(), e.ids.end())),
            g.at("ids_sha256").get<std::string>())
      << what << ": encode_with_offsets gives other ids than the reference (and encode)";
  volt::test::OffsetsExpectations want;
  want.tokens_decode_to_their_bytes = g.value("round_trip", false);
  const std::string problem = volt::test::check_offsets(*tok, text, e, want);
  EXPECT_EQ(problem, "") << what;

  // The Rust crate's own offsets (characters, written as bytes), where the golden has them: each
  // volt span is the crate's or lies inside it (volt is finer: the bytes of a character, nothing
  // for an inserted "▁"); where a normalizer rewrote the text (no round trip: Qwen's NFC composing
  // jamo or reordering marks) it may also hold the crate's, which gives a composed character only
  // part of its input.
  if (!g.contains("reference_offsets")) return;
  const auto ref = g.at("reference_offsets").get<std::vector<std::pair<size_t, size_t>>>();
  ASSERT_EQ(ref.size(), e.offsets.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i) {
    const volt::ByteSpan& v = e.offsets[i];
    const auto [rs, re] = ref[i];
    const bool inside = rs <= v.start && v.end <= re;
    const bool holds = !want.tokens_decode_to_their_bytes && v.start <= rs && re <= v.end;
    if (inside || holds) continue;
    ADD_FAILURE() << what << ": token " << i << " (id " << e.ids[i] << ") covers bytes [" << v.start
                  << ", " << v.end << "), the crate's [" << rs << ", " << re
                  << "); text: " << text_around(text, v.start);
    break;
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, TokenizerParity, ::testing::ValuesIn(discover_goldens()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return info.param.name;
                         });

// Each reference tokenizer has its goldens: a golden directory that lost files fails here.
TEST(TokenizerParityGoldens, EveryTokenizerHasItsGoldens) {
  const fs::path dir = tokenizer_goldens_dir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " does not exist (env VOLT_GOLDENS_DIR)";
  EXPECT_TRUE(fs::exists(dir / "unicode_torture.txt")) << dir / "unicode_torture.txt";
  for (const char* name : {"gpt2", "llama3", "mistral", "llama2", "qwen3", "gemma3", "llama3_1",
                           "deepseek_v3", "gptoss"}) {
    size_t n = 0;
    if (fs::is_directory(dir / name)) {
      for (const auto& f : fs::directory_iterator(dir / name)) n += f.path().extension() == ".json";
    }
    EXPECT_GE(n, 19u) << "goldens for " << name << " under " << dir / name;
  }
}

}  // namespace

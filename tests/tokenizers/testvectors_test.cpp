// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out), read exactly as its
// tests/test-tokenizer-0.cpp reads them:
//   - the inputs are the .inp file split on "\n__ggml_vocab_test__\n": the newline before and the
//     newline after each separator belong to the separator, not to the inputs (so the file's
//     final separator closes the last input, and an input may be empty);
//   - line i of the .out file holds input i's ids separated by spaces (an empty line: no ids);
//   - they were made with add_special=false, parse_special=false: no BOS, special-token strings
//     are plain text. For llama-spm the SentencePiece dummy prefix IS in the ids (" " -> 259 "▁▁",
//     "\t" -> 29871 "▁" + 12 <0x09>): they equal sentencepiece's encode(text).
// (spm_goldens.py and goldens.mjs in scripts/tokenizer-goldens check this reading against
// SentencePiece, tiktoken, gpt-tokenizer, js-tiktoken and @huggingface/tokenizers: all 46 + 46 agree.)
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/tokenizers/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;

struct Case {
  std::string input;
  Ids expected;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// stem: e.g. "tokenizers/testvectors/ggml-vocab-gpt-2.gguf" under the data dir.
std::vector<Case> read_cases(const std::string& stem) {
  const std::string raw = read_file(volt_test_data(stem + ".inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<Ids> outputs;
  std::istringstream out(read_file(volt_test_data(stem + ".out")));
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    Ids ids;
    for (int64_t id; ls >> id;) ids.push_back(id);
    outputs.push_back(std::move(ids));
  }
  if (inputs.size() != outputs.size()) {
    throw std::runtime_error(stem + ": " + std::to_string(inputs.size()) + " inputs but " +
                             std::to_string(outputs.size()) + " expected id lines");
  }
  std::vector<Case> cases;
  for (size_t i = 0; i < inputs.size(); ++i) cases.push_back({inputs[i], outputs[i]});
  return cases;
}

std::string escape(const std::string& s) { return "\"" + volt::test::escape_text(s) + "\""; }

std::string show(const Ids& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "]";
}

// Every case of `stem` through the tokenizer at `tokenizer_path`; one failure per wrong case.
void check_all(const std::string& stem, const std::string& tokenizer_path, const std::string& label) {
  const std::vector<Case> cases = read_cases(stem);
  ASSERT_GE(cases.size(), 40u) << stem << ": fewer cases than llama.cpp ships (46)";
  std::shared_ptr<volt::Tokenizer> tok;
  try {
    tok = volt::load_tokenizer(tokenizer_path);
  } catch (const std::exception& e) {
    FAIL() << label << ": load_tokenizer(" << tokenizer_path << ") failed: " << e.what();
  }
  ASSERT_NE(tok, nullptr);
  volt::EncodeOptions options;  // as llama.cpp: add_special=false, parse_special=false
  options.parse_special = false;
  size_t failed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    Ids got;
    std::string error;
    try {
      got = tok->encode(cases[i].input, options);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty() || got != cases[i].expected) {
      ++failed;
      ADD_FAILURE() << label << " case " << i << " " << escape(cases[i].input) << "\n"
                    << "  expected " << show(cases[i].expected) << "\n"
                    << "  actual   " << (error.empty() ? show(got) : "error: " + error);
    }
  }
  EXPECT_EQ(failed, 0u) << label << ": " << failed << " of " << cases.size() << " cases differ";
}

const char* const kGpt2 = "tokenizers/testvectors/ggml-vocab-gpt-2.gguf";
const char* const kLlamaSpm = "tokenizers/testvectors/ggml-vocab-llama-spm.gguf";

TEST(LlamaCppTestVectors, ReadAsLlamaCppReadsThem) {
  const std::vector<Case> cases = read_cases(kGpt2);
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(cases[1].input, "\xC3\x84pfel");  // "Äpfel": no newline of the separators
  EXPECT_EQ(cases[2].input, "");              // an empty input
  EXPECT_EQ(cases[2].expected, Ids{});
  EXPECT_EQ(cases[3].input, " ");
  EXPECT_EQ(cases[3].expected, Ids{220});
  const std::vector<Case> spm = read_cases(kLlamaSpm);
  ASSERT_EQ(spm.size(), 46u);
  EXPECT_EQ(spm[3].expected, Ids{259});  // " " -> "▁▁": the dummy prefix, no BOS
}

TEST(LlamaCppTestVectors, Gpt2TokenizerJson) {
  check_all(kGpt2, volt_test_data("tokenizers/gpt2/tokenizer.json"), "gpt2 tokenizer.json");
}

TEST(LlamaCppTestVectors, Gpt2VocabAndMerges) {
  // A directory holding only vocab.json + merges.txt (the shared gpt2/ also has tokenizer.json,
  // which a directory lookup would find first).
  volt::test::ScopedTempDir dir;
  fs::copy_file(volt_test_data("tokenizers/gpt2/vocab.json"), dir / "vocab.json");
  fs::copy_file(volt_test_data("tokenizers/gpt2/merges.txt"), dir / "merges.txt");
  check_all(kGpt2, dir.path(), "gpt2 vocab.json + merges.txt");
}

TEST(LlamaCppTestVectors, Gpt2Tiktoken) {
  check_all(kGpt2, volt_test_data("tokenizers/gpt2/r50k_base.tiktoken"), "gpt2 r50k_base.tiktoken");
}

TEST(LlamaCppTestVectors, LlamaSpmSentencePieceModel) {
  check_all(kLlamaSpm, volt_test_data("tokenizers/llama2/tokenizer.model"), "llama2 tokenizer.model");
}

}  // namespace

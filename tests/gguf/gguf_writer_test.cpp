// The GGUF container byte by byte against the format (ggml's docs/gguf.md, gguf-py), ggml's
// number formats against hand computations, the atomic write, and the tokenizer metadata of
// real tokenizers. The same files read by gguf-py and run by llama.cpp: make interop.
#include "volt/gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "test_data.h"
#include "volt/core/check.h"
#include "volt/gguf/ggml_types.h"
#include "volt/gguf/gguf_vocab.h"
#include "volt/io/files.h"

namespace volt::gguf {
namespace {

namespace fs = std::filesystem;

// A cursor over the bytes of a file, reading little-endian fields.
struct Reader {
  const std::string& b;
  size_t at = 0;
  uint64_t uint(size_t n) {
    EXPECT_LE(at + n, b.size());
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(b[at + i])) << (8 * i);
    at += n;
    return v;
  }
  uint32_t u32() { return static_cast<uint32_t>(uint(4)); }
  uint64_t u64() { return uint(8); }
  float f32() {
    const uint32_t u = u32();
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  std::string str() {
    const uint64_t n = u64();
    std::string s = b.substr(at, n);
    at += n;
    return s;
  }
};

fs::path temp_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("volt_gguf_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(GgufWriter, FileBytesFollowTheFormat) {
  Writer w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_f32s("scores", {0.5f, -1.0f});
  w.add_bool("flag", true);
  std::vector<float> values(2 * 32);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  w.add_tensor("token_embd.weight", {2, 32}, TensorType::F32,
               [&](std::string& out) { encode(values.data(), 64, TensorType::F32, out); });
  w.add_tensor("output_norm.weight", {3}, TensorType::F32, [](std::string& out) {
    const float x[3] = {1, 2, 3};
    encode(x, 3, TensorType::F32, out);
  });
  const fs::path dir = temp_dir("bytes");
  const std::string path = (dir / "tiny.gguf").string();
  const int64_t size = w.write(path);
  const std::string b = io::read_file(path);
  ASSERT_EQ(static_cast<int64_t>(b.size()), size);

  Reader r{b};
  EXPECT_EQ(b.substr(0, 4), "GGUF");
  EXPECT_EQ(r.u32(), 0x46554747u);
  EXPECT_EQ(r.u32(), 3u);  // version
  EXPECT_EQ(r.u64(), 2u);  // tensors
  EXPECT_EQ(r.u64(), 4u);  // key/value pairs
  EXPECT_EQ(r.str(), "general.architecture");
  EXPECT_EQ(r.u32(), 8u);  // STRING
  EXPECT_EQ(r.str(), "llama");
  EXPECT_EQ(r.str(), "llama.block_count");
  EXPECT_EQ(r.u32(), 4u);  // UINT32
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_EQ(r.str(), "scores");
  EXPECT_EQ(r.u32(), 9u);  // ARRAY
  EXPECT_EQ(r.u32(), 6u);  // of FLOAT32
  EXPECT_EQ(r.u64(), 2u);
  EXPECT_EQ(r.f32(), 0.5f);
  EXPECT_EQ(r.f32(), -1.0f);
  EXPECT_EQ(r.str(), "flag");
  EXPECT_EQ(r.u32(), 7u);  // BOOL: one byte
  EXPECT_EQ(r.uint(1), 1u);
  // Tensor infos: dims innermost first (ggml's ne), offsets from the data section, aligned.
  EXPECT_EQ(r.str(), "token_embd.weight");
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_EQ(r.u64(), 32u);
  EXPECT_EQ(r.u64(), 2u);
  EXPECT_EQ(r.u32(), 0u);  // F32
  EXPECT_EQ(r.u64(), 0u);
  EXPECT_EQ(r.str(), "output_norm.weight");
  EXPECT_EQ(r.u32(), 1u);
  EXPECT_EQ(r.u64(), 3u);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.u64(), 256u);  // 64 floats = 256 bytes, already a multiple of 32
  const size_t data = (r.at + 31) / 32 * 32;
  for (size_t i = r.at; i < data; ++i) EXPECT_EQ(b[i], '\0') << "padding byte " << i;
  r.at = data;
  for (int i = 0; i < 64; ++i) EXPECT_EQ(r.f32(), static_cast<float>(i));
  EXPECT_EQ(r.f32(), 1.0f);
  EXPECT_EQ(r.f32(), 2.0f);
  EXPECT_EQ(r.f32(), 3.0f);
  EXPECT_EQ(b.size(), data + 256 + 32);  // the last tensor padded to the alignment too
  fs::remove_all(dir);
}

TEST(GgufWriter, FailedWriteLeavesNoFile) {
  const fs::path dir = temp_dir("atomic");
  const std::string path = (dir / "model.gguf").string();
  Writer w;
  w.add_u32("a", 1);
  w.add_tensor("x", {4}, TensorType::F32,
               [](std::string&) { VOLT_FAIL("[test] the weights could not be read"); });
  EXPECT_THROW(w.write(path), Error);
  EXPECT_TRUE(fs::is_empty(dir)) << "a partial or temporary file was left behind";
  fs::remove_all(dir);
}

TEST(GgufWriter, RejectsWhatGgufCannotHold) {
  Writer w;
  w.add_u32("k", 1);
  EXPECT_THROW(w.add_u32("k", 2), Error);  // a key twice
  auto none = [](std::string&) {};
  EXPECT_THROW(w.add_tensor("w", {4, 48}, TensorType::Q8_0, none), Error);  // rows not whole blocks
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), {4}, TensorType::F32, none), Error);
  w.add_tensor("w", {4, 64}, TensorType::Q8_0, none);
  EXPECT_THROW(w.add_tensor("w", {4}, TensorType::F32, none), Error);  // a name twice
}

TEST(GgmlTypes, HalfRoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(0.1f), 0x2e66);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway to 65536: rounds to even, past the largest
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::nanf("")) & 0x7e00, 0x7e00);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie: to even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie: to even (up)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);             // the smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);             // half of it: to even, 0
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);         // 1.5 ulp: to even, 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);             // the smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.0f, -24)), 0x03ff);
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // every finite half survives the round trip
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h);
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h | 0x8000))), h | 0x8000);
  }
}

TEST(GgmlTypes, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie: to even (down)
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie: to even (up)
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(std::nanf("")) & 0x7fc0, 0x7fc0);
}

TEST(GgmlTypes, Q8_0MatchesAHandComputation) {
  // One block x_j = j - 16: max|x| = 16, d = 16/127, q_j = round((j - 16) * 127/16).
  float x[64];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  // A second block with max|x| = 127 (d = 1): q = round(x), halves away from zero like roundf.
  for (int j = 0; j < 32; ++j) x[32 + j] = 0;
  x[32] = 127, x[33] = 2.5f, x[34] = -2.5f, x[35] = 0.49f, x[36] = -126.5f;
  std::string out;
  encode(x, 64, TensorType::Q8_0, out);
  ASSERT_EQ(out.size(), 2u * 34);
  auto u16 = [&](size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(out[at]) | static_cast<uint8_t>(out[at + 1])
                                                                     << 8);
  };
  auto q = [&](size_t block, int j) {
    return static_cast<int>(static_cast<int8_t>(out[block * 34 + 2 + j]));
  };
  // 16/127 = 0.12598..: fp16 0.125 * (1 + 8/1024) = 0x3008.
  EXPECT_EQ(u16(0), 0x3008);
  EXPECT_EQ(q(0, 0), -127);  // -16 * 7.9375
  EXPECT_EQ(q(0, 16), 0);
  EXPECT_EQ(q(0, 17), 8);      // 7.9375
  EXPECT_EQ(q(0, 18), 16);     // 15.875
  EXPECT_EQ(q(0, 31), 119);    // 119.0625
  EXPECT_EQ(u16(34), 0x3c00);  // d = 1
  EXPECT_EQ(q(1, 0), 127);
  EXPECT_EQ(q(1, 1), 3);
  EXPECT_EQ(q(1, 2), -3);
  EXPECT_EQ(q(1, 3), 0);
  EXPECT_EQ(q(1, 4), -127);
  EXPECT_EQ(q(1, 5), 0);
  // An all-zero block: d = 0 and every q 0 (no division by zero).
  std::string zeros;
  const float z[32] = {};
  encode(z, 32, TensorType::Q8_0, zeros);
  EXPECT_EQ(zeros, std::string(34, '\0'));
}

TEST(GgufVocab, ByteLevelTokenizers) {
  const Vocab gpt2 = read_vocab(volt_test_data("tokenizers/gpt2"), 50257, std::nullopt);
  EXPECT_EQ(gpt2.model, "gpt2");
  EXPECT_EQ(gpt2.pre, "gpt-2");
  ASSERT_EQ(gpt2.tokens.size(), 50257u);
  EXPECT_EQ(gpt2.tokens[50256], "<|endoftext|>");
  EXPECT_EQ(gpt2.types[50256], 3);  // control
  EXPECT_EQ(gpt2.types[262], 1);
  EXPECT_EQ(gpt2.merges.size(), 50000u);
  EXPECT_EQ(gpt2.merges[0], "\xC4\xA0 t");  // "Ġ t"
  EXPECT_FALSE(gpt2.add_bos);
  EXPECT_TRUE(gpt2.scores.empty());

  const Vocab llama3 = read_vocab(volt_test_data("tokenizers/llama3_1"), 128256, std::nullopt);
  EXPECT_EQ(llama3.pre, "llama-bpe");
  EXPECT_EQ(llama3.bos, 128000);
  EXPECT_TRUE(llama3.add_bos);
  EXPECT_FALSE(llama3.chat_template.empty());

  const Vocab qwen = read_vocab(volt_test_data("tokenizers/qwen3"), 151936, std::nullopt);
  EXPECT_EQ(qwen.pre, "qwen2");
  EXPECT_TRUE(qwen.normalizer_nfc);
  EXPECT_FALSE(qwen.add_bos);
  EXPECT_EQ(qwen.tokens[151935], "[PAD151935]");  // padded to the model's embedding rows
  EXPECT_EQ(qwen.types[151935], 5);
}

TEST(GgufVocab, SentencePieceStyleTokenizers) {
  const Vocab m = read_vocab(volt_test_data("tokenizers/mistral"), 32000, std::nullopt);
  EXPECT_EQ(m.model, "llama");
  EXPECT_EQ(m.pre, "default");
  EXPECT_EQ(m.tokens[13], "<0x0A>");
  EXPECT_EQ(m.types[13], 6);  // byte
  EXPECT_EQ(m.types[0], 2);   // <unk>
  EXPECT_EQ(m.types[1], 3);   // <s>
  EXPECT_EQ(m.bos, 1);
  EXPECT_EQ(m.eos, 2);
  EXPECT_TRUE(m.add_bos);
  EXPECT_EQ(m.add_space_prefix, std::optional<bool>(true));
  ASSERT_EQ(m.scores.size(), 32000u);
  // "▁ t" is the first merge, "i n" the second: scores order the merges.
  EXPECT_EQ(m.tokens[261], "\xE2\x96\x81t");
  EXPECT_EQ(m.scores[261], -1.0f);
  EXPECT_EQ(m.scores[262], -2.0f);

  const Vocab sp = read_vocab(volt_test_data("tokenizers/llama2"), 32000, std::nullopt);
  EXPECT_EQ(sp.model, "llama");
  EXPECT_EQ(sp.tokens[1], "<s>");
  EXPECT_EQ(sp.types[259], 1);
  EXPECT_EQ(sp.add_space_prefix, std::optional<bool>(true));
}

TEST(GgufVocab, TokenizersLlamaCppCannotRunAreErrors) {
  const fs::path dir = temp_dir("vocab");
  io::write_file_atomic(
      (dir / "tokenizer.json").string(),
      R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}, "added_tokens": []})");
  try {
    read_vocab(dir.string(), 1, std::nullopt);
    FAIL() << "a WordPiece tokenizer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace volt::gguf

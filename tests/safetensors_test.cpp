// The io layer: safetensors reading/writing (round trips, HF byte compatibility, every malformed
// header case) and the small file helpers (atomic writes, JSON files).
#include "volt/io/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "test_data.h"
#include "volt/core/check.h"
#include "volt/io/files.h"

namespace {

namespace fs = std::filesystem;
using volt::io::SafetensorsFile;
using Tensors = std::vector<std::pair<std::string, torch::Tensor>>;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "volt_io_test_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// The message of the volt::Error that fn throws, or a test failure when it throws nothing.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const volt::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a volt::Error";
  return "";
}

void expect_contains(const std::string& message, std::initializer_list<std::string> needles) {
  for (const auto& n : needles) EXPECT_NE(message.find(n), std::string::npos) << message;
}

Tensors sample_tensors() {
  torch::manual_seed(0);
  return {
      {"f32", torch::randn({2, 3})},
      {"bf16", torch::randn({4, 5}).to(torch::kBFloat16)},
      {"f16", torch::randn({3, 1, 2}).to(torch::kFloat16)},
      {"i64.scalar", torch::scalar_tensor(-42, torch::kInt64)},
      {"f64", torch::arange(5, torch::kFloat64) / 3},
      {"i32", torch::arange(-3, 3, torch::kInt32)},
      {"i16", torch::tensor({-7, 300}, torch::kInt16)},
      {"i8", torch::tensor({-128, 127}, torch::kInt8)},
      {"u8", torch::tensor({0, 255}, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"empty", torch::zeros({0, 3})},
      {"transposed", torch::randn({3, 4}).t()},  // non-contiguous: saved in logical order
  };
}

// --- Round trips ---

TEST(Safetensors, RoundTripsDtypesAndShapes) {
  TempDir dir;
  const auto path = dir.file("m.safetensors");
  const Tensors tensors = sample_tensors();
  volt::io::save_safetensors(path, tensors);
  SafetensorsFile f(path);
  ASSERT_EQ(f.names().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(f.contains(name));
    EXPECT_EQ(f.info(name).dtype, t.scalar_type());
    EXPECT_EQ(f.info(name).shape, t.sizes().vec());
    const torch::Tensor loaded = f.load(name);
    EXPECT_EQ(loaded.scalar_type(), t.scalar_type());
    EXPECT_TRUE(torch::equal(loaded, t));
  }
  EXPECT_EQ(f.load("i64.scalar").dim(), 0);
  EXPECT_EQ(f.load("i64.scalar").item<int64_t>(), -42);
  EXPECT_TRUE(f.metadata().empty());
}

TEST(Safetensors, ScalarHasEmptyShapeInHeader) {
  TempDir dir;
  const auto path = dir.file("s.safetensors");
  volt::io::save_safetensors(path, {{"s", torch::scalar_tensor(1.5)}});
  const std::string bytes = volt::io::read_file(path);
  EXPECT_NE(bytes.find(R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4]})"), std::string::npos)
      << bytes;
}

TEST(Safetensors, MetadataRoundTrips) {
  TempDir dir;
  const auto path = dir.file("m.safetensors");
  const std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"step", "1200"}, {"note", "quotes \" and ünïcode"}};
  volt::io::save_safetensors(path, {{"w", torch::ones({2})}}, meta);
  SafetensorsFile f(path);
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.names(), std::vector<std::string>{"w"});
}

TEST(Safetensors, NamesComeInFileOrder) {
  TempDir dir;
  const auto path = dir.file("o.safetensors");
  volt::io::save_safetensors(path, {{"zeta", torch::ones({3})},
                                    {"alpha", torch::ones({2, 2})},
                                    {"none", torch::ones({0})},
                                    {"mid", torch::ones({1})}});
  SafetensorsFile f(path);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"zeta", "alpha", "none", "mid"}));
  EXPECT_EQ(f.info("zeta").begin, 0u);
  EXPECT_EQ(f.info("alpha").begin, 12u);
  EXPECT_EQ(f.info("alpha").end, 28u);
  EXPECT_EQ(f.info("none").begin, 28u);
  EXPECT_EQ(f.info("mid").end, 32u);
}

TEST(Safetensors, WritesPaddedContiguousLayout) {
  TempDir dir;
  const auto path = dir.file("l.safetensors");
  volt::io::save_safetensors(
      path, {{"b", torch::ones({3}, torch::kBFloat16)}, {"a", torch::ones({1}, torch::kInt8)}},
      {{"k", "v"}});
  const std::string bytes = volt::io::read_file(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 6 + 1);
  const std::string header = bytes.substr(8, n);
  const std::string json =
      R"({"__metadata__":{"k":"v"},"b":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]},)"
      R"("a":{"dtype":"I8","shape":[1],"data_offsets":[6,7]}})";
  EXPECT_EQ(header.substr(0, json.size()), json);
  EXPECT_EQ(header.substr(json.size()), std::string(n - json.size(), ' '));
}

TEST(Safetensors, ViewIsZeroCopyAndCopyOnWrite) {
  TempDir dir;
  const auto path = dir.file("v.safetensors");
  const torch::Tensor w = torch::randn({4, 8});
  volt::io::save_safetensors(path, {{"w", w}});
  {
    SafetensorsFile f(path);
    const torch::Tensor v1 = f.view("w");
    const torch::Tensor v2 = f.view("w");
    EXPECT_TRUE(torch::equal(v1, w));
    EXPECT_EQ(v1.data_ptr(), v2.data_ptr());  // both alias the mapping: no copy was made
    EXPECT_NE(f.load("w").data_ptr(), v1.data_ptr());
    v1.zero_();  // lands in this process's private pages only
    EXPECT_TRUE(torch::equal(v2, torch::zeros({4, 8})));
  }
  SafetensorsFile again(path);
  EXPECT_TRUE(torch::equal(again.view("w"), w));
}

TEST(Safetensors, MisalignedTensorStillReadsCorrectly) {
  TempDir dir;
  const auto path = dir.file("a.safetensors");
  const torch::Tensor f32 = torch::tensor({1.25f, -2.5f});
  volt::io::save_safetensors(path, {{"h", torch::ones({1}, torch::kFloat16)}, {"f", f32}});
  SafetensorsFile f(path);
  EXPECT_EQ(f.info("f").begin, 2u);  // not a multiple of 4
  EXPECT_TRUE(torch::equal(f.view("f"), f32));
  EXPECT_TRUE(torch::equal(f.load("f"), f32));
}

TEST(Safetensors, LoadConvertsDtype) {
  TempDir dir;
  const auto path = dir.file("c.safetensors");
  const torch::Tensor b = torch::randn({3, 3}).to(torch::kBFloat16);
  volt::io::save_safetensors(path, {{"b", b}});
  SafetensorsFile f(path);
  const torch::Tensor as_f32 = f.load("b", torch::kFloat32);
  EXPECT_EQ(as_f32.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(as_f32, b.to(torch::kFloat32)));
}

TEST(Safetensors, SavesTensorsThatRequireGrad) {
  TempDir dir;
  const auto path = dir.file("g.safetensors");
  const torch::Tensor p = torch::randn({2, 2}, torch::requires_grad());
  volt::io::save_safetensors(path, {{"p", p * 2}});
  EXPECT_TRUE(torch::equal(SafetensorsFile(path).load("p"), p.detach() * 2));
}

TEST(Safetensors, OverwritesAtomically) {
  TempDir dir;
  const auto path = dir.file("r.safetensors");
  volt::io::save_safetensors(path, {{"old", torch::ones({1})}});
  volt::io::save_safetensors(path, {{"new", torch::zeros({2})}});
  EXPECT_EQ(SafetensorsFile(path).names(), std::vector<std::string>{"new"});
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Safetensors, UnknownNameIsAnError) {
  TempDir dir;
  const auto path = dir.file("u.safetensors");
  volt::io::save_safetensors(path, {{"w", torch::ones({1})}});
  SafetensorsFile f(path);
  EXPECT_FALSE(f.contains("nope"));
  expect_contains(error_of([&] { f.view("nope"); }), {"[safetensors] ", path, "'nope'"});
}

TEST(Safetensors, RejectsBadTensorsOnSave) {
  TempDir dir;
  const auto path = dir.file("bad.safetensors");
  expect_contains(
      error_of([&] {
        volt::io::save_safetensors(path, {{"w", torch::ones({1})}, {"w", torch::ones({1})}});
      }),
      {path, "'w'", "twice"});
  expect_contains(error_of([&] {
                    volt::io::save_safetensors(path, {{"__metadata__", torch::ones({1})}});
                  }),
                  {path, "reserved"});
  expect_contains(
      error_of([&] {
        volt::io::save_safetensors(path, {{"c", torch::ones({1}, torch::kComplexFloat)}});
      }),
      {path, "'c'", "ComplexFloat"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Safetensors, DtypeCodes) {
  EXPECT_EQ(volt::io::dtype_from_safetensors("BF16", "ctx"), torch::kBFloat16);
  EXPECT_EQ(volt::io::dtype_to_safetensors(torch::kFloat16), "F16");
  expect_contains(error_of([] { volt::io::dtype_from_safetensors("U32", "ctx 'x'"); }),
                  {"ctx 'x'", "unknown dtype 'U32'"});
  expect_contains(error_of([] { volt::io::dtype_to_safetensors(torch::kComplexDouble); }),
                  {"ComplexDouble"});
}

// --- Malformed files, built byte by byte ---

TEST(SafetensorsMalformed, MissingFile) {
  TempDir dir;
  const auto path = dir.file("absent.safetensors");
  expect_contains(error_of([&] { SafetensorsFile f(path); }),
                  {"[safetensors] " + path + ": no such file"});
}

TEST(SafetensorsMalformed, ShorterThanEightBytes) {
  TempDir dir;
  for (const std::string& bytes : {std::string(), std::string("\x05\x00\x00\x00", 4)}) {
    const auto path = dir.file("short.safetensors");
    write_bytes(path, bytes);
    expect_contains(error_of([&] { SafetensorsFile f(path); }),
                    {"[safetensors] " + path, "shorter than the 8-byte header length"});
  }
}

TEST(SafetensorsMalformed, HeaderLengthPastEndOfFile) {
  TempDir dir;
  const auto path = dir.file("long.safetensors");
  for (const uint64_t n : {uint64_t{1000}, uint64_t{1} << 63, ~uint64_t{0}}) {
    write_bytes(path, le64(n) + "{}");
    expect_contains(
        error_of([&] { SafetensorsFile f(path); }),
        {"[safetensors] " + path, "header length " + std::to_string(n), "exceeds the 2 bytes"});
  }
}

struct BadHeader {
  const char* case_name;
  std::string header;
  size_t data_size;
  std::vector<std::string> needles;  // besides the "[safetensors] <path>" prefix
};

class SafetensorsBadHeader : public ::testing::TestWithParam<BadHeader> {};

TEST_P(SafetensorsBadHeader, IsAnErrorNamingFileAndProblem) {
  const BadHeader& c = GetParam();
  TempDir dir;
  const auto path = dir.file("broken.safetensors");
  write_bytes(path, le64(c.header.size()) + c.header + std::string(c.data_size, '\0'));
  const std::string message = error_of([&] { SafetensorsFile f(path); });
  EXPECT_EQ(message.rfind("[safetensors] " + path + ": ", 0), 0u) << message;
  for (const auto& n : c.needles) EXPECT_NE(message.find(n), std::string::npos) << message;
}

// One tensor entry as a header, with the given JSON fields.
std::string one(const std::string& name, const std::string& fields) {
  return "{\"" + name + "\":{" + fields + "}}";
}

// clang-format off
const BadHeader kBadHeaders[] = {
    {"NotJson", "{\"w\": {\"dtype\": ", 0, {"header is not valid JSON", "parse error"}},
    {"NotAnObject", "[1, 2, 3]", 0, {"header must be a JSON object, got array"}},
    {"EntryNotAnObject", R"({"w": 3})", 0, {"tensor 'w'", "must be an object"}},
    {"UnknownDtype", one("w", R"("dtype":"F7","shape":[1],"data_offsets":[0,4])"), 4,
     {"tensor 'w'", "unknown dtype 'F7'"}},
    {"MissingDtype", one("w", R"("shape":[1],"data_offsets":[0,4])"), 4,
     {"tensor 'w' has no 'dtype'"}},
    {"DtypeNotString", one("w", R"("dtype":32,"shape":[1],"data_offsets":[0,4])"), 4,
     {"tensor 'w'", "'dtype' must be a string"}},
    {"MissingShape", one("w", R"("dtype":"F32","data_offsets":[0,4])"), 4,
     {"tensor 'w' has no 'shape'"}},
    {"ShapeNotArray", one("w", R"("dtype":"F32","shape":4,"data_offsets":[0,4])"), 4,
     {"tensor 'w'", "'shape' must be an array"}},
    {"NegativeShape", one("w", R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])"), 4,
     {"tensor 'w'", "'shape' must be an array of non-negative integers, got [-1]"}},
    {"FractionalShape", one("w", R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])"), 4,
     {"tensor 'w'", "'shape' must be an array of non-negative integers"}},
    {"ShapeOverflows",
     one("w", R"("dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4])"), 4,
     {"tensor 'w'", "overflows"}},
    {"MissingOffsets", one("w", R"("dtype":"F32","shape":[1])"), 4,
     {"tensor 'w' has no 'data_offsets'"}},
    {"ThreeOffsets", one("w", R"("dtype":"F32","shape":[1],"data_offsets":[0,4,8])"), 8,
     {"tensor 'w'", "'data_offsets' must be [begin, end]"}},
    {"NegativeOffset", one("w", R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])"), 4,
     {"tensor 'w'", "'data_offsets' must be [begin, end]"}},
    {"BeginAfterEnd", one("w", R"("dtype":"F32","shape":[1],"data_offsets":[8,4])"), 8,
     {"tensor 'w' has data_offsets [8, 4] with begin > end"}},
    {"EndPastData", one("w", R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"), 12,
     {"tensor 'w' ends at byte 16, past the end of the 12-byte data section"}},
    {"Overlap",
     R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
     12,
     {"tensors 'a' [0, 8) and 'b' [4, 12) overlap"}},
    {"WrongByteCount",
     one("h.0.attn.c_attn.weight", R"("dtype":"F32","shape":[768,192],"data_offsets":[0,512])"),
     512, {"tensor 'h.0.attn.c_attn.weight' wants 589824 bytes, has 512"}},
    {"WrongByteCountBf16", one("e", R"("dtype":"BF16","shape":[3],"data_offsets":[0,4])"), 4,
     {"tensor 'e' wants 6 bytes, has 4"}},
    {"MetadataNotObject", R"({"__metadata__":"pt"})", 0,
     {"'__metadata__' must be an object of strings"}},
    {"MetadataValueNotString", R"({"__metadata__":{"step":12}})", 0,
     {"'__metadata__' key 'step' must map to a string"}},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(AllCases, SafetensorsBadHeader, ::testing::ValuesIn(kBadHeaders),
                         [](const auto& info) { return std::string(info.param.case_name); });

// --- The real reference: a tiny GPT-2 written by HF transformers 4.36 ---

// clang-format off
const std::vector<std::pair<std::string, std::vector<int64_t>>> kTinyGpt2 = {
    {"h.0.attn.c_attn.bias", {6}},   {"h.0.attn.c_attn.weight", {2, 6}},
    {"h.0.attn.c_proj.bias", {2}},   {"h.0.attn.c_proj.weight", {2, 2}},
    {"h.0.ln_1.bias", {2}},          {"h.0.ln_1.weight", {2}},
    {"h.0.ln_2.bias", {2}},          {"h.0.ln_2.weight", {2}},
    {"h.0.mlp.c_fc.bias", {8}},      {"h.0.mlp.c_fc.weight", {2, 8}},
    {"h.0.mlp.c_proj.bias", {2}},    {"h.0.mlp.c_proj.weight", {8, 2}},
    {"ln_f.bias", {2}},              {"ln_f.weight", {2}},
    {"wpe.weight", {1024, 2}},       {"wte.weight", {21, 2}},
};
// clang-format on

TEST(SafetensorsHf, ReadsTinyGpt2) {
  const std::string path = volt_test_data("models/hf-tiny-gpt2/model.safetensors");
  SafetensorsFile f(path);
  std::vector<std::string> expected_names;
  for (const auto& [name, shape] : kTinyGpt2) expected_names.push_back(name);
  EXPECT_EQ(f.names(), expected_names);
  for (const auto& [name, shape] : kTinyGpt2) {
    SCOPED_TRACE(name);
    EXPECT_EQ(f.info(name).dtype, torch::kFloat32);
    EXPECT_EQ(f.info(name).shape, shape);
    EXPECT_EQ(f.view(name).sizes().vec(), shape);
  }
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  // Shapes agree with the model's config.json.
  const auto config = volt::io::read_json(volt_test_data("models/hf-tiny-gpt2/config.json"));
  EXPECT_EQ(f.info("wte.weight").shape, (std::vector<int64_t>{config["vocab_size"].get<int64_t>(),
                                                              config["n_embd"].get<int64_t>()}));
  EXPECT_EQ(f.info("wpe.weight").shape[0], config["n_positions"].get<int64_t>());
  // Values as Python's struct module reads them from the file.
  EXPECT_TRUE(torch::equal(f.view("h.0.ln_1.weight"), torch::ones({2})));
  EXPECT_TRUE(torch::equal(f.view("h.0.attn.c_attn.bias"), torch::zeros({6})));
  const torch::Tensor wte = f.load("wte.weight");
  EXPECT_FLOAT_EQ(wte[0][0].item<float>(), 0.03195413947105408f);
  EXPECT_FLOAT_EQ(wte[0][1].item<float>(), -0.004759139847010374f);
  EXPECT_FLOAT_EQ(wte[1][0].item<float>(), -0.01885720156133175f);
  EXPECT_FLOAT_EQ(wte[1][1].item<float>(), -0.04385851323604584f);
}

TEST(SafetensorsHf, ResavingTinyGpt2IsByteIdentical) {
  const std::string path = volt_test_data("models/hf-tiny-gpt2/model.safetensors");
  SafetensorsFile f(path);
  Tensors tensors;
  for (const auto& name : f.names()) tensors.emplace_back(name, f.view(name));
  TempDir dir;
  const auto copy = dir.file("resaved.safetensors");
  volt::io::save_safetensors(copy, tensors, f.metadata());
  EXPECT_TRUE(volt::io::read_file(copy) == volt::io::read_file(path))
      << "volt's writer no longer matches HF's byte layout";
}

TEST(TestData, MissingFileThrowsClearly) {
  try {
    volt_test_data("no/such/file.bin");
    ADD_FAILURE() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/file.bin"), std::string::npos) << e.what();
  }
}

// --- File helpers ---

TEST(IoFiles, ReadMissingFileNamesIt) {
  TempDir dir;
  const auto path = dir.file("nope.txt");
  EXPECT_EQ(error_of([&] { volt::io::read_file(path); }), "[io] " + path + ": no such file");
}

TEST(IoFiles, WriteAtomicRoundTripsAndReplaces) {
  TempDir dir;
  const auto path = dir.file("f.bin");
  const std::string bytes("a\0b\xff", 4);
  volt::io::write_file_atomic(path, bytes);
  EXPECT_EQ(volt::io::read_file(path), bytes);
  volt::io::write_file_atomic(path, "second");
  EXPECT_EQ(volt::io::read_file(path), "second");
  volt::io::write_file_atomic(path, "");
  EXPECT_EQ(volt::io::read_file(path), "");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(IoFiles, AbandonedAtomicFileLeavesOldContents) {
  TempDir dir;
  const auto path = dir.file("keep.txt");
  volt::io::write_file_atomic(path, "old");
  {
    volt::io::AtomicFile f(path);
    f.write("new", 3);
  }  // no commit: as if an exception unwound past it
  EXPECT_EQ(volt::io::read_file(path), "old");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(IoFiles, WriteIntoMissingDirectoryFails) {
  TempDir dir;
  const auto path = dir.file("no/such/dir/f.txt");
  expect_contains(error_of([&] { volt::io::write_file_atomic(path, "x"); }),
                  {"[io] ", path + ".tmp", "cannot create"});
}

TEST(IoFiles, JsonRoundTripsPrettyPrinted) {
  TempDir dir;
  const auto path = dir.file("j.json");
  const nlohmann::json value = {{"b", 1}, {"a", {1, 2}}};
  volt::io::write_json(path, value);
  EXPECT_EQ(volt::io::read_file(path), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1\n}\n");
  EXPECT_EQ(volt::io::read_json(path), value);
}

TEST(IoFiles, BadJsonNamesFileAndPosition) {
  TempDir dir;
  const auto path = dir.file("bad.json");
  volt::io::write_file_atomic(path, "{\n  \"a\": 1,\n  oops\n}\n");
  const std::string message = error_of([&] { volt::io::read_json(path); });
  EXPECT_EQ(message.rfind("[json] " + path + ": ", 0), 0u) << message;
  expect_contains(message, {"line 3"});
  expect_contains(error_of([&] { volt::io::read_json(dir.file("none.json")); }), {"no such file"});
}

TEST(IoFiles, FsyncDir) {
  TempDir dir;
  volt::io::fsync_dir(dir.file(""));
  expect_contains(error_of([&] { volt::io::fsync_dir(dir.file("missing")); }),
                  {"[io] ", "missing", "no such file"});
}

}  // namespace

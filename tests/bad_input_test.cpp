// Bad input never crashes and never passes silently: each broken file, config or argument given
// to the real `volt` binary ends with exit code 2, exactly one line on stderr that names the file
// (or key, or value) and the problem, no signal (no core dump), and no half-written output.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli_helpers.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;
using namespace test::cli;

// A random babygpt-tiny Hugging Face directory with GPT-2's tokenizer, made once per case.
std::string good_model(const ScopedTempDir& dir) {
  const std::string out = dir / "good";
  auto r = run_cli(dir, "init --preset babygpt-tiny --out " + out + " --tokenizer " + volt_test_data("tokenizers/gpt2"));
  if (r.code != 0) throw std::runtime_error("volt init failed: " + r.err);
  return out;
}

// Rewrites a safetensors file's JSON header with `edit` (the data section kept as it is).
void edit_header(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  std::string bytes = test::read_text(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  edit(header);
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  const uint64_t m = h.size();
  std::string out(reinterpret_cast<const char*>(&m), 8);
  test::write_text(path, out + h + bytes.substr(8 + n));
}

struct Case {
  const char* name;
  // Prepares the inputs in dir (given the good model's path); returns the volt arguments.
  std::function<std::string(const ScopedTempDir&, const std::string&)> setup;
  std::vector<std::string> expect;  // substrings of the one stderr line
  const char* must_not_exist = nullptr;  // an output path (relative to dir) a failure must not leave
};

std::string copy_model(const ScopedTempDir& dir, const std::string& good, const std::string& name) {
  fs::copy(good, dir / name, fs::copy_options::recursive);
  return dir / name;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"truncated_safetensors",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         const std::string bytes = test::read_text(m + "/model.safetensors");
         test::write_text(m + "/model.safetensors", bytes.substr(0, bytes.size() / 2));
         return "score --model " + m + " --text hi";
       },
       {"[safetensors]", "m/model.safetensors", "past the end of the"}},
      {"header_length_past_the_end",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         std::string bytes = test::read_text(m + "/model.safetensors");
         const uint64_t huge = 1000000000000ULL;
         std::memcpy(bytes.data(), &huge, 8);
         test::write_text(m + "/model.safetensors", bytes);
         return "score --model " + m + " --text hi";
       },
       {"m/model.safetensors", "header length 1000000000000 exceeds"}},
      {"header_not_json",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         std::string bytes = test::read_text(m + "/model.safetensors");
         bytes[8] = 'x';
         test::write_text(m + "/model.safetensors", bytes);
         return "score --model " + m + " --text hi";
       },
       {"m/model.safetensors", "header is not valid JSON"}},
      {"overlapping_offsets",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         edit_header(m + "/model.safetensors", [](nlohmann::json& h) {
           h["transformer.h.0.ln_2.weight"]["data_offsets"] = h["transformer.h.0.ln_1.weight"]["data_offsets"];
         });
         return "score --model " + m + " --text hi";
       },
       {"m/model.safetensors", "'transformer.h.0.ln_1.weight'", "overlap"}},
      {"out_of_range_offsets",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         edit_header(m + "/model.safetensors", [](nlohmann::json& h) {
           h["transformer.ln_f.weight"]["data_offsets"] = {1000000000, 1000000256};
         });
         return "score --model " + m + " --text hi";
       },
       {"tensor 'transformer.ln_f.weight' ends at byte 1000000256, past the end"}},
      {"unknown_dtype",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         edit_header(m + "/model.safetensors", [](nlohmann::json& h) { h["transformer.wte.weight"]["dtype"] = "F8_E9"; });
         return "score --model " + m + " --text hi";
       },
       {"tensor 'transformer.wte.weight'", "unknown dtype 'F8_E9'"}},
      {"shape_and_bytes_disagree",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         edit_header(m + "/model.safetensors", [](nlohmann::json& h) { h["transformer.wte.weight"]["shape"] = {10, 10}; });
         return "score --model " + m + " --text hi";
       },
       {"tensor 'transformer.wte.weight' wants 400 bytes, has"}},
      {"missing_tensor",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         edit_header(m + "/model.safetensors", [](nlohmann::json& h) { h.erase("transformer.h.1.mlp.c_fc.weight"); });
         return "score --model " + m + " --text hi";
       },
       {"transformer.h.1.mlp.c_fc.weight"}},
      {"malformed_config_json",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         test::write_text(m + "/config.json", "{\"model_type\": \"gpt2\", \"n_layer\": ");
         return "score --model " + m + " --text hi";
       },
       {"m/config.json", "parse error"}},
      {"config_json_of_the_wrong_shape",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         test::write_text(m + "/config.json", "{\"model_type\": \"gpt2\", \"n_layer\": \"twelve\"}");
         return "score --model " + m + " --text hi";
       },
       {"m/config.json", "n_layer"}},
      {"malformed_tokenizer_json",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         test::write_text(m + "/tokenizer.json", "{\"model\": {\"type\": \"BPE\"");
         return "score --model " + m + " --text hi";
       },
       {"m/tokenizer.json"}},
      {"malformed_yaml",
       [](const ScopedTempDir& d, const std::string&) {
         test::write_text(d / "bad.yaml", "trainer:\n  max_steps: [1,\n");
         return "fit --config " + (d / "bad.yaml");
       },
       {"bad.yaml", "invalid YAML at line 3"}},
      {"unknown_config_key",
       [](const ScopedTempDir& d, const std::string&) { return "fit --config " + write_recipe(d, "  n_layr: 1\n"); },
       {"unknown key 'model.n_layr'", "did you mean 'model.n_layer'"},
       "runs/tiny-cli"},
      {"missing_model_directory",
       [](const ScopedTempDir& d, const std::string&) { return "score --model " + (d / "nowhere") + " --text hi"; },
       {"nowhere"}},
      {"empty_corpus",
       [](const ScopedTempDir& d, const std::string&) {
         const auto recipe = write_recipe(d);
         test::write_text(d / "empty.txt", "");
         return "fit --config " + recipe + " --data.path=" + (d / "empty.txt");
       },
       {"empty.txt", "the corpus is empty"},
       "runs/tiny-cli"},
      {"corpus_not_utf8",
       [](const ScopedTempDir& d, const std::string&) {
         const auto recipe = write_recipe(d);
         test::write_text(d / "latin1.txt", "caf\xe9 au lait\n");
         return "fit --config " + recipe + " --data.path=" + (d / "latin1.txt");
       },
       {"latin1.txt", "invalid UTF-8 at byte 3"},  // 0xE9 opens a 3-byte sequence that byte 4 breaks
       "runs/tiny-cli"},
      {"block_size_above_the_context",
       [](const ScopedTempDir& d, const std::string&) {
         return "fit --config " + write_recipe(d) + " --data.block_size=1000";
       },
       {"data.block_size 1000 exceeds the model's context"},
       "runs/tiny-cli"},
      {"token_id_out_of_range",
       [](const ScopedTempDir&, const std::string& g) { return "score --model " + g + " --ids \"1 2 99999999\""; },
       {"token id 99999999", "outside the model's vocabulary (50257)"}},
      {"score_file_not_utf8",
       [](const ScopedTempDir& d, const std::string& g) {
         test::write_text(d / "bytes.txt", "ok \xff\xfe");
         return "score --model " + g + " --file " + (d / "bytes.txt");
       },
       {"bytes.txt", "invalid UTF-8 at byte 3"}},
      {"convert_of_a_corrupt_model_leaves_no_output",
       [](const ScopedTempDir& d, const std::string& g) {
         const auto m = copy_model(d, g, "m");
         const std::string bytes = test::read_text(m + "/model.safetensors");
         test::write_text(m + "/model.safetensors", bytes.substr(0, 100));
         return "convert --in " + m + " --out " + (d / "converted");
       },
       {"m/model.safetensors"},
       "converted"},
  };
  return all;
}

class BadInput : public ::testing::TestWithParam<size_t> {};

TEST_P(BadInput, ExitsTwoWithOneLineNamingTheProblem) {
  const Case& c = cases()[GetParam()];
  ScopedTempDir dir;
  const std::string good = good_model(dir);
  const std::string args = c.setup(dir, good);
  const auto r = run_cli(dir, args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  ASSERT_FALSE(r.err.empty()) << args;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line, got:\n" << r.err;
  for (const auto& e : c.expect) EXPECT_CONTAINS(r.err, e);
  if (c.must_not_exist != nullptr) {
    EXPECT_FALSE(fs::exists(dir / c.must_not_exist)) << c.must_not_exist << " was left behind";
    EXPECT_FALSE(fs::exists(dir / (std::string(c.must_not_exist) + ".tmp"))) << "a staging directory was left";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInput, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return cases()[info.param].name; });

}  // namespace
}  // namespace volt

// BOS, EOS and add_special_tokens as Hugging Face has them, for every tokenizer of the data dir:
// the ids of tests/goldens/tokenizers/add_special_tokens.json (written by
// scripts/tokenizer-goldens/special_tokens_goldens.py from the Rust crate and transformers 5.12),
// before and after save() and load, with tokenizer_config.json carried through unchanged.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/io/files.h"
#include "volt/tokenizers/sentencepiece.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::error_of;

fs::path goldens_dir() {
  if (const char* env = std::getenv("VOLT_GOLDENS_DIR"); env != nullptr && *env != '\0') return env;
  return fs::path(__FILE__).parent_path().parent_path() / "goldens";
}

const json& table() {
  static const json t =
      io::read_json((goldens_dir() / "tokenizers/add_special_tokens.json").string());
  return t;
}

std::vector<std::string> table_names() {
  std::vector<std::string> names;
  try {
    for (const auto& [name, entry] : table().at("tokenizers").items()) names.push_back(name);
  } catch (const std::exception& e) {
    names.push_back(std::string("missing_table: ") + e.what());
  }
  return names;
}

std::optional<int64_t> id_of(const json& token) {
  if (token.is_null()) return std::nullopt;
  return token.at("id").get<int64_t>();
}

// What the golden says about one tokenizer, checked on `tok`.
void expect_as_hugging_face(const Tokenizer& tok, const std::string& name,
                            const std::string& when) {
  const json& t = table().at("tokenizers").at(name);
  const std::string what = name + " (" + when + ")";
  EncodeOptions with;
  with.add_special_tokens = true;
  for (const auto& c : t.at("cases")) {
    const std::string text = c.at("text");
    const auto expected = c.at("expected").get<std::vector<int64_t>>();
    EXPECT_EQ(tok.encode(text, with), expected)
        << what << " on \"" << text << "\", from " << t.at("expected_from");
    // Without add_special_tokens: the same ids less what the template put around them.
    const auto tmpl = tok.special_tokens_template();
    const std::vector<int64_t> bare(
        expected.begin() + static_cast<std::ptrdiff_t>(tmpl.prefix.size()),
        expected.end() - static_cast<std::ptrdiff_t>(tmpl.suffix.size()));
    EXPECT_EQ(tok.encode(text), bare) << what << " on \"" << text << "\"";
  }
  EXPECT_EQ(tok.bos_id(), id_of(t.at("bos"))) << what;
  // A bare GPT-2 tokenizer.json: transformers has no EOS, volt keeps <|endoftext|> (GPT-2's).
  if (name != "gpt2") {
    EXPECT_EQ(tok.eos_id(), id_of(t.at("eos"))) << what;
  }
  const auto& first = t.at("cases").at(0).at("expected");
  EXPECT_EQ(tok.adds_bos_by_default(), tok.bos_id() && first.at(0) == *tok.bos_id()) << what;
  EXPECT_FALSE(tok.adds_eos_by_default()) << what;
}

class SpecialTokens : public ::testing::TestWithParam<std::string> {};

TEST_P(SpecialTokens, AsHuggingFaceBeforeAndAfterSaving) {
  const std::string name = GetParam();
  ASSERT_EQ(name.rfind("missing_table", 0), std::string::npos) << name;
  const std::string rel = table().at("tokenizers").at(name).at("path");
  const std::string dir = volt_test_data(rel);
  const auto tok = load_tokenizer(dir);
  expect_as_hugging_face(*tok, name, "as loaded");

  test::ScopedTempDir out;
  tok->save(out.path());
  const auto again = load_tokenizer(out.path());
  expect_as_hugging_face(*again, name, "saved and loaded");
  // The saved tokenizer_config.json keeps what the original said about special tokens and chats.
  ASSERT_TRUE(fs::exists(out / "tokenizer_config.json")) << name;
  const json saved = io::read_json(out / "tokenizer_config.json");
  if (fs::exists(dir + "/tokenizer_config.json")) {
    const json original = io::read_json(dir + "/tokenizer_config.json");
    for (const char* key :
         {"bos_token", "eos_token", "add_bos_token", "add_eos_token", "chat_template"}) {
      EXPECT_EQ(saved.contains(key), original.contains(key)) << name << ": " << key;
      if (original.contains(key)) {
        EXPECT_EQ(saved.at(key), original.at(key)) << name << ": " << key;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, SpecialTokens, ::testing::ValuesIn(table_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (auto& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(SpecialTokens, EveryDataTokenizerIsInTheTable) {
  for (const char* name : {"gpt2", "llama3", "llama3_1", "mistral", "qwen3", "gemma3",
                           "deepseek_v3", "gptoss", "llama2"}) {
    EXPECT_TRUE(table().at("tokenizers").contains(name)) << name;
  }
}

// Qwen3's tokenizer_config.json says bos_token: null. volt used to fall through to a list of
// well-known names and take "<s>", an ordinary BPE token of Qwen's vocabulary (id 128245).
TEST(SpecialTokens, NoBosIsNoBos) {
  const auto qwen = load_tokenizer(volt_test_data("tokenizers/qwen3"));
  EXPECT_EQ(qwen->bos_id(), std::nullopt);
  EXPECT_FALSE(qwen->adds_bos_by_default());
  EXPECT_EQ(qwen->eos_id(), 151645);  // <|im_end|>: the end of a turn
  EncodeOptions bos;
  bos.add_bos = true;
  const std::string err = error_of([&] { qwen->encode("Hi", bos); });
  EXPECT_NE(err.find("tokenizers/qwen3/tokenizer.json has no BOS token"), std::string::npos) << err;
}

// add_bos after a template that already starts with BOS does not add a second one.
TEST(SpecialTokens, AddBosDoesNotDoubleTheTemplatesBos) {
  const auto mistral = load_tokenizer(volt_test_data("tokenizers/mistral"));
  EncodeOptions both;
  both.add_special_tokens = true;
  both.add_bos = true;
  both.add_eos = true;
  EXPECT_EQ(mistral->encode("Hello world", both), (std::vector<int64_t>{1, 22557, 1526, 2}));
}

// A bare tokenizer.model saves a tokenizer_config.json transformers' LlamaTokenizer loads (the
// table's llama2 row is transformers on that very config); a config beside a .model is obeyed.
TEST(SpecialTokens, SentencePieceModelsSaveALlamaTokenizerConfig) {
  const std::string model = volt_test_data("tokenizers/llama2/tokenizer.model");
  test::ScopedTempDir dir;
  load_tokenizer(model)->save(dir.path());
  const json config = io::read_json(dir / "tokenizer_config.json");
  EXPECT_EQ(config.at("tokenizer_class"), "LlamaTokenizer");
  EXPECT_EQ(config.at("bos_token"), "<s>");
  EXPECT_EQ(config.at("eos_token"), "</s>");
  EXPECT_EQ(config.at("unk_token"), "<unk>");
  EXPECT_EQ(config.at("add_bos_token"), true);
  EXPECT_EQ(config.at("add_eos_token"), false);

  io::write_json(dir / "tokenizer_config.json", {{"bos_token", "<s>"},
                                                 {"eos_token", "</s>"},
                                                 {"add_bos_token", false},
                                                 {"add_eos_token", true}});
  const auto tok = load_tokenizer(dir.path());
  EncodeOptions with;
  with.add_special_tokens = true;
  EXPECT_EQ(tok->encode("Hello world", with), (std::vector<int64_t>{15043, 3186, 2}));
  io::write_json(dir / "tokenizer_config.json", {{"bos_token", "<nope>"}});
  EXPECT_NE(error_of([&] { load_tokenizer(dir.path()); }).find("bos_token '<nope>' is not a piece"),
            std::string::npos);
}

}  // namespace
}  // namespace volt

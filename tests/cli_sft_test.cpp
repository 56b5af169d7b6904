// Instruction tuning through the `volt` command line and the SFT data module: chat-template's
// tokens and assistant mask against the library computed here, bad SFT data as one-line exit-2
// errors naming file, line and problem, the masked loss of a batch against a hand-computed mean,
// and the whole loop on CPU: LoRA SFT on GSM8K -> chat -> merge -> chat -> eval.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>

#include "cli_helpers.h"
#include "test_data.h"
#include "test_helpers.h"
#include "volt/core/csv_logger.h"
#include "volt/data/sft_datamodule.h"
#include "volt/data/sft_records.h"
#include "volt/io/files.h"
#include "volt/models/causal_lm.h"
#include "volt/tokenizers/span_mask.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;
using namespace test::cli;
using Json = nlohmann::ordered_json;

const char* kConversation = R"([
  {"role": "system", "content": "You are terse."},
  {"role": "user", "content": "What is 2 + 2?"},
  {"role": "assistant", "content": "2 + 2 = 4.\n#### 4"},
  {"role": "user", "content": "And «3 + 3»?"},
  {"role": "assistant", "content": "6"}
])";

fs::path golden_template(const std::string& file) {
  return fs::path(__FILE__).parent_path() / "goldens" / "chat_templates" / "templates" / file;
}

TEST(CliSft, ChatTemplateJsonIsTheRenderTokensAndAssistantMask) {
  ScopedTempDir dir;
  test::write_text(dir / "m.json", kConversation);
  for (const char* name : {"llama3_1", "qwen3", "gemma3"}) {
    SCOPED_TRACE(name);
    const std::string tok_dir = volt_test_data(std::string("tokenizers/") + name);
    auto r = run_cli(dir, "chat-template --tokenizer " + tok_dir + " --messages " +
                              (dir / "m.json") + " --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = Json::parse(r.out);

    const auto tmpl = ChatTemplate::from_tokenizer_config(tok_dir);
    const auto render = tmpl.render_with_spans(Json::parse(kConversation));
    const auto tokenizer = load_tokenizer(tok_dir);
    EncodeOptions encode;
    encode.add_special_tokens = false;
    const auto enc = tokenizer->encode_with_offsets(render.text, encode);
    std::vector<ByteSpan> spans;
    for (const auto& s : render.spans) spans.push_back({s.begin, s.end});
    const auto mask = token_mask_for_spans(enc.offsets, spans);

    EXPECT_EQ(j.at("text").get<std::string>(), render.text);
    EXPECT_EQ(j.at("ids").get<std::vector<int64_t>>(), enc.ids);
    ASSERT_EQ(j.at("offsets").size(), enc.offsets.size());
    for (size_t i = 0; i < enc.offsets.size(); ++i) {
      EXPECT_EQ(j["offsets"][i][0].get<size_t>(), enc.offsets[i].start);
      EXPECT_EQ(j["offsets"][i][1].get<size_t>(), enc.offsets[i].end);
    }
    std::vector<int> expected_mask(mask.begin(), mask.end());
    EXPECT_EQ(j.at("assistant_mask").get<std::vector<int>>(), expected_mask);
    int marked = 0;
    for (int m : expected_mask) marked += m;
    EXPECT_GT(marked, 5);
  }
  // The table: the render, then one line per token, the assistant's marked.
  auto text = run_cli(dir, "chat-template --tokenizer " + volt_test_data("tokenizers/llama3_1") +
                               " --messages " + (dir / "m.json") + " --add-generation-prompt");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_CONTAINS(text.out, "<|start_header_id|>assistant<|end_header_id|>\n\n2 + 2 = 4.");
  EXPECT_CONTAINS(text.out, "of them the assistant's (marked *");
  EXPECT_CONTAINS(text.out, "<|eot_id|>");
  // --var, --template and usage errors.
  auto qwen = run_cli(dir, "chat-template --tokenizer " + volt_test_data("tokenizers/qwen3") +
                               " --messages " + (dir / "m.json") +
                               " --add-generation-prompt --var enable_thinking=false --json");
  ASSERT_EQ(qwen.code, 0) << qwen.err;
  const std::string qtext = Json::parse(qwen.out).at("text");
  const std::string qwen_prompt = "<|im_start|>assistant\n<think>\n\n</think>\n\n";
  EXPECT_EQ(qtext.substr(qtext.size() - qwen_prompt.size()), qwen_prompt);
  auto mistral = run_cli(dir, "chat-template --tokenizer " + volt_test_data("tokenizers/mistral") +
                                  " --template " + golden_template("mistral_v0_1.jinja").string() +
                                  " --messages " + (dir / "m.json"));
  EXPECT_EQ(mistral.code, 2);
  EXPECT_CONTAINS(mistral.err, "Conversation roles must alternate");
  auto missing = run_cli(dir, "chat-template --tokenizer " + volt_test_data("tokenizers/qwen3"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_CONTAINS(missing.err, "--messages");
  auto help = run_cli(dir, "chat-template --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_CONTAINS(help.out, "--add-generation-prompt");
}

// A recipe whose data section reads `data_file` as SFT data with the Llama 3.1 tokenizer.
std::string sft_recipe(const ScopedTempDir& dir, const std::string& data_file,
                       const std::string& extra_data = "") {
  const std::string yaml =
      "name: sft-bad\nmodel:\n  preset: llama-tiny\ndata:\n  module: sft\n"
      "  path: " +
      data_file + "\n  tokenizer: " + volt_test_data("tokenizers/llama3_1") + "\n" +
      (extra_data.find("block_size") == std::string::npos ? "  block_size: 128\n" : "") +
      extra_data;
  test::write_text(dir / "sft.yaml", yaml);
  return dir / "sft.yaml";
}

TEST(CliSft, BadDataExits2WithOneLineNamingFileLineAndProblem) {
  ScopedTempDir dir;
  const std::string good = R"({"question": "q", "answer": "a"})";
  struct Case {
    std::string name, line2, expected, extra;
  };
  const std::vector<Case> cases = {
      {"wrong_json", "{\"question\": \"q\",", "line 2: not valid JSON", ""},
      {"missing_field", R"({"question": "q"})", "line 2: field 'answer': missing", ""},
      {"unknown_role",
       R"({"messages": [{"role": "user", "content": "u"}, {"role": "robot", "content": "r"}]})",
       "line 2: field 'messages[1].role': unknown role 'robot'", "  format: messages\n"},
      {"no_assistant", R"({"messages": [{"role": "user", "content": "u"}]})",
       "line 2: the conversation has no assistant turn", "  format: messages\n"},
      {"template_raises",
       R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, )"
       R"({"role": "assistant", "content": "a"}]})",
       "line 2: the chat template failed: ",
       "  format: messages\n  chat_template: " + golden_template("mistral_v0_1.jinja").string() +
           "\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const bool messages = c.extra.find("messages") != std::string::npos;
    const std::string first =
        messages
            ? R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})"
            : good;
    const std::string file = dir / (c.name + ".jsonl");
    test::write_text(file, first + "\n" + c.line2 + "\n");
    auto r = run_cli(dir, "data stats --config " + sft_recipe(dir, file, c.extra));
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_CONTAINS(r.err, file + " " + c.expected);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // one line

    // Skipped and counted instead, when asked.
    auto skipped = run_cli(
        dir, "data stats --json --config " +
                 sft_recipe(dir, file,
                            c.extra + "  skip_bad_records: true\n" + "  val_fraction: 0.0\n"));
    ASSERT_EQ(skipped.code, 0) << skipped.err;
    const auto j = Json::parse(skipped.out);
    EXPECT_EQ(j.at("skipped_records"), 1);
    EXPECT_EQ(j.at("conversations"), 1);
  }
}

TEST(CliSft, DataStatsCountsConversationsTurnsAndLossShare) {
  ScopedTempDir dir;
  auto r = run_cli(dir, "data stats --json --config " +
                            sft_recipe(dir, volt_test_data("corpora/gsm8k/test.jsonl"),
                                       "  limit: 200\n  block_size: 512\n"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = Json::parse(r.out);
  EXPECT_EQ(j.at("conversations"), 200);
  EXPECT_EQ(j.at("assistant_turns"), 200);
  EXPECT_EQ(j.at("messages"), 400);
  const double share = j.at("target_fraction");
  EXPECT_GT(share, 0.4);  // the worked answers are longer than the questions
  EXPECT_LT(share, 0.8);
  EXPECT_LT(j["padding_fraction"]["packed"].get<double>(),
            j["padding_fraction"]["static"].get<double>());
}

// The LM module's loss on an SFT batch is the mean of -log p over exactly the assistant's tokens.
TEST(CliSft, MaskedLossEqualsTheHandComputedMean) {
  ScopedTempDir dir;
  test::write_text(dir / "c.jsonl",
                   std::string(R"({"messages": )") + Json::parse(kConversation).dump() + "}\n" +
                       R"({"messages": [{"role": "user", "content": "Why?"}, )" +
                       R"({"role": "assistant", "content": "Because.\n#### 1"}]})" + "\n" +
                       R"({"messages": [{"role": "user", "content": "Hi"}, )" +
                       R"({"role": "assistant", "content": "Hello there, friend."}]})" + "\n");
  for (const std::string collator : {"packed", "dynamic"}) {
    SCOPED_TRACE(collator);
    SFTDataOptions o;
    o.paths = {dir / "c.jsonl"};
    o.tokenizer = volt_test_data("tokenizers/llama3_1");
    o.block_size = 256;
    o.batch_size = 3;
    o.collator = collator;
    o.splits.val = 0;
    o.num_workers = 0;
    SFTDataModule dm(o);
    dm.set_progress(false);
    dm.setup("fit");
    ASSERT_EQ(dm.conversations().size(), 3u);
    const Batch b = dm.train_dataloader()->get(0, 0);
    // Every label is a target of the masks, and every target is a label once.
    int64_t targets = 0;
    for (const auto& c : dm.conversations()) targets += c.target_tokens();
    EXPECT_EQ(b.num_target_tokens(), targets);

    torch::manual_seed(3);
    const int64_t v = dm.tokenizer()->vocab_size();
    auto logits = torch::randn({b.input_ids.size(0), b.input_ids.size(1), v}, torch::kFloat64);
    const double loss = causal_lm_loss(logits, b.labels).item<double>();
    double sum = 0;
    int64_t n = 0;
    auto logp = torch::log_softmax(logits, -1);
    auto lab = b.labels.accessor<int64_t, 2>();
    auto lp = logp.accessor<double, 3>();
    for (int64_t i = 0; i < b.labels.size(0); ++i) {
      for (int64_t t = 0; t < b.labels.size(1); ++t) {
        if (lab[i][t] == -100) continue;
        sum -= lp[i][t][lab[i][t]];
        ++n;
      }
    }
    EXPECT_EQ(n, targets);
    // causal_lm_loss works in float32: 1e-6 relative is its rounding at a loss of ~12 nats.
    EXPECT_NEAR(loss, sum / static_cast<double>(n), 1e-6 * loss);
    if (collator == "packed") {  // one row, three conversations that do not see each other
      ASSERT_TRUE(b.document_ids.defined());
      EXPECT_EQ(b.document_ids.max().item<int64_t>(), 2);
    }
  }
}

// Writes a small chat tokenizer into `dir`: a 2,048-token byte-level BPE trained on GSM8K with
// Llama 3's special tokens, and Llama 3.1's real chat template and end of turn (<|eot_id|>) in
// its tokenizer_config.json. A 128,256-token vocabulary would make each CPU step ~100x dearer.
void small_chat_tokenizer(const ScopedTempDir& tmp, const std::string& dir) {
  std::string text;
  for (const auto& c : data::read_sft_file(volt_test_data("corpora/gsm8k/train.jsonl"), {})) {
    for (const auto& m : c.messages) text += m["content"].get<std::string>() + "\n";
  }
  test::write_text(tmp / "gsm8k.txt", text);
  fs::create_directories(dir);
  auto r = run_cli(tmp, "tokenizer train --quiet --input " + (tmp / "gsm8k.txt") +
                            " --vocab-size 2048 --out " + dir + "/tokenizer.json" +
                            " --special-tokens '<|begin_of_text|>,<|end_of_text|>,"
                            "<|start_header_id|>,<|end_header_id|>,<|eot_id|>'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto llama = io::read_json(volt_test_data("tokenizers/llama3_1/tokenizer_config.json"));
  nlohmann::json config{{"bos_token", "<|begin_of_text|>"},
                        {"eos_token", "<|eot_id|>"},
                        {"chat_template", llama.at("chat_template")},
                        {"tokenizer_class", "PreTrainedTokenizerFast"}};
  io::write_json(dir + "/tokenizer_config.json", config);
}

// The first `n` GSM8K training records (from line `from`), as a JSONL file.
std::string gsm8k_slice(const ScopedTempDir& dir, const std::string& name, size_t n) {
  std::istringstream in(test::read_text(volt_test_data("corpora/gsm8k/train.jsonl")));
  std::string out, line;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  test::write_text(dir / name, out);
  return dir / name;
}

// The course's loop, small, on CPU: a Llama-3-shaped model that speaks Llama 3.1's chat format,
// LoRA SFT on GSM8K with the loss on the assistant's tokens, then chat, merge, chat, eval.
// A LoRA on a *random* model cannot learn (its frozen final norm and head bound the logits to
// about +-1), so the base is first fully fine-tuned on 24 conversations, every token
// (train_on_inputs), standing in for a pretrained chat model that knows them.
TEST(CliSft, LoraSftOnGsm8kThenChatMergeChatAndEval) {
  ScopedTempDir dir;
  const std::string tok = dir / "tokenizer", init_dir = dir / "init";
  small_chat_tokenizer(dir, tok);
  auto init = run_cli(dir, "init --preset llama-tiny --out " + init_dir + " --tokenizer " + tok);
  ASSERT_EQ(init.code, 0) << init.err;
  auto config = io::read_json(init_dir + "/config.json");
  config["max_position_embeddings"] = 512;  // a whole GSM8K conversation fits
  io::write_json(init_dir + "/config.json", config);

  // The stand-in for pretraining: every weight, every token, 24 conversations, 200 steps.
  const std::string s1 = gsm8k_slice(dir, "s1.jsonl", 24);
  test::write_text(
      dir / "base.yaml",
      "name: base\n"
      "trainer: {max_steps: 200, num_threads: 1, enable_progress_bar: false,"
      " log_every_n_steps: 50, default_root_dir: " +
          (dir / "runs") +
          "}\n"
          "model: {from_pretrained: " +
          init_dir +
          "}\n"
          "data: {module: sft, path: " +
          s1 +
          ", train_on_inputs: true, block_size: 384, batch_size: 4,"
          " num_workers: 0, val_fraction: 0.0}\n"
          "optimizer: {lr: 1.0e-2, weight_decay: 0.0}\n"
          "scheduler: {name: cosine, warmup_steps: 5, decay_steps: 200, min_lr: 1.0e-3}\n");
  auto base_fit = run_cli(dir, "fit --config " + (dir / "base.yaml"));
  ASSERT_EQ(base_fit.code, 0) << base_fit.err;
  const std::string base = dir / "runs/base/checkpoints/last";

  // LoRA SFT with the shipped recipe: 120 conversations (the 24 among them), loss on the replies.
  const std::string s2 = gsm8k_slice(dir, "s2.jsonl", 120);
  auto fit = run_cli(dir, "fit --config " + std::string(VOLT_TEST_CONFIGS_DIR) +
                              "/sft-gsm8k-lora.yaml --model.from_pretrained=" + base +
                              " --data.path=" + s2 +
                              " --data.val_fraction=0.25 --data.num_workers=0"
                              " --trainer.max_steps=30 --trainer.val_check_interval=10"
                              " --trainer.limit_val_batches=4 --trainer.num_threads=1"
                              " --trainer.enable_progress_bar=false --optimizer.lr=2e-3"
                              " --scheduler.warmup_steps=2 --scheduler.decay_steps=30"
                              " --trainer.default_root_dir=" +
                              (dir / "runs"));
  ASSERT_EQ(fit.code, 0) << fit.err;
  const std::string run = dir / "runs/sft-gsm8k-lora";
  std::vector<double> val;
  for (const auto& r : CSVLogger::read(run + "/metrics.csv")) {
    if (r.count("val_loss")) val.push_back(r.at("val_loss"));
  }
  ASSERT_EQ(val.size(), 3u);
  EXPECT_LT(val.back(), val.front()) << "the held-out loss on the assistant's tokens falls";
  const std::string ckpt = run + "/checkpoints/last";
  EXPECT_TRUE(fs::exists(ckpt + "/adapter_model.safetensors"));
  EXPECT_CONTAINS(test::read_text(ckpt + "/tokenizer_config.json"), "chat_template");

  // The first training question, as a conversation.
  const auto item = Json::parse(test::read_text(s1).substr(0, test::read_text(s1).find('\n')));
  test::write_text(dir / "q.json",
                   Json::array({{{"role", "user"}, {"content", item.at("question")}}}).dump());
  const std::string sampling = " --temperature 0 --max-new-tokens 200";
  auto chat = run_cli(
      dir, "chat --adapter " + ckpt + " --messages " + (dir / "q.json") + " --json" + sampling);
  ASSERT_EQ(chat.code, 0) << chat.err;
  const auto reply = Json::parse(chat.out);
  EXPECT_EQ(reply.at("stop_token"), "<|eot_id|>") << chat.out;

  auto merge = run_cli(dir, "merge --adapter " + ckpt + " --out " + (dir / "merged"));
  ASSERT_EQ(merge.code, 0) << merge.err;
  for (const std::string f : {"tokenizer_config.json", "generation_config.json", "config.json"}) {
    EXPECT_TRUE(fs::exists(dir / ("merged/" + f))) << f;
  }
  EXPECT_CONTAINS(test::read_text(dir / "merged/tokenizer_config.json"), "chat_template");
  auto chat_merged = run_cli(dir, "chat --checkpoint " + (dir / "merged") + " --messages " +
                                      (dir / "q.json") + " --json" + sampling);
  ASSERT_EQ(chat_merged.code, 0) << chat_merged.err;
  EXPECT_EQ(Json::parse(chat_merged.out).at("reply"), reply.at("reply"));

  auto eval = run_cli(dir, "eval --checkpoint " + (dir / "merged") + " --data " + s2 +
                               " --metric exact_match --limit 20 --max-new-tokens 200 --out " +
                               (dir / "eval.jsonl"));
  ASSERT_EQ(eval.code, 0) << eval.err;
  EXPECT_CONTAINS(eval.out, "exact_match: ");
  EXPECT_CONTAINS(eval.out, "/ 20)");
  std::vector<Json> items;
  std::istringstream lines(test::read_text(dir / "eval.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) items.push_back(Json::parse(line));
  }
  ASSERT_EQ(items.size(), 20u);
  EXPECT_EQ(items[0].at("reply"), reply.at("reply"));
  const std::string answer = item.at("answer");
  EXPECT_EQ(items[0].at("target"), answer.substr(answer.rfind("#### ") + 5));
}

}  // namespace
}  // namespace volt

// The `volt` command line, run as a separate process: version and help, config errors (exit
// code 2, the offending key or path on stderr), and a tiny end-to-end fit -> validate -> generate.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "test_data.h"
#include "cli_helpers.h"
#include "test_helpers.h"
#include "volt/core/compat.h"
#include "volt/core/csv_logger.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;
using namespace test::cli;


TEST(Cli, VersionAndHelp) {
  ScopedTempDir dir;
  auto v = run_cli(dir, "--version");
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_CONTAINS(v.out, "volt");
  auto h = run_cli(dir, "fit --help");
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_CONTAINS(h.out, "--config");
  auto none = run_cli(dir, "");
  EXPECT_NE(none.code, 0);  // a subcommand is required
  auto unknown = run_cli(dir, "frobnicate");
  EXPECT_NE(unknown.code, 0);
}

TEST(Cli, FitWithoutConfigIsAUsageError) {
  ScopedTempDir dir;
  auto r = run_cli(dir, "fit");
  EXPECT_NE(r.code, 0);
  EXPECT_CONTAINS(r.out + r.err, "--config");
}

TEST(Cli, MissingConfigFileExits2NamingIt) {
  ScopedTempDir dir;
  const std::string missing = dir / "no-such-recipe.yaml";
  auto r = run_cli(dir, "fit --config " + missing);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, missing);
  EXPECT_CONTAINS(r.err, "no such file");
}

TEST(Cli, UnknownKeyInTheConfigExits2NamingIt) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir, "  n_layr: 1\n");
  auto r = run_cli(dir, "fit --config " + recipe);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "unknown key 'model.n_layr'");
  EXPECT_CONTAINS(r.err, "did you mean 'model.n_layer'");
  EXPECT_FALSE(fs::exists(dir / "runs/tiny-cli/metrics.csv"));  // nothing ran
}

TEST(Cli, MistypedOverrideExits2WithASuggestion) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  auto r = run_cli(dir, "fit --config " + recipe + " --trainer.max_stepz=1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "unknown key 'trainer.max_stepz'");
  EXPECT_CONTAINS(r.err, "did you mean 'trainer.max_steps'");
  // A stray positional argument and an override without a value are usage errors too.
  auto stray = run_cli(dir, "fit --config " + recipe + " stray");
  EXPECT_EQ(stray.code, 2) << stray.err;
  EXPECT_CONTAINS(stray.err, "unexpected argument 'stray'");
  auto novalue = run_cli(dir, "fit --config " + recipe + " --trainer.max_steps");
  EXPECT_EQ(novalue.code, 2) << novalue.err;
  EXPECT_CONTAINS(novalue.err, "has no value");
  auto badtype = run_cli(dir, "fit --config " + recipe + " --trainer.max_steps=many");
  EXPECT_EQ(badtype.code, 2) << badtype.err;
  EXPECT_CONTAINS(badtype.err, "key 'trainer.max_steps' has value 'many' which is not a valid integer");
}

TEST(Cli, GenerateOnAMissingDirectoryFailsNamingIt) {
  ScopedTempDir dir;
  const std::string missing = dir / "no-checkpoint";
  auto r = run_cli(dir, "generate --checkpoint " + missing + " --max-new-tokens 5");
  EXPECT_NE(r.code, 0);
  EXPECT_CONTAINS(r.err, missing);
}

TEST(Cli, TinyFitThenValidateThenGenerate) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  auto fit = run_cli(dir, "fit --config " + recipe + " " + kShrink);
  ASSERT_EQ(fit.code, 0) << fit.out << fit.err;
  const std::string run = dir / "runs/tiny-cli";
  EXPECT_CONTAINS(fit.out, "run directory " + run);
  EXPECT_CONTAINS(fit.out, "done: 3 steps");
  for (const char* f : {"config.yaml", "metrics.csv", "report.md", "loss.svg", "checkpoints/last/model.safetensors",
                        "checkpoints/last/config.json", "checkpoints/last/tokenizer.json",
                        "checkpoints/last/trainer_state.json"}) {
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  }
  // config.yaml is the resolved config, overrides applied.
  const auto resolved = Config::from_file(run + "/config.yaml");
  EXPECT_EQ(resolved.root()["model"]["n_layer"].as<int>(), 1);
  EXPECT_EQ(resolved.root()["model"]["n_embd"].as<int>(), 32);
  const auto model_cfg = io::read_json(run + "/checkpoints/last/config.json");
  EXPECT_EQ(model_cfg.at("n_layer").get<int>(), 1);
  EXPECT_EQ(model_cfg.at("n_embd").get<int>(), 32);
  EXPECT_EQ(model_cfg.at("n_positions").get<int>(), 32);
  const auto rows = CSVLogger::read(run + "/metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].at("step"), 3);
  ASSERT_EQ(rows[2].count("val_loss"), 1u);
  const double val_loss = rows[2].at("val_loss");
  EXPECT_GT(val_loss, 1.0);
  EXPECT_LT(val_loss, 6.0);
  EXPECT_EQ(rows[0].count("lr"), 1u);

  // validate on the last checkpoint reproduces the run's final val_loss.
  auto val = run_cli(dir, "validate --config " + recipe + " " + kShrink + " --ckpt_path " + run +
                              "/checkpoints/last --json");
  ASSERT_EQ(val.code, 0) << val.out << val.err;
  const auto open = val.out.find('{'), close = val.out.rfind('}');
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos) << val.out;
  const auto j = nlohmann::json::parse(val.out.substr(open, close - open + 1));
  EXPECT_NEAR(j.at("val_loss").get<double>(), val_loss, 1e-6 * val_loss);

  // generate: the default prompt "\n" plus 20 characters of the corpus' alphabet, reproducibly.
  const std::string gen_args = "generate --checkpoint " + run + "/checkpoints/last --max-new-tokens 20 --seed 1";
  auto g1 = run_cli(dir, gen_args);
  ASSERT_EQ(g1.code, 0) << g1.err;
  ASSERT_EQ(g1.out.size(), 22u) << g1.out;
  EXPECT_EQ(g1.out.front(), '\n');
  EXPECT_EQ(g1.out.back(), '\n');
  const std::string corpus = test::read_text(dir / "input.txt");
  const std::set<char> alphabet(corpus.begin(), corpus.end());
  for (char c : g1.out) EXPECT_EQ(alphabet.count(c), 1u) << "char " << static_cast<int>(c);
  auto g2 = run_cli(dir, gen_args);
  EXPECT_EQ(g2.out, g1.out);

  // Fine-tuning from the checkpoint as a Hugging Face directory: at lr 0 the weights stay the
  // loaded ones, so they must equal the checkpoint's bit for bit (the weights were loaded).
  const std::string ckpt = run + "/checkpoints/last";
  std::string ft_yaml = test::read_text(recipe);
  const std::string preset_line = "  preset: babygpt-tiny\n";
  ft_yaml.replace(ft_yaml.find(preset_line), preset_line.size(), "  from_pretrained: " + ckpt + "\n");
  test::write_text(dir / "finetune.yaml", ft_yaml);
  auto ft = run_cli(dir, "fit --config " + (dir / "finetune.yaml") + " --optimizer.lr=0 --trainer.max_steps=2 "
                         "--trainer.default_root_dir=" + (dir / "runs-ft"));
  ASSERT_EQ(ft.code, 0) << ft.out << ft.err;
  {
    io::SafetensorsFile a(ckpt + "/model.safetensors"), b(dir / "runs-ft/tiny-cli/checkpoints/last/model.safetensors");
    ASSERT_EQ(a.names(), b.names());
    for (const auto& n : a.names()) EXPECT_TRUE(torch::equal(a.load(n), b.load(n))) << n;
  }
  auto ft_bad = run_cli(dir, "fit --config " + (dir / "finetune.yaml") + " --model.n_layer=3");
  EXPECT_EQ(ft_bad.code, 2);
  EXPECT_CONTAINS(ft_bad.err, "model.n_layer cannot be set with model.from_pretrained");

  // score: text and the same ids give one number; perplexity = e^mean_nll; bad ids exit 2.
  auto tok = run_cli(dir, "tokenize --tokenizer " + ckpt + " --text \"To be, or not\"");
  ASSERT_EQ(tok.code, 0) << tok.err;
  std::string ids = tok.out;
  while (!ids.empty() && (ids.back() == '\n' || ids.back() == ' ')) ids.pop_back();
  auto st = run_cli(dir, "score --model " + ckpt + " --text \"To be, or not\" --json");
  ASSERT_EQ(st.code, 0) << st.err;
  auto si = run_cli(dir, "score --model " + ckpt + " --ids \"" + ids + "\" --json");
  ASSERT_EQ(si.code, 0) << si.err;
  const auto jt = nlohmann::json::parse(st.out), ji = nlohmann::json::parse(si.out);
  EXPECT_EQ(jt.at("tokens").get<int64_t>(), 12);  // 13 characters, all but the first scored
  EXPECT_DOUBLE_EQ(jt.at("mean_nll").get<double>(), ji.at("mean_nll").get<double>());
  EXPECT_NEAR(jt.at("perplexity").get<double>(), std::exp(jt.at("mean_nll").get<double>()), 1e-9);
  EXPECT_GT(jt.at("mean_nll").get<double>(), 0.5);
  auto bad = run_cli(dir, "score --model " + ckpt + " --ids \"1 99999\"");
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "token id 99999");
}

// volt tokenize: ids as decimal numbers separated by single spaces; --decode inverts it exactly;
// BOS/EOS only when asked; errors name the file.
TEST(Cli, TokenizeAndDecode) {
  ScopedTempDir dir;
  const std::string gpt2 = volt_test_data("tokenizers/gpt2");
  auto r = run_cli(dir, "tokenize --tokenizer " + gpt2 + " --text 'Hello world'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "15496 995\n");
  r = run_cli(dir, "tokenize --tokenizer " + gpt2 + " --text 'Hello world' --eos");
  EXPECT_EQ(r.out, "15496 995 50256\n");
  // This GPT-2 directory has tokenizer.json alone: transformers loads it with no BOS token (the
  // special-token goldens), so asking for one is an error naming the file, not a guess.
  r = run_cli(dir, "tokenize --tokenizer " + gpt2 + " --text 'Hello world' --bos");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "has no BOS token");
  const std::string text = "  Caf\xC3\xA9 \xF0\x9F\xA6\x99 it's 12345!\n\n";
  io::write_file_atomic(dir / "in.txt", text);
  r = run_cli(dir, "tokenize --tokenizer " + volt_test_data("tokenizers/llama2/tokenizer.model") +
                       " --file " + (dir / "in.txt"));
  ASSERT_EQ(r.code, 0) << r.err;
  io::write_file_atomic(dir / "ids.txt", r.out);
  auto d = run_cli(dir, "tokenize --tokenizer " + volt_test_data("tokenizers/llama2") +
                            " --decode --file " + (dir / "ids.txt"));
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, text);
  io::write_file_atomic(dir / "bad.txt", "15496 x");
  d = run_cli(dir, "tokenize --tokenizer " + gpt2 + " --decode --file " + (dir / "bad.txt"));
  EXPECT_EQ(d.code, 2);
  EXPECT_CONTAINS(d.err, "'x' is not a token id");
  auto missing = run_cli(dir, "tokenize --tokenizer " + (dir / "nope") + " --text hi");
  EXPECT_EQ(missing.code, 2);
  EXPECT_CONTAINS(missing.err, "nope: no such file or directory");
}

// volt tokenizer train writes a tokenizer.json that volt tokenize then uses; bench reports speed.
TEST(Cli, TokenizerTrainThenTokenizeThenBench) {
  ScopedTempDir dir;
  const std::string corpus = volt_test_data("corpora/tinyshakespeare/input.txt");
  auto t = run_cli(dir, "tokenizer train --input " + corpus + " --vocab-size 400 --out " +
                            (dir / "tok") + " --quiet");
  ASSERT_EQ(t.code, 0) << t.err;
  ASSERT_TRUE(fs::exists(dir / "tok/tokenizer.json"));
  auto e = run_cli(dir, "tokenize --tokenizer " + (dir / "tok") + " --text 'First Citizen'");
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_FALSE(e.out.empty());
  auto b = run_cli(dir, "tokenizer bench --tokenizer " + volt_test_data("tokenizers/gpt2") +
                            " --file " + corpus + " --repeats 1 --threads 2");
  EXPECT_EQ(b.code, 0) << b.err;
  EXPECT_CONTAINS(b.out, "MB/s");
  EXPECT_CONTAINS(b.out, "threads    2");
}

// volt data: prepare builds the token cache once and then reopens it; stats reports documents,
// tokens and every collator's padding (--json, overrides applied); fit trains on the packed
// collator and logs the data wait to timings.csv, not metrics.csv.
TEST(Cli, DataPrepareStatsThenFitPacked) {
  ScopedTempDir dir;
  const std::string text = io::read_file(volt_test_data("corpora/tinyshakespeare/input.txt"));
  test::write_text(dir / "plays.txt", text.substr(0, 20000));  // speeches separated by blank lines
  const std::string yaml =
      "name: data-cli\n"
      "trainer: {max_steps: 3, val_check_interval: 3, limit_val_batches: 2, log_every_n_steps: 1,\n"
      "          enable_progress_bar: false, num_threads: 1, default_root_dir: " + (dir / "runs") + "}\n"
      "model: {preset: babygpt-tiny, n_layer: 1, n_embd: 32, vocab_size: 50304}\n"
      "data:\n"
      "  module: llm\n"
      "  format: text\n"
      "  documents: blank_line\n"
      "  path: " + (dir / "plays.txt") + "\n"
      "  tokenizer: " + volt_test_data("tokenizers/gpt2") + "\n"
      "  cache_dir: " + (dir / "cache") + "\n"
      "  block_size: 32\n"
      "  batch_size: 4\n"
      "  collator: packed\n"
      "  val_fraction: 0.1\n"
      "  num_workers: 2\n"
      "optimizer: {lr: 1.0e-3}\n"
      "scheduler: {warmup_steps: 1}\n";
  const std::string recipe = dir / "recipe.yaml";
  test::write_text(recipe, yaml);

  auto p1 = run_cli(dir, "data prepare --config " + recipe);
  ASSERT_EQ(p1.code, 0) << p1.out << p1.err;
  EXPECT_CONTAINS(p1.out, "built in");
  auto p2 = run_cli(dir, "data prepare --config " + recipe);
  ASSERT_EQ(p2.code, 0) << p2.err;
  EXPECT_CONTAINS(p2.out, "reopened");

  auto s = run_cli(dir, "data stats --config " + recipe + " --json --data.block_size=64");
  ASSERT_EQ(s.code, 0) << s.out << s.err;
  const auto j = nlohmann::json::parse(s.out);
  const int64_t docs = j.at("documents").get<int64_t>();
  EXPECT_GT(docs, 50);
  EXPECT_GT(j.at("tokens").get<int64_t>(), 4000);
  EXPECT_EQ(j.at("block_size").get<int64_t>(), 64);
  const auto& pad = j.at("padding_fraction");
  EXPECT_LT(pad.at("packed").get<double>(), pad.at("static").get<double>());
  EXPECT_LE(pad.at("dynamic").get<double>(), pad.at("static").get<double>());
  EXPECT_TRUE(fs::exists(j.at("plot").get<std::string>()));
  auto table = run_cli(dir, "data stats --config " + recipe + " --split val");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_CONTAINS(table.out, "length histogram");
  EXPECT_CONTAINS(table.out, "packed");

  auto fit = run_cli(dir, "fit --config " + recipe);
  ASSERT_EQ(fit.code, 0) << fit.out << fit.err;
  const std::string run = dir / "runs/data-cli";
  const auto rows = CSVLogger::read(run + "/metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].count("val_loss"), 1u);
  EXPECT_EQ(rows[2].count("data_wait"), 0u);
  const auto timings = CSVLogger::read(run + "/timings.csv");
  ASSERT_EQ(timings.size(), 3u);
  EXPECT_GE(timings[2].at("data_wait"), 0.0);
  EXPECT_LE(timings[2].at("data_wait"), 1.0);

  // Errors: a text-module config, a corpus that is not there, an unknown collator.
  auto text_cfg = run_cli(dir, "data stats --config " + recipe + " --data.module=text");
  EXPECT_EQ(text_cfg.code, 2);
  EXPECT_CONTAINS(text_cfg.err, "data.module");
  auto missing = run_cli(dir, "data prepare --config " + recipe + " --data.path=" + (dir / "nope.txt"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_CONTAINS(missing.err, "nope.txt");
  auto bad = run_cli(dir, "data stats --config " + recipe + " --data.collator=pack");
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "collator 'pack'");
}

// volt init writes a random model that generate and score accept; --no-kv-cache changes the
// work, not the tokens.
TEST(Cli, InitThenGenerateWithAndWithoutTheCache) {
  ScopedTempDir dir;
  auto init = run_cli(dir, "init --preset babygpt-tiny --out " + (dir / "m") + " --tokenizer " +
                               volt_test_data("tokenizers/gpt2") + " --seed 3");
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_EQ(io::read_json(dir / "m/config.json").at("vocab_size").get<int64_t>(), 50257);
  const std::string gen = "generate --model " + (dir / "m") + " --prompt Hello --max-new-tokens 12 --temperature 0";
  auto a = run_cli(dir, gen), b = run_cli(dir, gen + " --no-kv-cache");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_CONTAINS(a.err, "tokens/s");
  // convert: bf16 shards and the tokenizer, no trainer state; the result loads and generates.
  auto conv = run_cli(dir, "convert --in " + (dir / "m") + " --out " + (dir / "hf") +
                               " --dtype bfloat16 --max-shard-size 0.004");
  ASSERT_EQ(conv.code, 0) << conv.err;
  EXPECT_TRUE(fs::exists(dir / "hf/model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(dir / "hf/tokenizer.json"));
  EXPECT_EQ(io::read_json(dir / "hf/config.json").at("torch_dtype"), "bfloat16");
  {
    const auto files = pretrained_weight_files(dir / "hf");
    EXPECT_GE(files.size(), 2u);
    io::SafetensorsFile f(files[0]);
    EXPECT_EQ(f.info(f.names()[0]).dtype, torch::kBFloat16);
  }
  auto g = run_cli(dir, "generate --model " + (dir / "hf") + " --prompt Hello --max-new-tokens 4 --temperature 0");
  EXPECT_EQ(g.code, 0) << g.err;
  auto bad = run_cli(dir, "init --preset gpt5 --out " + (dir / "x"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "unknown preset 'gpt5'");
}

// The repository's shipped configs: env VOLT_CONFIGS_DIR, else configs/ in the source tree.
std::string shipped_config(const std::string& name) {
  std::string dir = VOLT_TEST_CONFIGS_DIR;
  if (const char* env = std::getenv("VOLT_CONFIGS_DIR"); env != nullptr && *env != '\0') dir = env;
  const std::string path = dir + "/" + name;
  if (!fs::exists(path)) throw std::runtime_error(path + " does not exist (env VOLT_CONFIGS_DIR)");
  return path;
}

double json_val_loss(const CliResult& r) {
  EXPECT_EQ(r.code, 0) << r.err;
  const auto open = r.out.find('{'), close = r.out.rfind('}');  // the JSON line among others
  if (open == std::string::npos || close == std::string::npos) return std::nan("");
  return nlohmann::json::parse(r.out.substr(open, close - open + 1)).at("val_loss").get<double>();
}

// The BabyGPT Trainer's CLI form: the shipped fine-tuning config, run from a Hugging Face
// directory (here a random babygpt-tiny with GPT-2's tokenizer, shrunk to rows of 32): validate
// before, fit, validate the checkpoint after on the same fixed validation set.
TEST(Cli, FinetuneRecipeValidatesFitsAndValidatesAgain) {
  ScopedTempDir dir;
  auto init = run_cli(dir, "init --preset babygpt-tiny --out " + (dir / "base") + " --tokenizer " +
                               volt_test_data("tokenizers/gpt2"));
  ASSERT_EQ(init.code, 0) << init.err;
  const std::string common = "--config " + shipped_config("babygpt-finetune-shakespeare.yaml") +
                             " --data.path=" + volt_test_data("corpora/tinyshakespeare/input.txt") +
                             " --data.block_size=32 --data.val_batches=2 --trainer.limit_val_batches=2"
                             " --trainer.num_threads=1 --trainer.enable_progress_bar=false";
  const double before = json_val_loss(run_cli(dir, "validate --json " + common + " --model.from_pretrained=" + (dir / "base")));
  auto fit = run_cli(dir, "fit " + common + " --model.from_pretrained=" + (dir / "base") +
                              " --trainer.max_steps=4 --trainer.val_check_interval=4 --optimizer.lr=3e-3"
                              " --scheduler.warmup_steps=1 --scheduler.decay_steps=4 --trainer.default_root_dir=" +
                              (dir / "runs"));
  ASSERT_EQ(fit.code, 0) << fit.err;
  const double after = json_val_loss(run_cli(dir, "validate --json " + common + " --model.from_pretrained=" +
                                                      (dir / "runs/babygpt-finetune-shakespeare/checkpoints/last")));
  EXPECT_LT(after, before - 0.1);
}

// volt memory: PEFT's trainable count for Llama-2-7B at r = 8, and the estimate beside a measured
// peak of a real (tiny) training run.
TEST(Cli, MemoryCountsLoraAndMatchesAMeasuredRun) {
  ScopedTempDir dir;
  auto lora = run_cli(dir, "memory --model llama-2-7b --lora-rank 8 --lora-targets q_proj,v_proj --json");
  ASSERT_EQ(lora.code, 0) << lora.err;
  const auto j = nlohmann::json::parse(lora.out);
  EXPECT_EQ(j.at("trainable_params").get<int64_t>(), 4194304);
  EXPECT_EQ(j.at("total_params").get<int64_t>(), 6742609920);
  auto measured = run_cli(dir, "memory --model babygpt-shakespeare --micro-batch 4 --seq-len 64 --measure 2 --json");
  ASSERT_EQ(measured.code, 0) << measured.err;
  const auto m = nlohmann::json::parse(measured.out);
  EXPECT_NEAR(m.at("peak_bytes").get<double>() / m.at("measured_peak_bytes").get<double>(), 1.0, 0.15);
  auto text = run_cli(dir, "memory --model gpt2 --precision bf16-mixed --micro-batch 8");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_CONTAINS(text.out, "124,439,808 parameters");
  EXPECT_CONTAINS(text.out, "16.0 bytes per trainable parameter");
  auto bad = run_cli(dir, "memory --model gpt2 --lora-rank 8 --lora-targets q_proj");
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "LoRA target 'q_proj' is not a Linear layer of a gpt2 block");
}

// volt bench: every grid point trained and measured, the CSV and plots written; a point that
// cannot run here (16-mixed on a CPU without fp16 matmuls) is reported, the others still run.
TEST(Cli, BenchRunsEveryGridPointAndWritesCsvAndPlots) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  auto r = run_cli(dir, "bench --config " + recipe + " --grid precision=32-true,16-mixed accumulate=1,2 --steps 2 "
                        "--warmup 1 --out " + (dir / "bench") + " " + kShrink);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string csv = test::read_text(dir / "bench/bench.csv");
  EXPECT_CONTAINS(csv, "precision,accumulate,step_seconds,tokens_per_step,tokens_per_sec,peak_mem_bytes,mfu,error");
  EXPECT_CONTAINS(csv, "32-true,1,");
  EXPECT_CONTAINS(csv, "32-true,2,");
  EXPECT_CONTAINS(r.out, "tokens/s");
  // accumulate=2 takes two micro-batches of 4 x 16 tokens a step.
  EXPECT_CONTAINS(csv, ",128,");
  EXPECT_TRUE(fs::exists(dir / "bench/bench-tokens.svg"));
  EXPECT_TRUE(fs::exists(dir / "bench/bench-memory.svg"));
  if (!compat::cpu_matmul_supports(torch::kHalf)) EXPECT_CONTAINS(r.out, "failed: [trainer] precision '16-mixed'");
  auto bad = run_cli(dir, "bench --config " + recipe + " --grid precision");
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "--grid item 'precision' is not KEY=V1,V2");
}

// Local-LoRA through the CLI: a random llama-tiny with Llama 2's tokenizer, the shipped QLoRA
// recipe for a few steps (its checkpoint is a PEFT adapter directory), resumed; generation with
// --adapter equals generation from the merged model; bad peft settings are config errors.
TEST(Cli, QloraRecipeFitsSavesAPeftAdapterGeneratesAndMerges) {
  ScopedTempDir dir;
  auto init = run_cli(dir, "init --preset llama-tiny --out " + (dir / "base") + " --tokenizer " +
                               volt_test_data("tokenizers/llama2/tokenizer.model"));
  ASSERT_EQ(init.code, 0) << init.err;
  const std::string common = "--config " + shipped_config("local-lora-llama.yaml") + " --data.path=" +
                             volt_test_data("corpora/tinyshakespeare/input.txt") + " --model.from_pretrained=" +
                             (dir / "base") + " --data.block_size=32 --data.val_batches=2 --trainer.limit_val_batches=2"
                             " --trainer.num_threads=1 --trainer.enable_progress_bar=false --trainer.default_root_dir=" +
                             (dir / "runs") + " --scheduler.warmup_steps=1 --scheduler.decay_steps=6";
  auto fit = run_cli(dir, "fit " + common + " --trainer.max_steps=4 --trainer.val_check_interval=4");
  ASSERT_EQ(fit.code, 0) << fit.err;
  const std::string ckpt = dir / "runs/local-lora-llama/checkpoints/last";
  EXPECT_TRUE(fs::exists(ckpt + "/adapter_config.json"));
  EXPECT_TRUE(fs::exists(ckpt + "/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(ckpt + "/model.safetensors"));  // the base is not copied into checkpoints
  const auto cfg = nlohmann::json::parse(test::read_text(ckpt + "/adapter_config.json"));
  EXPECT_EQ(cfg.at("r"), 16);
  EXPECT_EQ(cfg.at("target_modules"), "all-linear");
  EXPECT_EQ(cfg.at("base_model_name_or_path"), dir / "base");
  auto resumed = run_cli(dir, "fit " + common + " --trainer.max_steps=6 --trainer.val_check_interval=3 --ckpt_path last");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_CONTAINS(resumed.out, "Resumed from");

  auto gen = run_cli(dir, "generate --adapter " + ckpt + " --prompt ROMEO: --max-new-tokens 12 --temperature 0");
  ASSERT_EQ(gen.code, 0) << gen.err;
  // The adapter checkpoint was trained on an NF4 base; merging folds it into the full-precision
  // base, which is what --adapter generates from too: the same text.
  auto merge = run_cli(dir, "merge --adapter " + ckpt + " --out " + (dir / "merged"));
  ASSERT_EQ(merge.code, 0) << merge.err;
  EXPECT_TRUE(fs::exists(dir / "merged/model.safetensors"));
  auto gen_merged = run_cli(dir, "generate --model " + (dir / "merged") +
                                     " --prompt ROMEO: --max-new-tokens 12 --temperature 0");
  ASSERT_EQ(gen_merged.code, 0) << gen_merged.err;
  EXPECT_EQ(gen.out, gen_merged.out);

  auto bad = run_cli(dir, "fit " + common + " --model.peft.type=dora");
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "model.peft.type 'dora' is not one of lora, qlora");
  auto bad_target = run_cli(dir, "fit " + common + " --model.peft.target_modules=[c_attn]");
  EXPECT_EQ(bad_target.code, 2);
  EXPECT_CONTAINS(bad_target.err, "target module 'c_attn' matches no Linear layer");
}

}  // namespace
}  // namespace volt

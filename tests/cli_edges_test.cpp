// The edges a Lightning + Hugging Face user trips over (issue: "At the edges"), each pinned here:
// usage errors (exit 2, the bad word and the nearest valid one), LightningCLI conventions (several
// --config, --print_config, --name, test / predict, EarlyStopping, parameter counts), resuming the
// right run, max_steps=0, checkpoints that count themselves, run-directory locks, generation that
// never samples padded ids, and the files a checkpoint must carry for transformers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "cli_helpers.h"
#include "test_data.h"
#include "test_helpers.h"
#include "volt/core/config.h"
#include "volt/core/csv_logger.h"
#include "volt/core/directory_lock.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;
using namespace test::cli;

// The first line of stderr that starts with "error:" (what a user sees).
std::string error_line(const CliResult& r) {
  const auto at = r.err.find("error:");
  if (at == std::string::npos) return "";
  return r.err.substr(at, r.err.find('\n', at) - at);
}

TEST(CliEdges, UsageErrorsExit2NamingTheBadWordAndTheNearestValidOne) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  struct Case {
    std::string args, bad, near;
  };
  const std::vector<Case> cases = {
      {"trian", "'trian'", "'volt fit'"},
      {"genrate --model x", "'genrate'", "'volt generate'"},
      {"fit --confg " + recipe, "'--confg'", "'--config'"},
      {"generate --temprature 0.5 --model x", "'--temprature'", "'--temperature'"},
      {"tokenizer trian", "'trian'", "'train'"},
      {"memory --model gpt2 --precision bf16-mix", "'bf16-mix'", "'bf16-mixed'"},
      {"memory --model llama-2-70", "'llama-2-70'", "'llama-2-70b'"},
      {"fit --config " + recipe + " --trainer.max_stesp=3", "'trainer.max_stesp'",
       "'trainer.max_steps'"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(dir, c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    const std::string line = error_line(r);
    EXPECT_CONTAINS(line, c.bad);
    EXPECT_CONTAINS(line, "did you mean " + c.near);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  // Subcommands without a subcommand, a missing --config and a bad value: exit 2, one short line.
  for (const std::string args : {"", "data", "fit", "validate"}) {
    auto r = run_cli(dir, args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
  }
  auto negative = run_cli(dir, "generate --model x --temperature -1");
  EXPECT_EQ(negative.code, 2);
  EXPECT_CONTAINS(negative.err, "--temperature");
  EXPECT_CONTAINS(negative.err, "must be >= 0, got -1");
  EXPECT_LT(negative.err.size(), 200u) << negative.err;  // not CLI11's 309-digit range
  // A typo on the command line is blamed on the command line, not on the recipe file.
  auto typo = run_cli(dir, "fit --config " + recipe + " --trainer.max_stesp=3");
  EXPECT_CONTAINS(typo.err, "[cli] --trainer.max_stesp=3");
  // A negative learning rate is an lr problem.
  auto lr = run_cli(dir, "fit --config " + recipe + " --optimizer.lr=-0.1");
  EXPECT_EQ(lr.code, 2);
  EXPECT_CONTAINS(lr.err, "optimizer.lr must be >= 0, got -0.1");
}

TEST(CliEdges, SeveralConfigsMergeInOrderAndPrintConfigShowsEveryDefault) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  test::write_text(dir / "more.yaml",
                   "trainer:\n  max_steps: 2\n  checkpoint:\n    save_top_k: 3\nname: merged\n");
  auto r = run_cli(dir, "fit --config " + recipe + " --config " + (dir / "more.yaml") +
                            " --print_config --trainer.seed=9");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto c = Config::from_string(r.out);
  EXPECT_EQ(c.root()["name"].as<std::string>(), "merged");
  EXPECT_EQ(c.root()["trainer"]["max_steps"].as<int>(), 2);          // the later file wins
  EXPECT_EQ(c.root()["trainer"]["seed"].as<int>(), 9);               // the override wins over both
  EXPECT_EQ(c.root()["trainer"]["log_every_n_steps"].as<int>(), 1);  // kept from the first file
  // Defaults filled in: the checkpoint section shows what is used, not {}.
  EXPECT_EQ(c.root()["trainer"]["checkpoint"]["save_top_k"].as<int>(), 3);
  EXPECT_EQ(c.root()["trainer"]["checkpoint"]["monitor"].as<std::string>(), "none");
  EXPECT_TRUE(c.root()["trainer"]["checkpoint"]["save_last"].as<bool>());
  EXPECT_EQ(c.root()["optimizer"]["weight_decay"].as<double>(), 0.1);
  EXPECT_FALSE(fs::exists(dir / "runs")) << "--print_config runs nothing";

  // --name is overridable like any key, and config.yaml is the resolved config.
  auto fit = run_cli(
      dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=2 --name=renamed");
  ASSERT_EQ(fit.code, 0) << fit.err;
  const auto saved = Config::from_file(dir / "runs/renamed/config.yaml");
  EXPECT_EQ(saved.root()["trainer"]["checkpoint"]["mode"].as<std::string>(), "min");
  EXPECT_GT(saved.root()["model"]["vocab_size"].as<int>(), 10);  // the tokenizer's, not 0
  EXPECT_CONTAINS(fit.out, "Parameters: ");
  EXPECT_CONTAINS(fit.out, " trainable, 0 frozen, ");
}

TEST(CliEdges, CkptPathLastResumesTheNewestRunOfTheName) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  ASSERT_EQ(run_cli(dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=3").code,
            0);
  auto second = run_cli(dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=2");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_CONTAINS(second.out, "run directory " + (dir / "runs/tiny-cli-v1"));
  // tiny-cli-v1 was written last: `last` continues it (at step 2), not tiny-cli (at step 3).
  auto resumed = run_cli(
      dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=4 --ckpt_path last");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_CONTAINS(resumed.out, "resuming from " + (dir / "runs/tiny-cli-v1/checkpoints/last"));
  EXPECT_CONTAINS(resumed.out, "Resumed from");
  EXPECT_CONTAINS(resumed.out, "at step 2");
  EXPECT_EQ(CSVLogger::read(dir / "runs/tiny-cli-v1/metrics.csv").back().at("step"), 4);
  EXPECT_EQ(CSVLogger::read(dir / "runs/tiny-cli/metrics.csv").back().at("step"), 3);
  EXPECT_FALSE(fs::exists(dir / "runs/tiny-cli-v2"));
  // validate --ckpt_path last finds the same checkpoint (not a tokenizer named "last").
  auto val =
      run_cli(dir, "validate --config " + recipe + " " + kShrink + " --ckpt_path last --json");
  EXPECT_EQ(val.code, 0) << val.err;
}

TEST(CliEdges, ACheckpointOutsideTheRootStartsAFreshRunUnderTheRoot) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  ASSERT_EQ(run_cli(dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=2").code,
            0);
  fs::create_directories(dir / "elsewhere");
  fs::copy(dir / "runs/tiny-cli/checkpoints/last", dir / "elsewhere/ckpt",
           fs::copy_options::recursive);
  auto r = run_cli(dir, "fit --config " + recipe + " " + kShrink +
                            " --trainer.max_steps=3 --ckpt_path " + (dir / "elsewhere/ckpt") +
                            " --trainer.default_root_dir=" + (dir / "runs2"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "run directory " + (dir / "runs2/tiny-cli"));
  EXPECT_TRUE(fs::exists(dir / "runs2/tiny-cli/checkpoints/last/trainer_state.json"));
  EXPECT_FALSE(fs::exists(dir / "metrics.csv"))
      << "nothing written two levels above the checkpoint";
  EXPECT_EQ(CSVLogger::read(dir / "runs2/tiny-cli/metrics.csv").back().at("step"), 3);
}

TEST(CliEdges, MaxStepsZeroTrainsNothingAndBelowMinusOneIsAnError) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  auto zero = run_cli(dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=0");
  ASSERT_EQ(zero.code, 0) << zero.err;
  EXPECT_CONTAINS(zero.out, "max_steps=0: nothing to train");
  EXPECT_CONTAINS(zero.out, "done: 0 steps");
  EXPECT_FALSE(fs::exists(dir / "runs/tiny-cli/checkpoints"));
  auto bad = run_cli(dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=-2");
  EXPECT_EQ(bad.code, 2);
  EXPECT_CONTAINS(bad.err, "max_steps must be -1 (no limit), 0 (no training)");
}

TEST(CliEdges, ACheckpointCountsItselfSoTheBestAfterResumeExists) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  const std::string common = std::string(kShrink) +
                             " --trainer.val_check_interval=1 --trainer.checkpoint.monitor=val_loss"
                             " --trainer.checkpoint.save_top_k=1";
  ASSERT_EQ(run_cli(dir, "fit --config " + recipe + " " + common + " --trainer.max_steps=3").code,
            0);
  const std::string run = dir / "runs/tiny-cli";
  // The state inside each checkpoint names that checkpoint among the top k.
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) {
    const auto state = io::read_json((e.path() / "trainer_state.json").string());
    const auto top_k = state.at("callbacks").at("ModelCheckpoint").at("top_k");
    if (e.path().filename() != "last") {
      EXPECT_TRUE(top_k.contains(e.path().string())) << e.path() << top_k.dump();
    }
  }
  auto resumed =
      run_cli(dir, "fit --config " + recipe + " " + common + " --trainer.max_steps=5 --ckpt_path " +
                       run + "/checkpoints/last");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const auto at = resumed.out.find("best checkpoint: ");
  ASSERT_NE(at, std::string::npos) << resumed.out;
  const std::string best = resumed.out.substr(at + 17, resumed.out.find('\n', at) - at - 17);
  EXPECT_TRUE(fs::exists(best + "/model.safetensors")) << best;
}

TEST(CliEdges, EveryNTrainStepsWithTheDefaultMonitorKeepsEveryCheckpoint) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  auto r = run_cli(
      dir, "fit --config " + recipe + " " + kShrink +
               " --trainer.max_steps=3 "
               "--trainer.val_check_interval=100 --trainer.checkpoint.every_n_train_steps=1 "
               "--trainer.checkpoint.save_top_k=-1");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* tag : {"step-000001", "step-000002", "step-000003", "last"}) {
    EXPECT_TRUE(fs::exists(dir / (std::string("runs/tiny-cli/checkpoints/") + tag))) << tag;
  }
  // A monitored metric that validation has not logged yet: a warning, not a stopped run.
  auto waiting =
      run_cli(dir, "fit --config " + recipe + " " + kShrink +
                       " --trainer.max_steps=3 "
                       "--trainer.val_check_interval=3 --trainer.checkpoint.every_n_train_steps=1 "
                       "--trainer.checkpoint.monitor=val_loss --name=waiting");
  ASSERT_EQ(waiting.code, 0) << waiting.err;
  EXPECT_CONTAINS(waiting.out, "monitor 'val_loss' was never logged");
  EXPECT_TRUE(fs::exists(dir / "runs/waiting/checkpoints/step-000003"));
}

TEST(CliEdges, EarlyStoppingStopsWhenTheMonitorStopsImproving) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  // lr 0: val_loss never improves, so with patience 2 the run stops at the third validation.
  auto r = run_cli(dir, "fit --config " + recipe + " " + kShrink +
                            " --optimizer.lr=1e-12 --trainer.max_steps=20 "
                            "--trainer.val_check_interval=1 --trainer.early_stopping.patience=2 "
                            "--trainer.early_stopping.min_delta=0.01");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "[EarlyStopping] val_loss did not improve");
  EXPECT_CONTAINS(r.out, "done: 3 steps");
}

TEST(CliEdges, ConcurrentFitsGetTheirOwnRunDirectoriesAndAResumeIntoABusyOneIsRefused) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  const std::string args = "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=2";
  const pid_t a = spawn_cli(dir, args, "a"), b = spawn_cli(dir, args, "b");
  EXPECT_EQ(wait_cli(a), 0) << test::read_text(dir / "a.stderr");
  EXPECT_EQ(wait_cli(b), 0) << test::read_text(dir / "b.stderr");
  EXPECT_TRUE(fs::exists(dir / "runs/tiny-cli/checkpoints/last"));
  EXPECT_TRUE(fs::exists(dir / "runs/tiny-cli-v1/checkpoints/last"));
  {
    DirectoryLock busy(dir / "runs/tiny-cli", "run directory");  // another volt process, as it were
    auto r = run_cli(dir, args + " --trainer.max_steps=3 --ckpt_path " +
                              (dir / "runs/tiny-cli/checkpoints/last"));
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_CONTAINS(r.err,
                    "is in use by another volt process (pid " + std::to_string(::getpid()) + ")");
  }
  auto r = run_cli(
      dir, args + " --trainer.max_steps=3 --ckpt_path " + (dir / "runs/tiny-cli/checkpoints/last"));
  EXPECT_EQ(r.code, 0) << r.err;  // free again once the holder is gone
}

TEST(CliEdges, TestAndPredictEvaluateTheTestSplit) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  ASSERT_EQ(run_cli(dir, "fit --config " + recipe + " " + kShrink + " --trainer.max_steps=2").code,
            0);
  const std::string ckpt = dir / "runs/tiny-cli/checkpoints/last";
  // A text DataModule has no test split: said clearly.
  auto no_split = run_cli(dir, "test --config " + recipe + " " + kShrink + " --ckpt_path " + ckpt);
  EXPECT_EQ(no_split.code, 2);
  EXPECT_CONTAINS(no_split.err, "the test dataloader is empty");
  auto pred = run_cli(dir, "predict --config " + recipe + " " + kShrink + " --ckpt_path " + ckpt +
                               " --output " + (dir / "pred.jsonl"));
  ASSERT_EQ(pred.code, 0) << pred.err;
  const std::string lines = test::read_text(dir / "pred.jsonl");
  ASSERT_FALSE(lines.empty());
  const auto first = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
  EXPECT_EQ(first.at("tokens").get<int64_t>(), 16);  // a block of 16, every token a target
  EXPECT_NEAR(first.at("perplexity").get<double>(), std::exp(first.at("mean_nll").get<double>()),
              1e-9);
  // Without a checkpoint, the weights evaluated are said to be the initial ones.
  auto bare = run_cli(dir, "validate --config " + recipe + " " + kShrink);
  EXPECT_EQ(bare.code, 0) << bare.err;
  EXPECT_CONTAINS(bare.err, "no --ckpt_path: evaluating the recipe's initial weights (random)");
}

}  // namespace
}  // namespace volt

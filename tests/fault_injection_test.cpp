// Faults injected into real `volt fit` processes: kill -9 at random moments of a run that saves a
// checkpoint after every step (the last one must always load and resume), SIGTERM and SIGINT
// (finish the step, save, exit 143 / 130), and running out of memory under a ulimit (one line
// with volt memory's estimate and what to change, exit 2). docs/reliability.md lists the results.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "cli_helpers.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;
using namespace test::cli;

const char* kTiny = "--model.n_layer=1 --model.n_embd=32 --model.block_size=32 --trainer.seed=7 "
                    "--trainer.checkpoint.every_n_train_steps=1 --trainer.checkpoint.monitor=none "
                    "--trainer.checkpoint.save_top_k=2 --trainer.val_check_interval=0";

// Waits until the checkpoint in dir records at least `step`.
bool wait_for_step(const std::string& dir, int64_t step, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    try {
      if (io::read_json(dir + "/trainer_state.json").at("global_step").get<int64_t>() >= step) return true;
    } catch (const std::exception&) {  // not written yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Everything a resume reads, read: the step it records, or -1 with a failure.
int64_t checkpoint_step(const std::string& dir) {
  const auto state = io::read_json(dir + "/trainer_state.json");
  io::SafetensorsFile ts(dir + "/trainer_state.safetensors");
  for (const auto& name : ts.names()) ts.load(name);
  auto model = from_pretrained(dir);  // config.json + every weight, shapes checked
  load_tokenizer(dir);
  return state.at("global_step").get<int64_t>();
}

TEST(FaultInjection, KillNineAtRandomMomentsNeverCorruptsTheLastCheckpoint) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  const std::string run = dir / "runs/tiny-cli", last = run + "/checkpoints/last";
  const std::string common = "fit --config " + recipe + " " + kTiny + " --trainer.max_steps=1000000";
  std::mt19937 rng(2026);
  std::uniform_int_distribution<int> delay_ms(50, 700);
  // VOLT_FAULT_KILLS=100 for the stress run of docs/reliability.md; 12 in ctest.
  const char* env = std::getenv("VOLT_FAULT_KILLS");
  const int kills = env != nullptr && *env != '\0' ? std::atoi(env) : 12;
  int during_save = 0;
  int64_t step = 0;
  for (int i = 0; i < kills; ++i) {
    const pid_t pid = spawn_cli(dir, common + (i == 0 ? "" : " --ckpt_path last"), "kill");
    // Killed once it trains (past the checkpoint it resumed from), at a random moment after.
    ASSERT_TRUE(wait_for_step(last, step + 1, 60)) << test::read_text(dir / "kill.stderr");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(wait_cli(pid), 128 + SIGKILL);
    if (fs::exists(last + ".tmp")) ++during_save;  // killed while a checkpoint was being written
    int64_t now = -1;
    EXPECT_NO_THROW(now = checkpoint_step(last)) << "kill " << i;
    EXPECT_GE(now, step) << "kill " << i << ": the checkpoint went back in time";
    step = now;
  }
  std::printf("[fault] %d kill -9s, %d of them while a checkpoint was being written; last checkpoint at step %lld\n",
              kills, during_save, static_cast<long long>(step));
  // The survivor resumes and finishes.
  auto done = run_cli(dir, "fit --config " + recipe + " " + kTiny + " --ckpt_path last --trainer.max_steps=" +
                               std::to_string(step + 3));
  ASSERT_EQ(done.code, 0) << done.err;
  EXPECT_EQ(checkpoint_step(last), step + 3);
  EXPECT_FALSE(fs::exists(last + ".tmp"));  // the next save cleaned up what the kill left
  // monitor: none with save_top_k 2 keeps the newest two step checkpoints (keep-last-k).
  std::set<std::string> steps;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) {
    const auto name = e.path().filename().string();
    if (name.rfind("step-", 0) == 0 && name.find('.') == std::string::npos) steps.insert(name);
  }
  char newest[32], previous[32];
  std::snprintf(newest, sizeof newest, "step-%06lld", static_cast<long long>(step + 3));
  std::snprintf(previous, sizeof previous, "step-%06lld", static_cast<long long>(step + 2));
  EXPECT_EQ(steps, (std::set<std::string>{previous, newest}));
}

// SIGTERM, then (after resuming) SIGINT: each finishes the step it is in, saves that step as
// checkpoints/last and exits 128 + the signal, naming the step on stderr.
TEST(FaultInjection, SigtermAndSigintStopWithACheckpoint) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  const std::string last = dir / "runs/tiny-cli/checkpoints/last";
  int64_t previous = 0;
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string resume = sig == SIGTERM ? "" : " --ckpt_path last";
    const pid_t pid = spawn_cli(dir, "fit --config " + recipe + " " + kTiny + " --trainer.max_steps=1000000" + resume,
                                "signal");
    // Signal it once it is training (past the step it resumed from), not while it starts up.
    ASSERT_TRUE(wait_for_step(last, previous + 2, 60)) << test::read_text(dir / "signal.stderr");
    ::kill(pid, sig);
    EXPECT_EQ(wait_cli(pid), 128 + sig);
    const std::string err = test::read_text(dir / "signal.stderr");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(err, m, std::regex(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                                                      ": stopped after step ([0-9]+)")))
        << err;
    const int64_t stopped = std::stoll(m[1]);
    EXPECT_GT(stopped, previous);
    EXPECT_EQ(checkpoint_step(last), stopped);
    previous = stopped;
  }
}

// Out of memory: a 124M-parameter GPT-2 at 8 x 1024 tokens (a ~15 GiB step) under a 2.5 GB
// address-space limit.
TEST(FaultInjection, OutOfMemoryGivesTheEstimateAndWhatToChange) {
  ScopedTempDir dir;
  const auto recipe = write_recipe(dir);
  const std::string cmd = "ulimit -v 2500000; '" + cli_path() + "' fit --config " + recipe +
                          " --model.preset=gpt2 --model.block_size=1024 --data.tokenizer=" +
                          volt_test_data("tokenizers/gpt2") + " --data.path=" +
                          volt_test_data("corpora/tinyshakespeare/input.txt") +
                          " --data.block_size=1024 --data.batch_size=8 --trainer.max_steps=2 >'" + (dir / "oom.out") +
                          "' 2>'" + (dir / "oom.err") + "'";
  const int status = std::system(("sh -c \"" + cmd + "\"").c_str());
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal: no clean error";
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string err = test::read_text(dir / "oom.err");
  EXPECT_CONTAINS(err, "[trainer] out of memory");
  EXPECT_CONTAINS(err, "volt memory estimates a peak of");
  EXPECT_CONTAINS(err, "--trainer.accumulate_grad_batches=2");
  EXPECT_CONTAINS(err, "--model.activation_checkpointing=true");
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
}

}  // namespace
}  // namespace volt

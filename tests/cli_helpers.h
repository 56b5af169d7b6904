// Running the `volt` binary from tests: where it is, running it to completion (exit code,
// stdout, stderr), starting it in the background (for signals and kill -9), and a small recipe.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_helpers.h"
#include "volt/io/files.h"

namespace volt::test::cli {

namespace fs = std::filesystem;

// The CLI binary: env VOLT_CLI, else `volt` next to this test binary.
inline std::string cli_path() {
  if (const char* env = std::getenv("VOLT_CLI"); env != nullptr && *env != '\0') {
    if (!fs::exists(env)) throw std::runtime_error(std::string("VOLT_CLI=") + env + " does not exist");
    return env;
  }
  const auto sibling = fs::read_symlink("/proc/self/exe").parent_path() / "volt";
  if (!fs::exists(sibling)) {
    throw std::runtime_error("no volt binary: set VOLT_CLI (looked for " + sibling.string() + ")");
  }
  return sibling.string();
}

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline CliResult run_cli(const ScopedTempDir& dir, const std::string& args) {
  const std::string out = dir / "cli.stdout", err = dir / "cli.stderr";
  const std::string cmd = "'" + cli_path() + "' " + args + " >'" + out + "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_text(out);
  r.err = test::read_text(err);
  return r;
}

#define EXPECT_CONTAINS(haystack, needle)                                                       \
  do {                                                                                          \
    const std::string h_ = (haystack);                                                          \
    EXPECT_NE(h_.find(needle), std::string::npos) << "'" << h_ << "' lacks '" << (needle) << "'"; \
  } while (0)

// A small recipe: 6000 characters of Tiny Shakespeare, babygpt-tiny (shrunk further by overrides
// on the command line), 3 steps.
inline std::string write_recipe(const ScopedTempDir& dir, const std::string& extra_model = "") {
  const std::string text = io::read_file(volt_test_data("corpora/tinyshakespeare/input.txt"));
  test::write_text(dir / "input.txt", text.substr(0, 6000));
  const std::string yaml =
      "name: tiny-cli\n"
      "trainer:\n"
      "  max_steps: 3\n"
      "  val_check_interval: 3\n"
      "  limit_val_batches: 2\n"
      "  log_every_n_steps: 1\n"
      "  enable_progress_bar: false\n"
      "  num_threads: 1\n"
      "  default_root_dir: " + (dir / "runs") + "\n"
      "model:\n"
      "  preset: babygpt-tiny\n" + extra_model +
      "data:\n"
      "  path: " + (dir / "input.txt") + "\n"
      "  block_size: 16\n"
      "  batch_size: 4\n"
      "  val_batches: 2\n"
      "optimizer:\n"
      "  lr: 1.0e-3\n"
      "scheduler:\n"
      "  warmup_steps: 1\n";
  const std::string path = dir / "recipe.yaml";
  test::write_text(path, yaml);
  return path;
}

inline const char* kShrink = "--model.n_layer=1 --model.n_embd=32 --model.block_size=32 --trainer.seed=7";

/// `volt ARGS` started in the background (argv split on spaces; no shell), stdout and stderr to
/// files in dir. Returns its pid.
inline pid_t spawn_cli(const ScopedTempDir& dir, const std::string& args, const std::string& tag = "bg") {
  std::vector<std::string> parts{cli_path()};
  for (size_t i = 0, j; i < args.size(); i = j + 1) {
    j = args.find(' ', i);
    if (j == std::string::npos) j = args.size();
    if (j > i) parts.push_back(args.substr(i, j - i));
  }
  const std::string out = dir / (tag + ".stdout"), err = dir / (tag + ".stderr");
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) std::_Exit(127);
    std::vector<char*> argv;
    for (auto& p : parts) argv.push_back(p.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}

/// Waits for a spawned process: its exit code, or 128 + the signal that killed it.
inline int wait_cli(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace volt::test::cli

// Helpers of the distributed tests: several ranks as threads of one process, each with its own
// Gloo group over loopback; a column of a metrics.csv, two runs' losses compared step by step; a
// run resumed from its step-4 checkpoint against the same run straight.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli_helpers.h"
#include "test_util.h"
#include "volt/core/csv_logger.h"
#include "volt/dist/launch.h"
#include "volt/dist/process_group.h"

namespace volt::test {

// Runs fn(group) on `world` ranks, each a thread with its own Gloo group over loopback.
inline void on_ranks(int64_t world, const std::function<void(dist::ProcessGroup&)>& fn) {
  const int port = dist::free_port();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<size_t>(world));
  for (int64_t r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        dist::DistEnv e;
        e.rank = r, e.world_size = world, e.local_rank = r, e.local_world_size = world;
        e.master_port = port, e.source = "torchrun";
        auto g = dist::ProcessGroup::create(e, std::chrono::seconds(30));
        fn(*g);
      } catch (const std::exception& ex) {
        errors[static_cast<size_t>(r)] = ex.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int64_t r = 0; r < world; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
}

// One metric of metrics.csv, the rows that have it, in step order.
inline std::vector<double> column(const std::string& csv, const std::string& name) {
  std::vector<double> out;
  for (const auto& row : CSVLogger::read(csv)) {
    if (auto it = row.find(name); it != row.end()) out.push_back(it->second);
  }
  return out;
}

// The train_loss of two runs (their metrics.csv), step by step: `steps` rows each, equal to tol.
inline void expect_same_train_loss(const std::string& reference_csv, const std::string& csv, size_t steps,
                                   double tol = 1e-5) {
  const auto ref = column(reference_csv, "train_loss");
  const auto got = column(csv, "train_loss");
  ASSERT_EQ(ref.size(), steps) << reference_csv;
  ASSERT_EQ(got.size(), steps) << csv;
  for (size_t i = 0; i < steps; ++i) EXPECT_NEAR(got[i], ref[i], tol) << "step " << i + 1;
}

// `volt ARGS` (writing runs/tiny-cli with a checkpoint at step 4), then the same resumed from
// that checkpoint: metrics.csv must come out byte-identical. Returns the run directory.
inline std::string expect_resume_equals_straight(const ScopedTempDir& dir, const std::string& args) {
  auto full = cli::run_cli(dir, args);
  EXPECT_EQ(full.code, 0) << full.err;
  const std::string run = dir / "runs/tiny-cli";
  const auto straight = read_text(run + "/metrics.csv");
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/step-000004"));
  auto resumed = cli::run_cli(dir, args + " --ckpt_path " + run + "/checkpoints/step-000004");
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_CONTAINS(resumed.out, "Resumed from");
  EXPECT_EQ(read_text(run + "/metrics.csv"), straight);
  return run;
}

}  // namespace volt::test

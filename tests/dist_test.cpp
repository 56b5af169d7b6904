// Distributed training on c10d (Gloo on CPU): the torchrun / SLURM environment, the collectives
// (three ranks as threads), DDP over two real processes giving the same per-step loss as one
// process with the global batch, and a killed worker stopping the whole group fast.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <thread>

#include "cli_helpers.h"
#include "dist_helpers.h"
#include "test_helpers.h"
#include "test_util.h"
#include "volt/core/csv_logger.h"
#include "volt/dist/ddp.h"
#include "volt/dist/env.h"
#include "volt/dist/launch.h"
#include "volt/dist/process_group.h"

namespace volt {
namespace {

using test::ScopedTempDir;
using namespace test::cli;
using test::column;
using test::on_ranks;

dist::GetEnv getter(const std::map<std::string, std::string>& vars) {
  return [vars](const char* n) -> const char* {
    auto it = vars.find(n);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(Dist, EnvironmentFromTorchrunSlurmOrNothing) {
  const auto none = dist::env_from(getter({}));
  EXPECT_FALSE(none.distributed());
  EXPECT_EQ(none.source, "single");
  const auto t = dist::env_from(getter(dist::worker_env(1, 2, 1, 4, "10.0.0.1", 1234)));
  EXPECT_EQ(t.source, "torchrun");
  EXPECT_EQ(t.rank, 5);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.world_size, 8);
  EXPECT_EQ(t.local_world_size, 4);
  EXPECT_EQ(t.master_addr, "10.0.0.1");
  EXPECT_EQ(t.master_port, 1234);
  const auto s = dist::env_from(getter({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "1"},
                                        {"SLURM_NTASKS_PER_NODE", "2"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"}}));
  EXPECT_EQ(s.source, "slurm");
  EXPECT_EQ(s.rank, 3);
  EXPECT_EQ(s.world_size, 4);
  EXPECT_EQ(s.master_addr, "gpu07");
  EXPECT_NE(test::error_of([] { dist::env_from(getter({{"RANK", "2"}, {"WORLD_SIZE", "2"}})); })
                .find("rank 2 is outside a world of 2 (RANK / WORLD_SIZE)"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { dist::env_from(getter({{"RANK", "x"}, {"WORLD_SIZE", "2"}})); })
                .find("RANK='x' is not a non-negative integer"),
            std::string::npos);
}

TEST(Dist, GlooCollectivesOnThreeRanks) {
  on_ranks(3, [](dist::ProcessGroup& g) {
    const double r = static_cast<double>(g.rank());
    auto t = torch::full({4}, r + 1);
    g.all_reduce_sum(t);
    EXPECT_TRUE(torch::equal(t, torch::full({4}, 6.0)));
    // bf16 travels as fp32 (Gloo in 1.13 has no bf16), and comes back bf16.
    auto h = torch::full({3}, r + 0.5).to(torch::kBFloat16);
    g.all_reduce_sum(h);
    EXPECT_EQ(h.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(h[0].item<float>(), 4.5f);
    auto b = torch::full({2}, r * 10);
    g.broadcast(b, 2);
    EXPECT_TRUE(torch::equal(b, torch::full({2}, 20.0)));
    const auto all = g.all_gather(torch::full({2}, r));
    ASSERT_EQ(all.size(), 3u);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(all[static_cast<size_t>(k)][1].item<double>(), k);
    // reduce_scatter (filled in with all-reduce + slice): rank r gets the sum of slice r.
    const auto rs = g.reduce_scatter_sum(torch::arange(6, torch::kFloat64) + r);
    EXPECT_TRUE(torch::equal(rs, torch::tensor({3 * (2 * r) + 3, 3 * (2 * r + 1) + 3}, torch::kFloat64)));  // 3 ranks: 3x arange + 0+1+2
    EXPECT_EQ(g.broadcast_string(g.rank() == 0 ? "runs/x" : "other"), "runs/x");
    g.barrier();
  });
}

TEST(Dist, BucketedGradientsSumOverRanksWithUnusedParameters) {
  on_ranks(2, [](dist::ProcessGroup& g) {
    torch::manual_seed(static_cast<uint64_t>(g.rank()) + 1);  // different starting points
    auto a = torch::randn({300}, torch::requires_grad()), b = torch::randn({5}, torch::requires_grad()),
         unused = torch::randn({7}, torch::requires_grad());
    std::vector<torch::Tensor> ps{a, b, unused};
    {
      torch::NoGradGuard ng;
      for (auto& p : ps) g.broadcast(p, 0);
    }
    std::shared_ptr<dist::ProcessGroup> alias(&g, [](dist::ProcessGroup*) {});
    // Reverse order: unused (28 bytes), b (20): 48 >= 40 closes the first bucket; a (1200) is the second.
    dist::GradientReducer reducer(alias, ps, /*bucket_bytes=*/40);
    EXPECT_EQ(reducer.num_buckets(), 2u);
    const double w = static_cast<double>(g.rank()) + 1;
    // Two micro-batches: the first accumulates locally (no hooks armed), the second all-reduces.
    (a.sum() * w + b.pow(2).sum()).backward();
    reducer.prepare_for_backward();
    (a.sum() * w + b.pow(2).sum()).backward();
    reducer.finish();
    EXPECT_TRUE(torch::allclose(a.grad(), torch::full({300}, 2.0 * (1 + 2))));  // sum over ranks of 2w
    EXPECT_TRUE(torch::allclose(b.grad(), b.detach() * 2 * 2 * 2));            // 2b per pass, 2 passes, 2 ranks
    EXPECT_TRUE(torch::allclose(unused.grad(), torch::zeros({7})));
  });
}

// Two processes with 2 rows each against one process with 4: the same per-step train loss.
TEST(Dist, DdpOnTwoProcessesMatchesOneProcessWithTheGlobalBatch) {
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const std::string common = std::string(kShrink) +
                             " --model.dropout=0 --trainer.max_steps=20 --trainer.val_check_interval=20"
                             " --trainer.enable_checkpointing=false --trainer.gradient_clip_val=1.0";
  auto one = run_cli(dir, "fit --config " + recipe + " " + common + " --data.batch_size=4 --trainer.default_root_dir=" + (dir / "one"));
  ASSERT_EQ(one.code, 0) << one.err;
  auto two = run_cli(dir, "launch --nproc-per-node 2 --master-port " + std::to_string(dist::free_port()) + " -- " +
                              cli_path() + " fit --config " + recipe + " " + common +
                              " --data.batch_size=2 --trainer.strategy=ddp --trainer.default_root_dir=" + (dir / "two"));
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_CONTAINS(two.out, "ddp over 2 processes");
  // Lightning's form: the Trainer starts its own processes.
  auto self = run_cli(dir, "fit --config " + recipe + " " + common +
                               " --data.batch_size=2 --trainer.strategy=ddp --trainer.devices=2 --trainer.default_root_dir=" +
                               (dir / "self"));
  ASSERT_EQ(self.code, 0) << self.err;
  const auto a = column(dir / "one/tiny-cli/metrics.csv", "train_loss");
  const auto b = column(dir / "two/tiny-cli/metrics.csv", "train_loss");
  const auto c = column(dir / "self/tiny-cli/metrics.csv", "train_loss");
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), a.size());
  ASSERT_EQ(c.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-5) << "step " << i + 1;
    EXPECT_NEAR(a[i], c[i], 1e-5) << "step " << i + 1;
  }
  // Validation is split over the ranks (batch 0 on rank 0, batch 1 on rank 1) and summed back.
  const auto va = column(dir / "one/tiny-cli/metrics.csv", "val_loss");
  const auto vb = column(dir / "two/tiny-cli/metrics.csv", "val_loss");
  ASSERT_EQ(va.size(), 1u);
  ASSERT_EQ(vb.size(), 1u);
  EXPECT_NEAR(va[0], vb[0], 1e-5);
  EXPECT_LT(a.back(), a.front());
  // Only rank 0 wrote the run directory: no "-v1" twin from rank 1.
  EXPECT_FALSE(fs::exists(dir / "two/tiny-cli-v1"));
}

// DDP checkpoints (rank 0 writes, every rank resumes from it): 8 steps straight against 4 + resume + 4.
TEST(Dist, DdpResumeFromACheckpointEqualsAnUninterruptedRun) {
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const std::string args = "fit --config " + recipe + " " + kShrink +
                           " --model.dropout=0 --data.batch_size=2 --trainer.devices=2 --trainer.strategy=ddp"
                           " --trainer.max_steps=8 --trainer.val_check_interval=4"
                           " --trainer.checkpoint.every_n_train_steps=4 --trainer.checkpoint.monitor=none"
                           " --trainer.checkpoint.save_top_k=3";
  test::expect_resume_equals_straight(dir, args);
}

// One worker of a ddp or fsdp group SIGKILLed mid-training: the launcher stops the rest within
// 10 s and exits 1 naming the rank.
void kill_one_worker(const std::string& strategy) {
  SCOPED_TRACE(strategy);
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const pid_t launcher = spawn_cli(dir, "launch --nproc-per-node 2 --grace 3 --master-port " +
                                            std::to_string(dist::free_port()) + " -- " + cli_path() +
                                            " fit --config " + recipe + " " + kShrink +
                                            " --trainer.max_steps=1000000 --trainer.strategy=" + strategy +
                                            " --trainer.val_check_interval=0 --data.batch_size=2",
                                   "launch");
  // Rank 1's pid, from the launcher's stderr, once training has started (metrics being written).
  pid_t rank1 = -1;
  for (int i = 0; i < 600 && rank1 < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto err = test::read_text(dir / "launch.stderr");
    const auto at = err.find("[launch] rank 1: pid ");
    if (at != std::string::npos && fs::exists(dir / "runs/tiny-cli/metrics.csv")) {
      rank1 = static_cast<pid_t>(std::stol(err.substr(at + 21)));
    }
  }
  ASSERT_GT(rank1, 0) << test::read_text(dir / "launch.stderr");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(rank1, SIGKILL);
  const int code = wait_cli(launcher);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto err = test::read_text(dir / "launch.stderr");
  EXPECT_EQ(code, 1) << err;
  EXPECT_LT(seconds, 10.0);
  EXPECT_CONTAINS(err, "worker rank 1 was killed by signal 9");
  std::printf("%s: group stopped %.2f s after rank 1 was killed\n", strategy.c_str(), seconds);
  std::fflush(stdout);  // before the next fork copies the buffer
}

// SIGTERM to the launcher reaches every rank, perhaps a step apart; the ranks agree on it with the
// step's loss and all stop after the same step, writing one sharded checkpoint that resumes.
TEST(Dist, SigtermStopsEveryFsdpRankAfterTheSameStepWithOneCheckpoint) {
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const std::string fit = " fit --config " + recipe + " " + kShrink +
                          " --trainer.val_check_interval=0 --data.batch_size=2 --trainer.strategy=fsdp";
  const pid_t launcher = spawn_cli(dir, "launch --nproc-per-node 2 --master-port " + std::to_string(dist::free_port()) +
                                            " -- " + cli_path() + fit + " --trainer.max_steps=1000000", "launch");
  for (int i = 0; i < 600 && !fs::exists(dir / "runs/tiny-cli/metrics.csv"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(launcher, SIGTERM);
  EXPECT_EQ(wait_cli(launcher), 128 + SIGTERM);
  const auto err = test::read_text(dir / "launch.stderr");
  // Both ranks report the same step.
  std::vector<std::string> steps;
  for (size_t at = err.find("stopped after step "); at != std::string::npos; at = err.find("stopped after step ", at + 1)) {
    steps.push_back(err.substr(at + 19, err.find(';', at) - at - 19));
  }
  ASSERT_EQ(steps.size(), 2u) << err;
  EXPECT_EQ(steps[0], steps[1]);
  const std::string last = dir / "runs/tiny-cli/checkpoints/last";
  EXPECT_TRUE(fs::exists(last + "/fsdp_index.json"));
  EXPECT_TRUE(fs::exists(last + "/shard-00001-of-00002.safetensors"));
  auto resumed = run_cli(dir, "launch --nproc-per-node 2 --master-port " + std::to_string(dist::free_port()) + " -- " +
                                  cli_path() + fit + " --trainer.max_steps=" + std::to_string(std::stoll(steps[0]) + 2) +
                                  " --ckpt_path " + last);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_CONTAINS(resumed.out, "Resumed from");
}

TEST(Dist, KillingOneWorkerStopsTheGroupWithinTenSecondsNamingTheRank) {
  kill_one_worker("ddp");
  kill_one_worker("fsdp");
}

}  // namespace
}  // namespace volt

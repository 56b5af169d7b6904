// Example 05 (Module 5): the Scalable Trainer, measured on this machine.
//   1. the memory wall: bytes of weights + gradients + AdamW state per rank for GPT-2, Llama-2-7B
//      and Llama-3-8B in bf16-mixed, one process against DDP and FSDP over 2, 4 and 8 ranks
//      (volt memory's arithmetic, docs/05-scaling.md);
//   2. DDP: BabyGPT on Tiny Shakespeare for N steps in one process with a batch of 2b rows, then
//      the same run as two processes of b rows each (this program starts them, as `volt fit
//      --trainer.devices=2` does), and the two loss curves step by step. They must agree to 1e-5:
//      the ranks' token counts are summed before backward, so the summed gradients are one
//      process's gradient of the global batch.
//
//   cmake --build build --target example05_scalable_trainer
//   ./build/bin/example05_scalable_trainer               # 30 steps
//   ./build/bin/example05_scalable_trainer --steps 10    # what ctest runs
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "example_data.h"
#include "volt/core/seed.h"
#include "volt/data/text_datamodule.h"
#include "volt/dist/ddp_strategy.h"
#include "volt/dist/launch.h"
#include "volt/train/lm_module.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/memory_estimate.h"
#include "volt/train/trainer.h"

namespace {

namespace fs = std::filesystem;
constexpr int64_t kRowsPerRank = 4, kWorld = 2;

void memory_wall() {
  std::printf("1. The memory wall: weights + gradients + AdamW states per rank, bf16-mixed (GiB)\n");
  std::printf("   %-12s %10s %10s %10s %10s %10s\n", "model", "1 process", "ddp x 8", "fsdp x 2", "fsdp x 4",
              "fsdp x 8");
  for (const char* name : {"gpt2", "llama-2-7b", "llama-3-8b"}) {
    auto states = [&](const std::string& strategy, int64_t n) {
      volt::MemoryPlan p;
      p.model = volt::ModelConfig::preset(name);
      p.precision = "bf16-mixed";
      p.strategy = strategy;
      p.world_size = n;
      p.seq_len = 256;
      const auto e = volt::estimate_memory(p);
      return (e.weights + e.gradients + e.optimizer) / (1024.0 * 1024.0 * 1024.0);
    };
    std::printf("   %-12s %10.2f %10.2f %10.2f %10.2f %10.2f\n", name, states("single", 1), states("ddp", 8),
                states("fsdp", 2), states("fsdp", 4), states("fsdp", 8));
  }
  std::printf("   DDP keeps everything on every rank; FSDP divides it by N (plus one gathered block).\n");
}

// Records the train loss of every step.
struct LossLog : volt::Callback {
  std::vector<double> losses;
  std::string name() const override { return "LossLog"; }
  void on_train_batch_end(volt::Trainer& t, volt::LightningModule&, const torch::Tensor&, const volt::Batch&,
                          int64_t) override {
    losses.push_back(t.callback_metrics().at("train_loss"));
  }
};

// BabyGPT-tiny on Tiny Shakespeare (characters), `rows` rows a step in all; with a strategy, each
// of its ranks takes its share. Returns the per-step losses.
std::vector<double> train(int64_t steps, int64_t rows, std::shared_ptr<volt::Strategy> strategy,
                                             const std::string& run_dir) {
  volt::TextDataOptions o;
  o.path = volt::examples::data_file("corpora/tinyshakespeare/input.txt");
  o.block_size = 64;
  o.batch_size = rows;
  o.val_fraction = 0.1;
  o.val_batches = 2;
  o.seed = 1337;
  auto dm = std::make_shared<volt::TextDataModule>(o);
  dm->setup("fit");
  volt::ModelConfig mc = volt::ModelConfig::preset("babygpt-tiny");
  mc.vocab_size = dm->tokenizer()->vocab_size();
  mc.dropout = 0.0;
  volt::seed_everything(1337);
  volt::AdamWOptions adamw;
  adamw.lr = 3e-3;
  volt::LMModule model(mc, adamw, std::make_shared<volt::CosineWithWarmup>(2, steps, 3e-4, 3e-3), dm->tokenizer());
  auto log = std::make_shared<LossLog>();
  volt::Trainer trainer(volt::TrainerOptions()
                            .max_steps(steps)
                            .val_check_interval(steps)
                            .limit_val_batches(2.0)
                            .log_every_n_steps(1)
                            .gradient_clip_val(1.0)
                            .num_threads(1)
                            .enable_progress_bar(false)
                            .enable_checkpointing(false)
                            .default_root_dir(run_dir)
                            .strategy_plugin(strategy),
                        {log});
  trainer.fit(model, *dm);
  return log->losses;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int64_t steps = 30;
    std::string worker_out;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--steps" && i + 1 < argc) {
        steps = std::stoll(argv[++i]);
      } else if (a == "--worker" && i + 1 < argc) {
        worker_out = argv[++i];
      } else {
        VOLT_FAIL("[example05] unknown argument ", a, " (--steps N)");
      }
    }
    if (!worker_out.empty()) {  // one DDP rank, started below by dist::launch
      auto ddp = std::make_shared<volt::dist::DDPStrategy>();
      const auto losses = train(steps, kRowsPerRank * ddp->world_size(), ddp, worker_out + ".run");
      if (ddp->rank() == 0) {
        std::ofstream out(worker_out);
        out.precision(17);
        for (double l : losses) out << l << "\n";
      }
      return 0;
    }
    memory_wall();
    std::printf("\n2. DDP over %lld processes x %lld rows against 1 process x %lld rows, %lld steps\n",
                static_cast<long long>(kWorld), static_cast<long long>(kRowsPerRank),
                static_cast<long long>(kWorld * kRowsPerRank), static_cast<long long>(steps));
    const auto single = train(steps, kWorld * kRowsPerRank, nullptr, "example05-single");
    const std::string out = fs::absolute("example05-ddp.txt").string();
    volt::dist::LaunchOptions lo;
    lo.nproc_per_node = kWorld;
    lo.master_port = volt::dist::free_port();
    const int code = volt::dist::launch(lo, {fs::read_symlink("/proc/self/exe").string(), "--steps",
                                             std::to_string(steps), "--worker", out});
    VOLT_CHECK(code == 0, "[example05] the DDP workers failed (exit ", code, ")");
    std::ifstream in(out);
    std::vector<double> ddp;
    for (double l; in >> l;) ddp.push_back(l);
    VOLT_CHECK(ddp.size() == single.size(), "[example05] DDP logged ", ddp.size(), " steps, one process ", single.size());
    double worst = 0;
    std::printf("   %5s %14s %14s %10s\n", "step", "1 process", "ddp x 2", "|diff|");
    for (size_t i = 0; i < single.size(); ++i) {
      const double d = std::abs(single[i] - ddp[i]);
      worst = std::max(worst, d);
      if (i < 3 || i + 3 >= single.size() || i % 10 == 9) {
        std::printf("   %5zu %14.8f %14.8f %10.2e\n", i + 1, single[i], ddp[i], d);
      }
    }
    std::printf("   largest difference %.2e over %zu steps (the bar: 1e-5)\n", worst, single.size());
    if (!(worst <= 1e-5)) {
      std::printf("FAIL: DDP's loss differs from one process's by %.2e (> 1e-5)\n", worst);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}

// Example 05 (Module 5): the Scalable Trainer, measured on this machine.
//   1. the memory wall: bytes of weights + gradients + AdamW state per rank for GPT-2, Llama-2-7B
//      and Llama-3-8B in bf16-mixed, one process against DDP and FSDP over 2, 4 and 8 ranks
//      (volt memory's arithmetic, docs/05-scaling.md);
//   2. DDP: BabyGPT on Tiny Shakespeare for N steps in one process with a batch of 2b rows, then
//      the same run as two processes of b rows each (this program starts them, as `volt fit
//      --trainer.devices=2` does), and the two loss curves step by step. They must agree to 1e-5:
//      the ranks' token counts are summed before backward, so the summed gradients are one
//      process's gradient of the global batch. Then FSDP (full_shard) over the same two ranks:
//      the same curve again, though no rank ever holds the whole model;
//   3. what an FSDP rank holds: one training step of a GPT-2-style model over 1, 2 and 4
//      processes, the bytes of parameters, gradients and AdamW state counted from each rank's
//      tensors, beside volt memory's prediction.
//
//   cmake --build build --target example05_scalable_trainer
//   ./build/bin/example05_scalable_trainer                                    # 20 steps, GPT-2 (124M)
//   ./build/bin/example05_scalable_trainer --steps 10 --bytes-model babygpt   # what ctest runs
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "example_data.h"
#include "volt/core/seed.h"
#include "volt/data/text_datamodule.h"
#include "volt/dist/ddp_strategy.h"
#include "volt/dist/fsdp.h"
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
  // Sees the trainer at the end of training, while the strategy still holds its shards.
  std::function<void(volt::Trainer&)> at_end;
  void on_train_end(volt::Trainer& t, volt::LightningModule&) override {
    if (at_end) at_end(t);
  }
};

// BabyGPT-tiny on Tiny Shakespeare (characters), `rows` rows a step in all; with a strategy, each
// of its ranks takes its share. Returns the per-step losses.
// model: a preset name ("babygpt-tiny"; for "gpt2" the vocabulary stays 50257, of which the
// characters use 65). `probe` (if given) sees the trainer when training ends.
std::vector<double> train(int64_t steps, int64_t rows, std::shared_ptr<volt::Strategy> strategy,
                          const std::string& run_dir, const std::string& model = "babygpt-tiny",
                          const std::function<void(volt::Trainer&)>& probe = nullptr) {
  volt::TextDataOptions o;
  o.path = volt::examples::data_file("corpora/tinyshakespeare/input.txt");
  o.block_size = 64;
  o.batch_size = rows;
  o.val_fraction = 0.1;
  o.val_batches = 2;
  o.seed = 1337;
  auto dm = std::make_shared<volt::TextDataModule>(o);
  dm->setup("fit");
  volt::ModelConfig mc = volt::ModelConfig::preset(model);
  mc.vocab_size = std::max(mc.vocab_size, dm->tokenizer()->vocab_size());
  mc.dropout = 0.0;
  volt::seed_everything(1337);
  volt::AdamWOptions adamw;
  adamw.lr = 3e-3;
  volt::LMModule lm(mc, adamw, std::make_shared<volt::CosineWithWarmup>(steps > 2 ? 2 : 0, steps, 3e-4, 3e-3), dm->tokenizer());
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
  if (probe) log->at_end = probe;
  trainer.fit(lm, *dm);
  return log->losses;
}

// One FSDP rank of section 3: a step of `model`, then what this rank holds, as one line of
// "parameters gradients optimizer peak_gathered gathered" bytes in OUT.rank<r>.
void bytes_worker(const std::string& model, const std::string& out) {
  auto fsdp = std::make_shared<volt::dist::FSDPStrategy>();
  train(1, fsdp->world_size(), fsdp, out + ".run", model, [&](volt::Trainer& t) {
    const auto h = fsdp->held_bytes();
    int64_t optim = 0;
    for (const auto& [name, state] : t.optimizer()->state_tensors()) optim += static_cast<int64_t>(state.nbytes());
    std::ofstream f(out + ".rank" + std::to_string(fsdp->rank()));
    f << h.parameters << " " << h.gradients << " " << optim << " " << h.peak_gathered << " " << h.gathered << "\n";
  });
}

// Section 3: FSDP over 1, 2 and 4 processes, the largest rank's bytes against volt memory's.
bool held_bytes_table(const std::string& model) {
  std::printf("\n3. What one FSDP rank holds after a step of %s (full_shard, fp32, AdamW), MiB\n", model.c_str());
  std::printf("   %5s %10s %10s %10s %10s %8s %10s %14s\n", "ranks", "params", "grads", "AdamW", "sum", "x N", "gathered",
              "volt memory");
  const double mib = 1024.0 * 1024.0;
  double one = 0;
  bool ok = true;
  for (int64_t n : {1, 2, 4}) {
    const std::string out = fs::absolute("example05-bytes-" + std::to_string(n)).string();
    volt::dist::LaunchOptions lo;
    lo.nproc_per_node = n;
    lo.master_port = volt::dist::free_port();
    const int code = volt::dist::launch(lo, {fs::read_symlink("/proc/self/exe").string(), "--bytes-worker", out,
                                             "--bytes-model", model});
    VOLT_CHECK(code == 0, "[example05] the FSDP workers failed (exit ", code, ")");
    int64_t most[5] = {0, 0, 0, 0, 0};
    for (int64_t r = 0; r < n; ++r) {
      std::ifstream in(out + ".rank" + std::to_string(r));
      int64_t v[5];
      VOLT_CHECK(static_cast<bool>(in >> v[0] >> v[1] >> v[2] >> v[3] >> v[4]), "[example05] rank ", r, " wrote no figures");
      for (int k = 0; k < 5; ++k) most[k] = std::max(most[k], v[k]);
      ok = ok && v[4] == 0;  // nothing stays gathered between steps
    }
    const double sum = static_cast<double>(most[0] + most[1] + most[2]);
    if (n == 1) one = sum;
    volt::MemoryPlan p;
    p.model = volt::ModelConfig::preset(model);
    p.strategy = n > 1 ? "fsdp" : "single";
    p.world_size = n;
    p.seq_len = 64;
    const auto e = volt::estimate_memory(p);
    std::printf("   %5lld %10.2f %10.2f %10.2f %10.2f %8.3f %10.2f %14.2f\n", static_cast<long long>(n), most[0] / mib,
                most[1] / mib, most[2] / mib, sum / mib, sum * static_cast<double>(n) / one, most[3] / mib,
                (e.weights + e.gradients + e.optimizer) / mib);
  }
  std::printf("   params + grads + AdamW per rank: the largest rank's, counted from its tensors; x N: that times N\n"
              "   over the one-process sum (1.000 = exactly 1/N). gathered: the most full weights a rank held at\n"
              "   once during the step (the root unit plus a block). volt memory: its prediction of weights +\n"
              "   gradients + optimizer in the step, which adds the gathered root unit and one block, weights and\n"
              "   gradients, to 1/N.\n");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int64_t steps = 20;  // the bar of docs/05: 1e-5 over 20 steps (float rounding drifts further after)
    std::string worker_out, bytes_out, strategy = "ddp", bytes_model = "gpt2";
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--steps" && i + 1 < argc) {
        steps = std::stoll(argv[++i]);
      } else if (a == "--worker" && i + 1 < argc) {
        worker_out = argv[++i];
      } else if (a == "--strategy" && i + 1 < argc) {
        strategy = argv[++i];
      } else if (a == "--bytes-worker" && i + 1 < argc) {
        bytes_out = argv[++i];
      } else if (a == "--bytes-model" && i + 1 < argc) {
        bytes_model = argv[++i];
      } else {
        VOLT_FAIL("[example05] unknown argument ", a, " (--steps N, --bytes-model PRESET)");
      }
    }
    if (!bytes_out.empty()) {  // one FSDP rank of section 3
      bytes_worker(bytes_model, bytes_out);
      return 0;
    }
    if (!worker_out.empty()) {  // one DDP or FSDP rank, started below by dist::launch
      std::shared_ptr<volt::Strategy> st;
      if (strategy == "fsdp") {
        st = std::make_shared<volt::dist::FSDPStrategy>();
      } else {
        st = std::make_shared<volt::dist::DDPStrategy>();
      }
      const auto losses = train(steps, kRowsPerRank * st->world_size(), st, worker_out + ".run");
      if (st->rank() == 0) {
        std::ofstream out(worker_out);
        out.precision(17);
        for (double l : losses) out << l << "\n";
      }
      return 0;
    }
    memory_wall();
    std::printf("\n2. DDP and FSDP over %lld processes x %lld rows against 1 process x %lld rows, %lld steps\n",
                static_cast<long long>(kWorld), static_cast<long long>(kRowsPerRank),
                static_cast<long long>(kWorld * kRowsPerRank), static_cast<long long>(steps));
    const auto single = train(steps, kWorld * kRowsPerRank, nullptr, "example05-single");
    auto run_ranks = [&](const std::string& how) {
      const std::string out = fs::absolute("example05-" + how + ".txt").string();
      volt::dist::LaunchOptions lo;
      lo.nproc_per_node = kWorld;
      lo.master_port = volt::dist::free_port();
      const int code = volt::dist::launch(lo, {fs::read_symlink("/proc/self/exe").string(), "--steps",
                                               std::to_string(steps), "--worker", out, "--strategy", how});
      VOLT_CHECK(code == 0, "[example05] the ", how, " workers failed (exit ", code, ")");
      std::ifstream in(out);
      std::vector<double> losses;
      for (double l; in >> l;) losses.push_back(l);
      VOLT_CHECK(losses.size() == single.size(), "[example05] ", how, " logged ", losses.size(), " steps, one process ",
                 single.size());
      return losses;
    };
    const auto ddp = run_ranks("ddp");
    const auto fsdp = run_ranks("fsdp");
    double worst = 0;
    std::printf("   %5s %14s %14s %14s %10s\n", "step", "1 process", "ddp x 2", "fsdp x 2", "|diff|");
    for (size_t i = 0; i < single.size(); ++i) {
      const double d = std::max(std::abs(single[i] - ddp[i]), std::abs(single[i] - fsdp[i]));
      worst = std::max(worst, d);
      if (i < 3 || i + 3 >= single.size() || i % 10 == 9) {
        std::printf("   %5zu %14.8f %14.8f %14.8f %10.2e\n", i + 1, single[i], ddp[i], fsdp[i], d);
      }
    }
    std::printf("   largest difference %.2e over %zu steps (the bar: 1e-5)\n", worst, single.size());
    if (!(worst <= 1e-5)) {
      std::printf("FAIL: DDP's or FSDP's loss differs from one process's by %.2e (> 1e-5)\n", worst);
      return 1;
    }
    if (!held_bytes_table(bytes_model)) {
      std::printf("FAIL: a rank still held gathered weights after the step\n");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}

// Example 01, part 2 of 2: the same Transformer classifier, trained by volt::Trainer.
//
// Same task, model and hyper-parameters as plain_libtorch.cpp. What changed is who owns what:
//   - ClassifierModule (a volt::LightningModule) says WHAT to compute: the loss of a batch, the
//     validation metrics, the optimizer and its schedule.
//   - DigitsDataModule (a volt::LightningDataModule) says WHICH data: batches by (epoch, index).
//   - volt::Trainer decides HOW to run it: device placement, the five-step loop, the LR schedule,
//     gradient clipping, the validation cadence, logging (metrics.csv, a report), checkpoints.
// Read the two files side by side: the model and the example generator are identical; the loop
// is gone.
//
//   cmake --build build --target example01_volt && ./build/bin/example01_volt [--steps N]
//
// Prints the validation accuracy as it trains; exits 1 if the final one is below kPassAccuracy.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "volt/core/seed.h"
#include "volt/data/datamodule.h"
#include "volt/train/lightning_module.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/optim.h"
#include "volt/train/trainer.h"

// The task.
constexpr int64_t kVocab = 10;   // tokens are the digits 0..9
constexpr int64_t kSeqLen = 8;   // digits per sequence (T)

// The model: one Transformer block, as small as the task allows.
constexpr int64_t kEmbd = 32;    // channels per token (C)
constexpr int64_t kHeads = 4;    // attention heads, each C / kHeads = 8 channels wide
constexpr int64_t kClasses = 2;  // 0: not sorted, 1: sorted

// Training.
constexpr int64_t kBatch = 64;             // sequences per optimizer step
constexpr int64_t kDefaultSteps = 1000;    // optimizer steps; --steps overrides
constexpr double kLR = 1e-2;               // peak learning rate (tiny models tolerate a large one)
constexpr int64_t kWarmupSteps = 50;       // linear warmup: Adam's early moment estimates are noisy
constexpr double kMinLR = 1e-3;            // the cosine decay ends here
constexpr double kWeightDecay = 0.01;      // on matrices only (volt::weight_decay_groups)
constexpr double kClipNorm = 1.0;          // clip the global gradient norm to this
constexpr int64_t kEvalEvery = 100;        // steps between validations
constexpr int64_t kValExamples = 2048;     // fixed validation set...
constexpr int64_t kValBatch = 512;         // ...served in batches of this size
constexpr int64_t kBatchesPerEpoch = 1000; // the data is endless; an "epoch" is just a seed change
constexpr double kPassAccuracy = 0.90;     // chance is 0.5; a working model clears this easily
constexpr uint64_t kTrainSeed = 1337;      // weights and the training batches
constexpr uint64_t kValSeed = 4242;        // the validation set: never seen in training

// ---------------------------------------------------------------------------------------------
// Data: identical to plain_libtorch.cpp.

// Writes one sequence into digits[0..kSeqLen) and returns its label. A random sequence is almost
// never sorted, so we sort on purpose and then break the order in half of the cases: by a full
// shuffle (easy) or by swapping one adjacent pair (hard: a single position gives it away).
int64_t make_example(std::mt19937_64& rng, int64_t* digits) {
  for (int64_t i = 0; i < kSeqLen; ++i) digits[i] = static_cast<int64_t>(rng() % kVocab);
  std::sort(digits, digits + kSeqLen);
  const uint64_t kind = rng() % 4;  // 0, 1: keep sorted; 2: shuffle; 3: one adjacent swap
  if (kind == 2) {
    // Fisher-Yates by hand: std::shuffle's output differs between standard libraries.
    for (int64_t i = kSeqLen - 1; i > 0; --i) {
      std::swap(digits[i], digits[rng() % static_cast<uint64_t>(i + 1)]);
    }
  } else if (kind == 3) {
    std::vector<int64_t> unequal;  // swapping equal neighbours would change nothing
    for (int64_t i = 0; i + 1 < kSeqLen; ++i) {
      if (digits[i] != digits[i + 1]) unequal.push_back(i);
    }
    if (!unequal.empty()) {
      const int64_t i = unequal[rng() % unequal.size()];
      std::swap(digits[i], digits[i + 1]);
    }
  }
  // The label comes from the definition, not from `kind`: a shuffle can land sorted.
  return std::is_sorted(digits, digits + kSeqLen) ? 1 : 0;
}

// n examples: digits (n, T) and labels (n).
std::pair<torch::Tensor, torch::Tensor> make_batch(std::mt19937_64& rng, int64_t n) {
  auto digits = torch::empty({n, kSeqLen}, torch::kLong);
  auto labels = torch::empty({n}, torch::kLong);
  auto* d = digits.data_ptr<int64_t>();
  auto* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) l[i] = make_example(rng, d + i * kSeqLen);
  return {digits, labels};
}

// volt's data API is random access: the Trainer asks for batch `index` of `epoch` and must get
// the same batch every time (that is what makes a resumed run continue exactly, and what lets
// several ranks each take their slice). So each training batch is seeded by (seed, epoch, index)
// instead of drawn from one long stream as in plain_libtorch.cpp.
class DigitsLoader : public volt::DataLoader {
 public:
  DigitsLoader(uint64_t seed, int64_t batches) : seed_(seed), batches_(batches) {}
  int64_t size() const override { return batches_; }
  volt::Batch get(int64_t epoch, int64_t index) const override {
    std::seed_seq seq{seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)};
    std::mt19937_64 rng(seq);
    auto [digits, labels] = make_batch(rng, kBatch);
    volt::Batch batch;
    batch.input_ids = digits;  // (B, T)
    batch.labels = labels;     // (B): one label per sequence, not per token
    return batch;
  }

 private:
  uint64_t seed_;
  int64_t batches_;
};

// The validation set is fixed: generated once, then handed out in slices.
class FixedLoader : public volt::DataLoader {
 public:
  FixedLoader(torch::Tensor digits, torch::Tensor labels, int64_t batch)
      : digits_(std::move(digits)), labels_(std::move(labels)), batch_(batch) {}
  int64_t size() const override { return digits_.size(0) / batch_; }
  volt::Batch get(int64_t /*epoch*/, int64_t index) const override {
    volt::Batch batch;
    batch.input_ids = digits_.narrow(0, index * batch_, batch_);  // (kValBatch, T)
    batch.labels = labels_.narrow(0, index * batch_, batch_);     // (kValBatch)
    return batch;
  }

 private:
  torch::Tensor digits_, labels_;
  int64_t batch_;
};

class DigitsDataModule : public volt::LightningDataModule {
 public:
  // Called by fit() and by validate(): build the validation set only once.
  void setup(const std::string& /*stage*/) override {
    if (val_digits_.defined()) return;
    std::mt19937_64 rng(kValSeed);
    std::tie(val_digits_, val_labels_) = make_batch(rng, kValExamples);
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    return std::make_shared<DigitsLoader>(kTrainSeed, kBatchesPerEpoch);
  }
  std::shared_ptr<volt::DataLoader> val_dataloader() override {
    return std::make_shared<FixedLoader>(val_digits_, val_labels_, kValBatch);
  }

 private:
  torch::Tensor val_digits_, val_labels_;
};

// ---------------------------------------------------------------------------------------------
// The model: identical to plain_libtorch.cpp.
//   h = E_tok[x] + E_pos[t]
//   h = h + Attention(LN(h))          every token looks at every other (no causal mask)
//   h = h + MLP(LN(h))                each token on its own: where comparisons become features
//   logits = W_head mean_t LN(h) + b
struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl()
      : tok_emb(register_module("tok_emb", torch::nn::Embedding(kVocab, kEmbd))),
        // Without positions attention is permutation-invariant: sorted and shuffled would look
        // identical.
        pos_emb(register_module("pos_emb", torch::nn::Embedding(kSeqLen, kEmbd))),
        ln1(register_module("ln1", torch::nn::LayerNorm(std::vector<int64_t>{kEmbd}))),
        qkv(register_module("qkv", torch::nn::Linear(kEmbd, 3 * kEmbd))),
        proj(register_module("proj", torch::nn::Linear(kEmbd, kEmbd))),
        ln2(register_module("ln2", torch::nn::LayerNorm(std::vector<int64_t>{kEmbd}))),
        fc1(register_module("fc1", torch::nn::Linear(kEmbd, 4 * kEmbd))),
        fc2(register_module("fc2", torch::nn::Linear(4 * kEmbd, kEmbd))),
        ln_f(register_module("ln_f", torch::nn::LayerNorm(std::vector<int64_t>{kEmbd}))),
        head(register_module("head", torch::nn::Linear(kEmbd, kClasses))) {}

  // digits: (B, T) int64 -> logits: (B, kClasses)
  torch::Tensor forward(const torch::Tensor& digits) {
    const int64_t B = digits.size(0), T = digits.size(1), C = kEmbd, nh = kHeads, hs = C / nh;
    auto positions = torch::arange(T, digits.options());  // (T), on the batch's device
    auto h = tok_emb(digits) + pos_emb(positions);        // (B, T, C), positions broadcast over B

    // Multi-head self-attention: softmax(Q K^T / sqrt(hs)) V in each head.
    auto q_k_v = qkv(ln1(h)).chunk(3, /*dim=*/-1);  // 3 x (B, T, C)
    auto heads = [&](const torch::Tensor& t) {      // (B, T, C) -> (B, nh, T, hs)
      return t.view({B, T, nh, hs}).transpose(1, 2);
    };
    auto q = heads(q_k_v[0]), k = heads(q_k_v[1]), v = heads(q_k_v[2]);
    // Dividing by sqrt(hs) keeps the scores' variance ~1, so softmax starts out soft.
    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hs));
    auto weights = torch::softmax(scores, /*dim=*/-1);                     // (B, nh, T, T)
    auto mixed = torch::matmul(weights, v).transpose(1, 2).reshape({B, T, C});  // (B, T, C)
    h = h + proj(mixed);

    h = h + fc2(torch::gelu(fc1(ln2(h))));  // (B, T, C)
    return head(ln_f(h).mean(/*dim=*/1));   // (B, C) -> (B, kClasses)
  }

  torch::nn::Embedding tok_emb, pos_emb;
  torch::nn::LayerNorm ln1;
  torch::nn::Linear qkv, proj;
  torch::nn::LayerNorm ln2;
  torch::nn::Linear fc1, fc2;
  torch::nn::LayerNorm ln_f;
  torch::nn::Linear head;
};
TORCH_MODULE(Classifier);

// ---------------------------------------------------------------------------------------------
// The LightningModule: the "what". No loop, no device, no zero_grad, no clipping in here.
class ClassifierModule : public volt::LightningModule {
 public:
  explicit ClassifierModule(int64_t total_steps) : total_steps_(total_steps) {}

  // Returns the loss; the Trainer calls backward() on it and steps the optimizer.
  torch::Tensor training_step(const volt::Batch& batch, int64_t /*batch_idx*/) override {
    auto logits = net(batch.input_ids);  // (B, kClasses)
    auto loss = torch::nn::functional::cross_entropy(logits, batch.labels);
    log("train_loss", loss);
    return loss;
  }

  // Runs under NoGradGuard and eval(), set up by the Trainer. Values logged here are averaged
  // over the validation set (weighted by batch_size) and shown on the progress bar.
  void validation_step(const volt::Batch& batch, int64_t /*batch_idx*/) override {
    auto logits = net(batch.input_ids);  // (B, kClasses)
    volt::LogOptions opts;
    opts.prog_bar = true;
    opts.batch_size = batch.batch_size();
    log("val_loss", torch::nn::functional::cross_entropy(logits, batch.labels), opts);
    log("val_acc", logits.argmax(/*dim=*/-1).eq(batch.labels).to(torch::kFloat).mean(), opts);
  }

  // Called by the Trainer after the module is on its device (volt::AdamW takes over the
  // parameters' storage, so it must not be built earlier).
  volt::Optimizers configure_optimizers() override {
    volt::AdamWOptions adamw;
    adamw.lr = kLR;  // adamw.weight_decay is not used: each group below carries its own
    // Decay matrices only: biases, LayerNorm gains and embeddings are left alone.
    auto groups = volt::weight_decay_groups(*this, kWeightDecay);
    auto optimizer = std::make_shared<volt::AdamW>(groups, adamw);
    const int64_t warmup = std::min(kWarmupSteps, total_steps_ / 10);
    auto schedule = std::make_shared<volt::CosineWithWarmup>(warmup, total_steps_, kMinLR, kLR);
    return {optimizer, schedule};
  }

  Classifier net{register_module("net", Classifier())};

 private:
  int64_t total_steps_;
};

int main(int argc, char** argv) {
  int64_t steps = kDefaultSteps;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    char* end = nullptr;
    if (arg == "--steps" && i + 1 < argc) steps = std::strtoll(argv[++i], &end, 10);
    if (end == nullptr || *end != '\0' || steps < 1) {
      std::fprintf(stderr, "usage: %s [--steps N]   (N >= 1, default %lld)\n", argv[0],
                   static_cast<long long>(kDefaultSteps));
      return 2;
    }
  }

  // The run directory (metrics.csv, report.md, loss.svg, checkpoints/) lives under the system's
  // temp directory; start it empty so old checkpoints do not mix with this run's.
  const auto run_dir = std::filesystem::temp_directory_path() / "volt-example01";
  std::filesystem::remove_all(run_dir);

  // TrainerOptions::seed is applied inside fit(), after the weights exist: seed them here
  // (Lightning's seed_everything).
  volt::seed_everything(kTrainSeed);
  auto model = std::make_shared<ClassifierModule>(steps);
  DigitsDataModule data;

  volt::Trainer trainer(volt::TrainerOptions()
                            .max_steps(steps)
                            .val_check_interval(kEvalEvery)
                            .gradient_clip_val(kClipNorm)
                            .log_every_n_steps(10)
                            .num_threads(1)  // tiny ops: one thread beats two
                            .seed(kTrainSeed)
                            .default_root_dir(run_dir.string())
                            .enable_checkpointing(true));  // best by val_loss, plus last/
  trainer.fit(*model, data);

  // The Trainer validated every kEvalEvery steps; if the run did not end on one, validate once
  // more so the accuracy we report belongs to the final weights.
  auto metrics = trainer.callback_metrics();
  if (trainer.global_step() % kEvalEvery != 0) metrics = trainer.validate(*model, data);
  const double accuracy = metrics.at("val_acc");
  const bool pass = accuracy >= kPassAccuracy;
  std::printf("final val_acc %.4f after %lld steps in %.1f s: %s (threshold %.2f)\n", accuracy,
              static_cast<long long>(trainer.global_step()), trainer.elapsed_seconds(),
              pass ? "PASS" : "FAIL", kPassAccuracy);
  std::printf("run directory: %s\n", run_dir.c_str());
  return pass ? 0 : 1;
}

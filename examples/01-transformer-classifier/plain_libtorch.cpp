// Example 01, part 1 of 2: a tiny Transformer classifier trained by a hand-written LibTorch loop.
//
// The task: given 8 digits, answer "are they sorted in ascending order?". Half of the sequences
// are sorted; the other half hold the same digits out of order. Counting digits therefore cannot
// tell the classes apart: the model has to relate each digit to its neighbours, which is what
// self-attention (plus positional embeddings) is for.
//
// Everything a training run needs is written out below: seeding, data, model, optimizer,
// learning-rate schedule, the five-step loop, gradient clipping and validation. with_volt.cpp
// trains the same model on the same task and hands the loop to volt::Trainer.
//
//   cmake --build build --target example01_plain && ./build/bin/example01_plain [--steps N]
//
// Prints the validation accuracy as it trains; exits 1 if the final one is below kPassAccuracy.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

// The task.
constexpr int64_t kVocab = 10;   // tokens are the digits 0..9
constexpr int64_t kSeqLen = 8;   // digits per sequence (T)

// The model: one Transformer block, as small as the task allows.
constexpr int64_t kEmbd = 32;    // channels per token (C)
constexpr int64_t kHeads = 4;    // attention heads, each C / kHeads = 8 channels wide
constexpr int64_t kClasses = 2;  // 0: not sorted, 1: sorted

// Training.
constexpr int64_t kBatch = 64;           // sequences per optimizer step
constexpr int64_t kDefaultSteps = 1000;  // optimizer steps; --steps overrides
constexpr double kLR = 1e-2;             // peak learning rate (tiny models tolerate a large one)
constexpr int64_t kWarmupSteps = 50;     // linear warmup: Adam's early moment estimates are noisy
constexpr double kMinLR = 1e-3;          // the cosine decay ends here
constexpr double kWeightDecay = 0.01;    // pulls weights towards 0 a little every step
constexpr double kClipNorm = 1.0;        // clip the global gradient norm to this
constexpr int64_t kEvalEvery = 100;      // steps between validations
constexpr int64_t kValExamples = 2048;   // fixed validation set
constexpr double kPassAccuracy = 0.90;   // chance is 0.5; a working model clears this easily
constexpr uint64_t kTrainSeed = 1337;    // weights and the training stream
constexpr uint64_t kValSeed = 4242;      // the validation set: never seen in training

// ---------------------------------------------------------------------------------------------
// Data: sequences are generated on the fly from seeded std::mt19937_64s, so every run sees the
// same digits. make_example and make_batch are identical in with_volt.cpp, and so is the
// validation set.

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

// ---------------------------------------------------------------------------------------------
// The model: token + position embeddings, one pre-norm Transformer block, mean-pool, linear head.
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
    auto positions = torch::arange(T, digits.options());  // (T)
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
// Training.

// Linear warmup to kLR, then cosine decay to kMinLR at the last step (the same function as
// volt::CosineWithWarmup, so both programs see the same rates).
double lr_at(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return kLR * static_cast<double>(step + 1) / static_cast<double>(warmup + 1);
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return kMinLR + 0.5 * (1.0 + std::cos(M_PI * progress)) * (kLR - kMinLR);
}

struct Eval {
  double loss, accuracy;
};

Eval evaluate(Classifier& model, const torch::Tensor& digits, const torch::Tensor& labels) {
  model->eval();                // layers that act differently in training (dropout) switch off
  torch::NoGradGuard no_grad;   // no graph: validation never calls backward
  auto logits = model->forward(digits);  // (N, kClasses)
  const double loss = torch::nn::functional::cross_entropy(logits, labels).item<double>();
  const double acc = logits.argmax(/*dim=*/-1).eq(labels).to(torch::kFloat).mean().item<double>();
  model->train();
  return {loss, acc};
}

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

  torch::manual_seed(kTrainSeed);  // the initial weights
  // Every op here is tiny (64 x 8 x 32): splitting one over threads costs more than it saves.
  torch::set_num_threads(1);
  Classifier model;
  std::mt19937_64 train_rng(kTrainSeed), val_rng(kValSeed);
  const auto [val_digits, val_labels] = make_batch(val_rng, kValExamples);

  // One group, so every parameter decays (with_volt.cpp spares biases, norms and embeddings).
  torch::optim::AdamW optimizer(model->parameters(),
                                torch::optim::AdamWOptions(kLR).weight_decay(kWeightDecay));
  const int64_t warmup = std::min(kWarmupSteps, steps / 10);

  const auto start = std::chrono::steady_clock::now();
  Eval last{0, 0};
  for (int64_t step = 0; step < steps; ++step) {
    // The schedule is ours to apply: LibTorch's optimizer has a rate per parameter group.
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_at(step, warmup, steps));
    }
    const auto [digits, labels] = make_batch(train_rng, kBatch);  // (B, T), (B)

    auto logits = model->forward(digits);                                    // 1. forward
    auto loss = torch::nn::functional::cross_entropy(logits, labels);        // 2. loss
    loss.backward();                                                         // 3. backward
    torch::nn::utils::clip_grad_norm_(model->parameters(), kClipNorm);
    optimizer.step();                                                        // 4. step
    optimizer.zero_grad();  // 5. zero_grad: backward() adds to .grad, it never overwrites

    if ((step + 1) % kEvalEvery == 0 || step + 1 == steps) {
      last = evaluate(model, val_digits, val_labels);
      std::printf("step %5lld  train_loss %.4f  val_loss %.4f  val_acc %.4f\n",
                  static_cast<long long>(step + 1), loss.item<double>(), last.loss, last.accuracy);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const bool pass = last.accuracy >= kPassAccuracy;
  std::printf("final val_acc %.4f after %lld steps in %.1f s: %s (threshold %.2f)\n", last.accuracy,
              static_cast<long long>(steps), seconds, pass ? "PASS" : "FAIL", kPassAccuracy);
  return pass ? 0 : 1;
}

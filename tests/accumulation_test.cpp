// Exact gradient accumulation: with micro-batches of unequal target-token counts (padded rows of
// random lengths), accumulate_grad_batches = k over micro-batches of b rows gives the same
// gradients, the same updates and the same logged loss as one batch of k*b rows, because each
// micro-batch's mean loss is weighted by its share of the step's target tokens. Lightning's 1/k
// convention (a plain mean of micro-batch means) does not, and the test shows by how much.
#include <gtest/gtest.h>

#include "test_helpers.h"
#include "volt/train/lm_module.h"

namespace volt {
namespace {

using test::ListDataModule;
using test::ScopedTempDir;

constexpr int64_t kVocab = 23, kBlock = 12;

ModelConfig tiny_config() {
  ModelConfig c = ModelConfig::preset("babygpt-tiny");
  c.vocab_size = kVocab, c.block_size = kBlock, c.dropout = 0.0;
  return c;
}

// Rows of random length in [1, kBlock], right-padded to the longest row of the list; labels -100
// on the padding.
struct Row {
  torch::Tensor ids, labels;  // (len,)
};

std::vector<Row> random_rows(int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<Row> rows;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = torch::randint(1, kBlock + 1, {1}, gen, torch::kLong).item<int64_t>();
    rows.push_back({torch::randint(0, kVocab, {len}, gen, torch::kLong),
                    torch::randint(0, kVocab, {len}, gen, torch::kLong)});
  }
  return rows;
}

Batch pad(const std::vector<Row>& rows) {
  int64_t t = 0;
  for (const auto& r : rows) t = std::max(t, r.ids.size(0));
  Batch b;
  b.input_ids = torch::zeros({static_cast<int64_t>(rows.size()), t}, torch::kLong);
  b.labels = torch::full({static_cast<int64_t>(rows.size()), t}, -100, torch::kLong);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t len = rows[i].ids.size(0);
    b.input_ids[static_cast<int64_t>(i)].narrow(0, 0, len).copy_(rows[i].ids);
    b.labels[static_cast<int64_t>(i)].narrow(0, 0, len).copy_(rows[i].labels);
  }
  return b;
}

// k consecutive groups of b rows as micro-batches, or all k*b rows of a step as one batch.
std::vector<Batch> batches_of(const std::vector<Row>& rows, int64_t rows_per_batch) {
  std::vector<Batch> out;
  for (size_t i = 0; i + static_cast<size_t>(rows_per_batch) <= rows.size(); i += static_cast<size_t>(rows_per_batch)) {
    out.push_back(pad({rows.begin() + static_cast<std::ptrdiff_t>(i),
                       rows.begin() + static_cast<std::ptrdiff_t>(i) + rows_per_batch}));
  }
  return out;
}

// LMModule as `volt fit` trains it, optionally with Lightning's equal micro-batch weights. With
// AdamW the first update is ~lr * sign(g): a gradient of 1e-9 and one of 1.01e-9 move a weight
// alike but one of -1e-9 the other way, so rounding-level gradient differences become lr-sized
// weight differences from the second step on. Several steps are therefore compared under plain
// SGD (an update linear in the gradient), and AdamW's first step by its gradients.
class Module : public LMModule {
 public:
  explicit Module(bool equal_weights, bool sgd = true)
      : LMModule(tiny_config(), options(), nullptr, nullptr), equal_weights_(equal_weights), sgd_(sgd) {}
  double loss_weight(const Batch& b) const override { return equal_weights_ ? 1.0 : LMModule::loss_weight(b); }
  Optimizers configure_optimizers() override {
    if (!sgd_) return LMModule::configure_optimizers();
    return {std::make_shared<test::TestSGD>(std::vector<ParamGroup>{test::all_parameters_group(*this, 0.5)}), nullptr};
  }
  static AdamWOptions options() {
    AdamWOptions o;
    o.lr = 1e-2;
    o.weight_decay = 0.1;
    return o;
  }

 private:
  bool equal_weights_, sgd_;
};

// The accumulated gradients at each optimizer step, before the update.
class GradRecorder : public Callback {
 public:
  std::string name() const override { return "GradRecorder"; }
  void on_before_optimizer_step(Trainer& t, LightningModule&) override {
    std::vector<torch::Tensor> flat;
    for (const auto& g : t.optimizer()->flat_grads()) flat.push_back(g.reshape({-1}));
    grads.push_back(torch::cat(flat).clone());
  }
  std::vector<torch::Tensor> grads;
};

struct TrainRun {
  std::shared_ptr<Module> module;
  std::vector<torch::Tensor> grads;
  std::vector<double> losses;  // logged train_loss per step
};

class LossRecorder : public Callback {
 public:
  std::string name() const override { return "LossRecorder"; }
  void on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor&, const Batch&, int64_t) override {
    losses.push_back(t.callback_metrics().at("train_loss"));
  }
  std::vector<double> losses;
};

TrainRun train(const std::vector<Batch>& batches, int64_t accumulate, int64_t steps, bool equal_weights,
               const std::string& dir, bool sgd = true) {
  torch::manual_seed(5);
  TrainRun r{std::make_shared<Module>(equal_weights, sgd), {}, {}};
  auto grads = std::make_shared<GradRecorder>();
  auto losses = std::make_shared<LossRecorder>();
  ListDataModule data(batches);
  Trainer t(test::quiet_options(dir).max_steps(steps).accumulate_grad_batches(accumulate), {grads, losses});
  t.fit(*r.module, data);
  r.grads = grads->grads;
  r.losses = losses->losses;
  return r;
}

double max_param_diff(Module& a, Module& b) {
  const auto pa = test::snapshot(a), pb = test::snapshot(b);
  double worst = 0;
  for (const auto& [name, t] : pa) worst = std::max(worst, test::max_abs_diff(t, pb.at(name)));
  return worst;
}

TEST(ExactAccumulation, PaddedUnevenMicroBatchesEqualOneBatchOfAllTheirRows) {
  ScopedTempDir dir;
  const int64_t k = 4, b = 2, steps = 3;
  const auto rows = random_rows(k * b * steps, 17);
  const auto micro = batches_of(rows, b), whole = batches_of(rows, k * b);
  // The micro-batches really are uneven: their target counts differ.
  std::set<int64_t> counts;
  for (const auto& m : micro) counts.insert(m.num_target_tokens());
  ASSERT_GE(counts.size(), 3u);

  const TrainRun acc = train(micro, k, steps, false, dir / "acc");
  const TrainRun one = train(whole, 1, steps, false, dir / "one");
  ASSERT_EQ(acc.grads.size(), static_cast<size_t>(steps));
  ASSERT_EQ(one.grads.size(), static_cast<size_t>(steps));
  for (int64_t s = 0; s < steps; ++s) {
    EXPECT_LT(test::max_abs_diff(acc.grads[s], one.grads[s]), 1e-6) << "gradients differ at step " << s;
    // The logged loss is the step's token-weighted loss: the one batch's.
    EXPECT_NEAR(acc.losses[s], one.losses[s], 1e-6) << "step " << s;
  }
  EXPECT_LT(max_param_diff(*acc.module, *one.module), 1e-6);
  // Training moved the weights, so equal weights are not trivially equal.
  torch::manual_seed(5);
  Module fresh(false);
  EXPECT_GT(max_param_diff(fresh, *one.module), 1e-3);
}

TEST(ExactAccumulation, AdamWsFirstStepSeesTheSameGradient) {
  ScopedTempDir dir;
  const int64_t k = 4, b = 2;
  const auto rows = random_rows(k * b, 29);
  const TrainRun acc = train(batches_of(rows, b), k, 1, false, dir / "acc", /*sgd=*/false);
  const TrainRun one = train(batches_of(rows, k * b), 1, 1, false, dir / "one", /*sgd=*/false);
  EXPECT_LT(test::max_abs_diff(acc.grads[0], one.grads[0]), 1e-6);
}

TEST(ExactAccumulation, EqualMicroBatchWeightsAreNotTheSameUpdate) {
  // Lightning's convention, the mean of micro-batch means, over-weights the tokens of short
  // micro-batches: a different gradient from the first step on.
  ScopedTempDir dir;
  const int64_t k = 4, b = 2, steps = 1;
  const auto rows = random_rows(k * b * steps, 17);
  const TrainRun naive = train(batches_of(rows, b), k, steps, true, dir / "naive");
  const TrainRun one = train(batches_of(rows, k * b), 1, steps, false, dir / "one");
  EXPECT_GT(test::max_abs_diff(naive.grads[0], one.grads[0]), 1e-4);
}

TEST(ExactAccumulation, AMicroBatchWithoutTargetsAddsNothing) {
  // A fully padded micro-batch (all labels -100) has a 0/0 mean loss; it must not poison the step.
  ScopedTempDir dir;
  const auto rows = random_rows(4, 3);
  auto micro = batches_of(rows, 2);
  Batch empty = micro[0];
  empty.labels = torch::full_like(empty.labels, -100);
  const TrainRun with_empty = train(std::vector<Batch>{micro[0], empty, micro[1]}, 3, 1, false, dir / "a");
  const TrainRun without = train(std::vector<Batch>{micro[0], micro[1]}, 2, 1, false, dir / "b");
  ASSERT_EQ(with_empty.grads.size(), 1u);
  EXPECT_TRUE(torch::isfinite(with_empty.grads[0]).all().item<bool>());
  EXPECT_LT(test::max_abs_diff(with_empty.grads[0], without.grads[0]), 1e-7);
}

}  // namespace
}  // namespace volt

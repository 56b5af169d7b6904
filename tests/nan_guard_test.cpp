// The NaN guard: a step whose loss or gradients are not finite is skipped (weights and optimizer
// state untouched), counted and logged; after max_nonfinite_steps in a row the run stops (exit
// code 3) naming the first weight or gradient that went non-finite, and the last checkpoint —
// written before the trouble — is left as it was.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "test_helpers.h"
#include "volt/io/files.h"
#include "volt/models/causal_lm.h"
#include "volt/train/callbacks.h"

namespace volt {
namespace {

using test::ListDataModule;
using test::ScopedTempDir;

// A small LM whose loss is NaN at chosen steps (batch indices).
class FlakyLM : public LightningModule {
 public:
  FlakyLM() {
    torch::manual_seed(1);
    ModelConfig c = ModelConfig::preset("babygpt-tiny");
    c.vocab_size = 11, c.block_size = 8;
    lm = register_module("lm", CausalLM(c));
  }
  torch::Tensor training_step(const Batch& b, int64_t idx) override {
    auto loss = causal_lm_loss(lm(b.input_ids), b.labels);
    log("train_loss", loss);
    return nan_at.count(idx) ? loss * std::numeric_limits<float>::quiet_NaN() : loss;
  }
  Optimizers configure_optimizers() override {
    AdamWOptions o;
    o.lr = 1e-2;
    return {std::make_shared<AdamW>(weight_decay_groups(*this, 0.0), o), nullptr};
  }
  CausalLM lm{nullptr};
  std::set<int64_t> nan_at;
};

class Snapshots : public Callback {
 public:
  std::string name() const override { return "Snapshots"; }
  void on_train_batch_end(Trainer&, LightningModule& m, const torch::Tensor&, const Batch&,
                          int64_t) override {
    after.push_back(test::snapshot(m));
  }
  std::vector<std::map<std::string, torch::Tensor>> after;
};

TEST(NanGuard, SkipsANonFiniteStepAndGoesOn) {
  ScopedTempDir dir;
  FlakyLM m;
  m.nan_at = {2};
  auto snaps = std::make_shared<Snapshots>();
  ListDataModule data(test::random_batches(6, 4, 8, 11, 3));
  Trainer t(test::quiet_options(dir.path()).max_steps(6), {snaps});
  t.fit(m, data);
  EXPECT_EQ(t.global_step(), 6);
  EXPECT_EQ(t.nonfinite_steps(), 1);
  EXPECT_EQ(t.skipped_steps(), 1);
  for (const auto& [name, w] : snaps->after[1])
    EXPECT_TRUE(torch::equal(w, snaps->after[2].at(name))) << name;
  EXPECT_FALSE(torch::equal(snaps->after[3].at("lm.transformer.wte.weight"),
                            snaps->after[2].at("lm.transformer.wte.weight")));
  for (const auto& p : m.parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  EXPECT_DOUBLE_EQ(t.callback_metrics().at("nonfinite_steps"), 1);
}

TEST(NanGuard, StopsAfterNInARowAndKeepsTheLastGoodCheckpoint) {
  ScopedTempDir dir;
  FlakyLM m;
  m.nan_at = {4, 5, 6, 7, 8, 9};
  ModelCheckpointOptions co;
  co.every_n_train_steps = 1;  // a checkpoint after every step: the NaN steps must not write one
  auto ckpt = std::make_shared<ModelCheckpoint>(co);
  ListDataModule data(test::random_batches(10, 4, 8, 11, 3));
  Trainer t(test::quiet_options(dir.path()).max_steps(10).max_nonfinite_steps(3), {ckpt});
  try {
    t.fit(m, data);
    FAIL() << "the run went on";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.exit_code(), 3);
    EXPECT_NE(what.find("3 steps in a row (to step 7)"), std::string::npos) << what;
    EXPECT_NE(what.find("the weights are those of step 4"), std::string::npos) << what;
    // NaN times the loss makes every gradient NaN: the first one in forward order is named.
    EXPECT_NE(
        what.find("The loss is not finite. First non-finite gradient: lm.transformer.wte.weight"),
        std::string::npos)
        << what;
    EXPECT_NE(what.find("is intact"), std::string::npos) << what;
  }
  EXPECT_EQ(t.global_step(), 7);
  const auto state = io::read_json(dir / "checkpoints/last/trainer_state.json");
  EXPECT_EQ(state.at("global_step").get<int64_t>(), 4);
}

// A weight turned NaN (an exploding update, a bad load): the diagnosis names it.
class PoisonAt : public Callback {
 public:
  std::string name() const override { return "PoisonAt"; }
  void on_train_batch_end(Trainer& t, LightningModule& m, const torch::Tensor&, const Batch&,
                          int64_t) override {
    if (t.global_step() != 2) return;
    torch::NoGradGuard no_grad;
    m.named_parameters()["lm.transformer.h.1.mlp.c_fc.weight"][0][0] =
        std::numeric_limits<float>::quiet_NaN();
  }
};

TEST(NanGuard, NamesTheFirstNonFiniteWeight) {
  ScopedTempDir dir;
  FlakyLM m;
  ListDataModule data(test::random_batches(10, 4, 8, 11, 3));
  Trainer t(test::quiet_options(dir.path()).max_steps(10).max_nonfinite_steps(2),
            {std::make_shared<PoisonAt>()});
  try {
    t.fit(m, data);
    FAIL() << "the run went on";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "First non-finite weight: lm.transformer.h.1.mlp.c_fc.weight (1 of "),
              std::string::npos)
        << e.what();
  }
}

TEST(NanGuard, ZeroTurnsItOff) {
  ScopedTempDir dir;
  FlakyLM m;
  m.nan_at = {1};
  ListDataModule data(test::random_batches(3, 4, 8, 11, 3));
  Trainer t(test::quiet_options(dir.path()).max_steps(3).max_nonfinite_steps(0));
  t.fit(m, data);
  EXPECT_EQ(t.nonfinite_steps(), 0);
  bool any_nan = false;
  for (const auto& p : m.parameters()) any_nan = any_nan || !torch::isfinite(p).all().item<bool>();
  EXPECT_TRUE(any_nan) << "without the guard the NaN step is taken";
}

}  // namespace
}  // namespace volt

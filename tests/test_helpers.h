// Shared helpers of the training tests: a per-test temporary directory, a tiny LightningModule,
// an in-memory DataModule whose loader records what it handed out, a plain SGD optimizer (the
// reference whose update is easy to reason about) and a callback that records every hook.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"
#include "volt/core/check.h"
#include "volt/data/datamodule.h"
#include "volt/train/callback.h"
#include "volt/train/lightning_module.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/optim.h"
#include "volt/train/trainer.h"

namespace volt::test {

namespace fs = std::filesystem;


inline void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Trainer options for tests: CPU, one thread, no bar, no default checkpoint, no logger.
inline TrainerOptions quiet_options(const std::string& run_dir) {
  TrainerOptions o;
  o.accelerator("cpu");
  o.num_threads(1);
  o.enable_progress_bar(false);
  o.enable_checkpointing(false);
  o.logger(false);
  o.default_root_dir(run_dir);
  o.log_every_n_steps(1);
  return o;
}

/// Plain SGD, theta -= lr * g, per group (no momentum, no decay): the update is the gradient.
class TestSGD : public Optimizer {
 public:
  explicit TestSGD(std::vector<ParamGroup> groups) { groups_ = std::move(groups); }
  void step() override {
    torch::NoGradGuard no_grad;
    ++step_count_;
    for (auto& g : groups_) {
      for (auto& p : g.params) {
        if (p.grad().defined()) p.sub_(p.grad() * g.lr);
      }
    }
  }
  void zero_grad() override {
    for (auto& g : groups_) {
      for (auto& p : g.params) {
        if (p.grad().defined()) p.mutable_grad().zero_();
      }
    }
  }
  std::vector<torch::Tensor> flat_grads() override {
    std::vector<torch::Tensor> out;
    for (auto& g : groups_) {
      for (auto& p : g.params) {
        if (p.grad().defined()) out.push_back(p.grad());
      }
    }
    return out;
  }
  std::vector<std::pair<std::string, torch::Tensor>> state_tensors() const override {
    return {{"step", torch::tensor({step_count_}, torch::kLong)}};
  }
  void load_state_tensors(const std::map<std::string, torch::Tensor>& state) override {
    step_count_ = state.at("step").item<int64_t>();
  }
  std::string name() const override { return "TestSGD"; }
};

/// One group with every parameter of a module, by name.
inline ParamGroup all_parameters_group(torch::nn::Module& m, double lr) {
  ParamGroup g;
  g.name = "all";
  for (auto& kv : m.named_parameters()) {
    g.names.push_back(kv.key());
    g.params.push_back(kv.value());
  }
  g.lr = g.initial_lr = lr;
  return g;
}

/// A loader over a fixed list of batches; records every (epoch, index) it was asked for.
class ListLoader : public DataLoader {
 public:
  explicit ListLoader(std::vector<Batch> batches) : batches_(std::move(batches)) {}
  int64_t size() const override { return static_cast<int64_t>(batches_.size()); }
  Batch get(int64_t epoch, int64_t index) const override {
    calls->emplace_back(epoch, index);
    return batches_.at(static_cast<size_t>(index));
  }
  std::shared_ptr<std::vector<std::pair<int64_t, int64_t>>> calls =
      std::make_shared<std::vector<std::pair<int64_t, int64_t>>>();

 private:
  std::vector<Batch> batches_;
};

class ListDataModule : public LightningDataModule {
 public:
  ListDataModule(std::vector<Batch> train, std::vector<Batch> val = {})
      : train_(std::make_shared<ListLoader>(std::move(train))),
        val_(val.empty() ? nullptr : std::make_shared<ListLoader>(std::move(val))) {}
  std::shared_ptr<DataLoader> train_dataloader() override { return train_; }
  std::shared_ptr<DataLoader> val_dataloader() override { return val_; }
  std::shared_ptr<ListLoader> train_loader() const { return train_; }
  std::shared_ptr<ListLoader> val_loader() const { return val_; }

 private:
  std::shared_ptr<ListLoader> train_, val_;
};

/// n batches of (b, t) random token ids in [0, vocab) with random labels, from a fixed seed.
inline std::vector<Batch> random_batches(int64_t n, int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<Batch> out;
  for (int64_t i = 0; i < n; ++i) {
    Batch batch;
    batch.input_ids = torch::randint(0, vocab, {b, t}, gen, torch::kLong);
    batch.labels = torch::randint(0, vocab, {b, t}, gen, torch::kLong);
    out.push_back(batch);
  }
  return out;
}

/// Concatenates consecutive groups of k batches along the batch dimension.
inline std::vector<Batch> concat_batches(const std::vector<Batch>& batches, size_t k) {
  std::vector<Batch> out;
  for (size_t i = 0; i + k <= batches.size(); i += k) {
    std::vector<torch::Tensor> x, y;
    for (size_t j = 0; j < k; ++j) {
      x.push_back(batches[i + j].input_ids);
      y.push_back(batches[i + j].labels);
    }
    Batch b;
    b.input_ids = torch::cat(x, 0);
    b.labels = torch::cat(y, 0);
    out.push_back(b);
  }
  return out;
}

enum class OptKind { kSGD, kAdamW };

/// A tiny token model: embedding -> LayerNorm -> linear head, mean cross-entropy. Records every
/// training loss; validation logs the real loss, or a scripted value per validation run.
class TinyModule : public LightningModule {
 public:
  TinyModule(int64_t vocab = 11, int64_t dim = 8) : vocab_(vocab) {
    emb = register_module("emb", torch::nn::Embedding(vocab, dim));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    head = register_module("head", torch::nn::Linear(dim, vocab));
  }
  torch::Tensor forward(const torch::Tensor& ids) { return head(norm(emb(ids))); }
  torch::Tensor loss_of(const Batch& b) {
    auto logits = forward(b.input_ids);
    return torch::nn::functional::cross_entropy(logits.reshape({-1, vocab_}), b.labels.reshape({-1}));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto loss = loss_of(batch);
    log("train_loss", loss);
    train_losses.push_back(loss.item<double>());
    return loss;
  }
  void validation_step(const Batch& batch, int64_t batch_idx) override {
    if (batch_idx == 0) ++validation_runs;
    LogOptions o;
    o.batch_size = batch.batch_size();
    if (!scripted_val_losses.empty()) {
      log("val_loss", scripted_val_losses.at(static_cast<size_t>(validation_runs - 1)), o);
    } else {
      log("val_loss", loss_of(batch), o);
    }
  }
  Optimizers configure_optimizers() override {
    Optimizers o;
    if (opt_kind == OptKind::kSGD) {
      o.optimizer = std::make_shared<TestSGD>(std::vector<ParamGroup>{all_parameters_group(*this, lr)});
    } else {
      AdamWOptions a;
      a.lr = lr;
      a.weight_decay = weight_decay;
      o.optimizer = std::make_shared<AdamW>(weight_decay_groups(*this, weight_decay), a);
    }
    o.scheduler = scheduler;
    return o;
  }

  torch::nn::Embedding emb{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
  OptKind opt_kind = OptKind::kSGD;
  double lr = 0.1;
  double weight_decay = 0.1;
  std::shared_ptr<LRScheduler> scheduler;
  std::vector<double> scripted_val_losses;  // one per validation run
  std::vector<double> train_losses;
  int64_t validation_runs = 0;

 private:
  int64_t vocab_;
};

/// Records every hook as "name" or "name:batch_idx", plus what validation saw.
class RecordingCallback : public Callback {
 public:
  std::string name() const override { return "Recorder"; }
  void on_fit_start(Trainer&, LightningModule&) override { events.push_back("on_fit_start"); }
  void on_fit_end(Trainer&, LightningModule&) override { events.push_back("on_fit_end"); }
  void on_train_start(Trainer&, LightningModule&) override { events.push_back("on_train_start"); }
  void on_train_end(Trainer&, LightningModule&) override { events.push_back("on_train_end"); }
  void on_train_epoch_start(Trainer& t, LightningModule&) override {
    events.push_back("on_train_epoch_start");
    epoch_starts.push_back(t.current_epoch());
  }
  void on_train_epoch_end(Trainer& t, LightningModule&) override {
    events.push_back("on_train_epoch_end");
    epoch_ends.push_back(t.current_epoch());
  }
  void on_train_batch_start(Trainer&, LightningModule&, const Batch&, int64_t i) override {
    events.push_back("on_train_batch_start:" + std::to_string(i));
  }
  void on_train_batch_end(Trainer& t, LightningModule&, const torch::Tensor&, const Batch&,
                          int64_t i) override {
    events.push_back("on_train_batch_end:" + std::to_string(i));
    batch_end_steps.push_back(t.global_step());
  }
  void on_before_backward(Trainer&, LightningModule&, const torch::Tensor&) override {
    events.push_back("on_before_backward");
  }
  void on_after_backward(Trainer&, LightningModule&) override { events.push_back("on_after_backward"); }
  void on_before_optimizer_step(Trainer&, LightningModule&) override {
    events.push_back("on_before_optimizer_step");
  }
  void on_validation_start(Trainer&, LightningModule&) override {
    events.push_back("on_validation_start");
    val_batches.push_back(0);
  }
  void on_validation_batch_end(Trainer&, LightningModule&, const Batch&, int64_t i) override {
    events.push_back("on_validation_batch_end:" + std::to_string(i));
    if (!val_batches.empty()) ++val_batches.back();
  }
  void on_validation_end(Trainer& t, LightningModule&) override {
    events.push_back("on_validation_end");
    val_steps.push_back(t.global_step());
    auto it = t.callback_metrics().find("val_loss");
    val_losses.push_back(it == t.callback_metrics().end() ? -1.0 : it->second);
  }

  std::vector<std::string> events;
  std::vector<int64_t> val_steps, val_batches, epoch_starts, epoch_ends, batch_end_steps;
  std::vector<double> val_losses;
};

/// Parameters by name, cloned.
inline std::map<std::string, torch::Tensor> snapshot(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (auto& kv : m.named_parameters()) out[kv.key()] = kv.value().detach().clone();
  return out;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace volt::test

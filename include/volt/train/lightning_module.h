// Lightning's LightningModule: the model plus what to compute in a training and a validation step
// and which optimizer to use. The Trainer owns everything else (loop, device, precision, logging).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "volt/data/batch.h"
#include "volt/nn/block_wrapper.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/optim.h"

namespace volt {

class Trainer;

/// What configure_optimizers() returns: an optimizer and, optionally, a per-step LR schedule.
struct Optimizers {
  std::shared_ptr<Optimizer> optimizer;
  std::shared_ptr<LRScheduler> scheduler;
};

/// Options of LightningModule::log, as in Lightning's self.log.
struct LogOptions {
  std::optional<bool> on_step;   // default: true in training, false in validation
  std::optional<bool> on_epoch;  // default: false in training, true in validation (mean)
  bool prog_bar = false;         // show on the progress bar
  int64_t batch_size = 1;        // weight of this value in an epoch mean
};

class LightningModule : public torch::nn::Module {
 public:
  /// Returns the loss of one (micro-)batch; the Trainer runs backward on it.
  virtual torch::Tensor training_step(const Batch& batch, int64_t batch_idx) = 0;
  virtual void validation_step(const Batch& batch, int64_t batch_idx) {}
  /// Trainer::test's step (log test metrics here).
  virtual void test_step(const Batch& batch, int64_t batch_idx);
  /// Trainer::predict's step: what to return for one batch.
  virtual torch::Tensor predict_step(const Batch& batch, int64_t batch_idx);
  virtual Optimizers configure_optimizers() = 0;

  /// Records a metric; the Trainer aggregates it per step or per epoch and hands it to loggers,
  /// callbacks (ModelCheckpoint's monitor) and the progress bar.
  void log(const std::string& name, const torch::Tensor& value, const LogOptions& options = {});
  void log(const std::string& name, double value, const LogOptions& options = {});

  /// Writes what it takes to rebuild this module (a Hugging Face directory for language models).
  virtual void save_pretrained(const std::string& dir) const;
  /// Loads weights written by save_pretrained.
  virtual void load_pretrained_weights(const std::string& dir);
  /// What save_pretrained writes besides the weights (a language model: config.json and the
  /// tokenizer): a sharded checkpoint's (dist/fsdp.h) model files.
  virtual void save_pretrained_metadata(const std::string& dir) const {}

  /// The model's repeated blocks in forward order, and a hook around each one's run: strategies
  /// that work block by block (FSDP's units) use them. Default: no blocks (one unit).
  virtual std::vector<torch::nn::Module*> blocks() { return {}; }
  virtual void set_block_wrapper(nn::BlockWrapper) {}

  /// How many units training_step's loss is a mean over (a language model: its target tokens,
  /// labels != -100). With gradient accumulation the Trainer weights each micro-batch's loss by
  /// its share of the step's units, so k micro-batches give the update of one batch holding them
  /// all, however unevenly padded. Default 1: every micro-batch counts the same (Lightning's 1/k).
  virtual double loss_weight(const Batch& batch) const { return 1.0; }

  /// Tokens processed by a batch, for throughput (default: input_ids.numel()).
  virtual int64_t tokens_in(const Batch& batch) const { return batch.input_ids.numel(); }

  /// The Trainer running this module (null outside fit/validate).
  Trainer* trainer() const { return trainer_; }

  // Set by the Trainer: where log() sends values.
  using LogSink = std::function<void(const std::string&, const torch::Tensor&, const LogOptions&)>;
  void attach(Trainer* trainer, LogSink sink) {
    trainer_ = trainer;
    sink_ = std::move(sink);
  }

 private:
  Trainer* trainer_ = nullptr;
  LogSink sink_;
};

/// The module's parameters by name, tied parameters once, as safetensors-ready pairs.
std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters(torch::nn::Module& m);

}  // namespace volt

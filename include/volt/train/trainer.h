// Lightning's Trainer: owns the loop (forward, loss, backward, optimizer step, zero_grad), device
// placement, precision, gradient accumulation and clipping, the validation cadence, callbacks,
// logging, checkpoints and exact resume. It knows no model family.
//
// One optimizer step is split into phases a strategy (DDP, FSDP) can wrap:
//   forward_backward(micro-batch) x accumulate_grad_batches  ->  optimizer_step()
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "volt/core/config.h"
#include "volt/core/csv_logger.h"
#include "volt/core/directory_lock.h"
#include "volt/data/datamodule.h"
#include "volt/data/prefetch_loader.h"
#include "volt/train/callback.h"
#include "volt/train/lightning_module.h"
#include "volt/train/precision.h"
#include "volt/train/strategy.h"

namespace volt {

struct TrainerOptions {
  TORCH_ARG(int64_t, max_steps) = -1;          // optimizer steps; -1: no limit; 0: no training
  TORCH_ARG(int64_t, max_epochs) = -1;         // -1: 1000 when max_steps is unset, else no limit
  TORCH_ARG(double, max_time) = 0;             // seconds of training; 0: no limit
  TORCH_ARG(int64_t, val_check_interval) = 0;  // optimizer steps between validations; 0: each epoch
  TORCH_ARG(double, limit_val_batches) = 1.0;  // <= 1: a fraction of the val loader, > 1: a count
  TORCH_ARG(double, limit_test_batches) = 1.0;     // the same for test()
  TORCH_ARG(double, limit_predict_batches) = 1.0;  // the same for predict()
  TORCH_ARG(int64_t, log_every_n_steps) = 50;
  TORCH_ARG(int64_t, accumulate_grad_batches) = 1;
  TORCH_ARG(double, gradient_clip_val) = 0;  // clip the global gradient norm; 0: off
  TORCH_ARG(std::string,
            precision) = "32-true";        // "32-true" | "bf16-mixed" | "16-mixed" | "bf16-true"
  TORCH_ARG(bool, master_weights) = true;  // bf16-true: fp32 master weights in the optimizer
  TORCH_ARG(bool, tf32) = false;  // TF32 for fp32 matmuls on CUDA (Ampere+); no effect on CPU
  TORCH_ARG(LossScalerOptions, loss_scaler) = {};  // 16-mixed's dynamic loss scaling
  /// A plugin object instead of `precision`'s (Lightning's plugins=[...]); null: by name.
  TORCH_ARG(std::shared_ptr<PrecisionPlugin>, precision_plugin) = nullptr;
  TORCH_ARG(int64_t, seed) = 1337;
  TORCH_ARG(std::string, default_root_dir) = "runs";  // the run directory itself
  TORCH_ARG(std::string, accelerator) = "auto";       // "cpu" | "cuda" | "auto"
  TORCH_ARG(int64_t, num_threads) = 0;  // intra-op threads; 0: automatic (core/cpu_runtime.h)
  TORCH_ARG(bool, enable_progress_bar) = true;
  TORCH_ARG(bool, enable_checkpointing) = true;  // add a ModelCheckpoint if none is given
  TORCH_ARG(bool, enable_model_summary) = true;  // print the parameter counts at fit start
  TORCH_ARG(bool, logger) = true;                // write metrics.csv, config.yaml, report
  /// SIGINT / SIGTERM finish the step, save checkpoints/last and stop with exit code 130 / 143.
  TORCH_ARG(bool, handle_signals) = true;
  /// A step whose loss or gradients are not finite is skipped; after this many in a row the run
  /// stops naming the first parameter that went non-finite (exit code 3). 0: no guard.
  TORCH_ARG(int64_t, max_nonfinite_steps) = 5;
  /// "auto" (ddp when the environment describes several processes, else single), "single", "ddp".
  /// The Trainer runs `strategy_plugin`; the name is what the CLI builds one from (dist/).
  TORCH_ARG(std::string, strategy) = "auto";
  /// Lightning's strategy=DDPStrategy(...): null is the single-device strategy.
  TORCH_ARG(std::shared_ptr<Strategy>, strategy_plugin) = nullptr;
  /// Processes to train with (Lightning's devices): `volt fit` starts them itself when > 1.
  TORCH_ARG(int64_t, devices) = 1;
};

/// Reads the `trainer:` section (every TrainerOptions field by name, plus callbacks settings).
TrainerOptions trainer_options_from(ConfigSection& section);

/// Parses "DD:HH:MM:SS", "HH:MM:SS" or a number of seconds.
double parse_duration(const std::string& text);

class Trainer {
 public:
  explicit Trainer(TrainerOptions options, std::vector<std::shared_ptr<Callback>> callbacks = {});

  /// Trains; ckpt_path (a checkpoint directory, or "last") resumes exactly where it stopped.
  void fit(LightningModule& module, LightningDataModule& data, const std::string& ckpt_path = "");
  /// One pass over the validation set; returns the logged epoch metrics.
  std::map<std::string, double> validate(LightningModule& module, LightningDataModule& data);
  /// One pass of test_step over the test set; returns the logged epoch metrics (test_loss, ...).
  std::map<std::string, double> test(LightningModule& module, LightningDataModule& data);
  /// predict_step over the predict set, one tensor per batch (on the CPU), in order.
  std::vector<torch::Tensor> predict(LightningModule& module, LightningDataModule& data);

  // --- state, read by callbacks ---
  const TrainerOptions& options() const { return options_; }
  int64_t global_step() const { return global_step_; }
  int64_t current_epoch() const { return epoch_; }
  int64_t max_steps() const;  // resolved (epochs x steps per epoch when unset)
  /// True inside fit() (Lightning's trainer.state.fn == FITTING): callbacks such as
  /// ModelCheckpoint act only then, not during a standalone validate().
  bool fitting() const { return fitting_; }
  const std::map<std::string, double>& callback_metrics() const { return callback_metrics_; }
  const std::map<std::string, double>& progress_bar_metrics() const { return progress_metrics_; }
  Optimizer* optimizer() const { return optimizers_.optimizer.get(); }
  PrecisionPlugin& precision_plugin() const { return *precision_; }
  /// Optimizer steps skipped because the gradients were not finite (16-mixed overflows).
  int64_t skipped_steps() const { return skipped_steps_; }
  /// Steps skipped because the loss or a gradient was inf or NaN (the NaN guard).
  int64_t nonfinite_steps() const { return nonfinite_steps_; }
  /// True while the latest step was skipped as non-finite: checkpoints are not written then, so
  /// the last one saved stays the last good one.
  bool in_nonfinite_streak() const { return nonfinite_streak_ > 0; }
  double tokens_per_second() const { return tokens_per_sec_; }
  double elapsed_seconds() const;
  const std::string& run_dir() const { return options_.default_root_dir(); }
  /// This process's rank and the number of processes (1 without a distributed strategy).
  int64_t global_rank() const { return rank_; }
  int64_t world_size() const { return world_; }
  /// Rank 0: the process that logs, draws progress and writes the run directory.
  bool is_global_zero() const { return rank_ == 0; }
  torch::Device device() const { return device_; }
  /// How the step is spread over processes (single, ddp, fsdp).
  Strategy& strategy() const { return *strategy_; }
  bool should_stop = false;  // a callback may set it (early stopping)
  std::vector<std::shared_ptr<Callback>>& callbacks() { return callbacks_; }
  /// Logs extra metrics at the current step (what LearningRateMonitor uses).
  void log_metrics(const std::map<std::string, double>& metrics);
  /// Writes a checkpoint directory (module's HF files + trainer_state.*) atomically. Under a
  /// sharding strategy (fsdp) every rank calls it and writes its shard (see
  /// save_sharded_checkpoint).
  void save_checkpoint(const std::string& dir);
  /// The resolved YAML config, written into the run directory (set by the CLI).
  void set_config_yaml(std::string yaml) { config_yaml_ = std::move(yaml); }
  /// Plain-line / progress-bar output that does not break the bar.
  void print(const std::string& line) const;

 private:
  // Phases of one optimizer step, in order.
  // weight: this micro-batch's share of the step's loss (its loss_weight over the step's total).
  torch::Tensor forward_backward(LightningModule& m, const Batch& batch, int64_t batch_idx,
                                 double weight);
  // step_loss: the step's loss (its micro-batches' weighted sum); undefined skips the loss check.
  torch::Tensor optimizer_step(LightningModule& m, const torch::Tensor& step_loss);
  // Where checkpoints/last goes: the ModelCheckpoint's directory, else <run dir>/checkpoints.
  std::string last_checkpoint_dir() const;
  // SIGINT / SIGTERM arrived: save checkpoints/last, write the report, throw (exit 128 + signal).
  [[noreturn]] void stop_on_signal(int signal);
  // The NaN guard's verdict after too many non-finite steps in a row (throws, exit code 3).
  [[noreturn]] void stop_on_nonfinite(LightningModule& m);
  // "First non-finite weight: lm.h.0.attn.c_attn.weight (3 of 49152 values)." or the gradient's.
  std::string first_nonfinite(LightningModule& m) const;
  // The rest of the loop.
  void setup(LightningModule& m);
  void run_validation(LightningModule& m);
  using EvalStep = std::function<void(const Batch&, int64_t)>;
  // The first n batches of loader through `step`, without gradients, in the eval context; returns
  // the epoch means of what the steps logged (summed over ranks).
  std::map<std::string, double> evaluation_loop(LightningModule& m,
                                                const std::shared_ptr<DataLoader>& loader,
                                                int64_t n, const EvalStep& step);
  static int64_t limited_batches(const std::shared_ptr<DataLoader>& loader, double limit);
  void load_checkpoint(LightningModule& m, const std::string& dir);
  // trainer_state.json: the loop's counters, precision and callback state.
  nlohmann::json trainer_state_json() const;
  // fsdp: every rank writes shard-<r>-of-<n>.safetensors (its weights, optimizer state and RNG);
  // rank 0 adds config, tokenizer, fsdp_index.json and trainer_state.json; one commit.
  void save_sharded_checkpoint(const std::string& dir);
  // The gradients' 2-norm (and clipping to max_norm > 0) over every rank's shards.
  torch::Tensor clip_gradients(Optimizer& opt, double max_norm);
  void on_log(const std::string& name, const torch::Tensor& value, const LogOptions& options);
  void publish_step_metrics();
  void publish_train_epoch_metrics();
  void flush_step_metrics(bool force);
  void write_report() const;
  template <typename F>
  void each_callback(F&& f) {
    for (auto& c : callbacks_) f(*c);
  }

  TrainerOptions options_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  torch::Device device_{torch::kCPU};
  std::shared_ptr<PrecisionPlugin> precision_;
  int64_t skipped_steps_ = 0;
  int64_t nonfinite_steps_ = 0, nonfinite_streak_ = 0;
  std::string nonfinite_diagnosis_;  // the first non-finite parameter of the streak's first step
  Optimizers optimizers_;
  std::shared_ptr<DataLoader> train_loader_, val_loader_;
  std::unique_ptr<PrefetchLoader> train_batches_;  // train_loader_ behind its worker threads
  // Share of step time spent waiting for data: since the last log line, and for the whole run.
  double wait_window_ = 0, step_window_ = 0, wait_total_ = 0, step_total_ = 0;
  int64_t steps_window_ = 0;
  double warn_wait_ = 0, warn_step_ = 0;  // the same, without the first step after a (re)start
  bool warned_data_wait_ = false;
  LightningModule* module_ = nullptr;

  int64_t global_step_ = 0, epoch_ = 0, batch_in_epoch_ = 0;
  bool validating_ = false;
  bool fitting_ = false;
  int64_t last_validated_step_ = -1;
  std::chrono::steady_clock::time_point start_time_;
  double elapsed_before_ = 0;  // training seconds of earlier runs (resume)
  double tokens_per_sec_ = 0;

  // Metric aggregation.
  struct Mean {
    double sum = 0, weight = 0;
  };
  struct Weighted {
    std::vector<torch::Tensor> values;
    std::vector<double> weights;
  };
  std::map<std::string, Weighted> step_values_;    // this optimizer step, by micro-batch weight
  double micro_weight_ = 1.0;                      // the weight of values logged now
  std::map<std::string, Mean> epoch_means_;        // this validation epoch
  std::map<std::string, Mean> train_epoch_means_;  // this training epoch
  std::map<std::string, double> callback_metrics_, progress_metrics_, pending_log_;
  std::set<std::string> prog_bar_keys_;
  std::unique_ptr<CSVLogger> csv_;
  // Wall-clock measurements (step time, data wait, throughput) go to timings.csv, not
  // metrics.csv: they differ between two runs of one config, and metrics.csv must not.
  std::unique_ptr<CSVLogger> timings_csv_;
  std::string config_yaml_;
  // Single device, or data parallel (dist/): see train/strategy.h.
  std::shared_ptr<Strategy> strategy_;
  int64_t rank_ = 0, world_ = 1;
  std::unique_ptr<DirectoryLock> run_lock_;  // the run directory, while fit runs (rank 0)
};

}  // namespace volt

#include "volt/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>

#include "volt/core/atomic_file.h"
#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/core/cpu_runtime.h"
#include "volt/core/directory_lock.h"
#include "volt/core/seed.h"
#include "volt/core/signals.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/train/callbacks.h"
#include "volt/train/report.h"

namespace volt {

namespace fs = std::filesystem;

double parse_duration(const std::string& text) {
  if (text.find(':') == std::string::npos) {
    try {
      size_t used = 0;
      const double s = std::stod(text, &used);
      VOLT_CHECK(used == text.size() && s >= 0, "");
      return s;
    } catch (const std::exception&) {
      VOLT_FAIL("[trainer] max_time '", text, "' is neither seconds nor DD:HH:MM:SS");
    }
  }
  std::vector<double> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ':');) {
    try {
      parts.push_back(std::stod(p));
    } catch (const std::exception&) {
      VOLT_FAIL("[trainer] max_time '", text, "' is neither seconds nor DD:HH:MM:SS");
    }
  }
  VOLT_CHECK(parts.size() >= 2 && parts.size() <= 4, "[trainer] max_time '", text,
             "' is neither seconds nor DD:HH:MM:SS");
  const double unit[] = {86400, 3600, 60, 1};
  double total = 0;
  for (size_t i = 0; i < parts.size(); ++i) total += parts[i] * unit[4 - parts.size() + i];
  return total;
}

TrainerOptions trainer_options_from(ConfigSection& s) {
  TrainerOptions o;
  o.max_steps(s.get<int64_t>("max_steps", o.max_steps()));
  VOLT_CHECK(o.max_steps() >= -1, s.where("max_steps"),
             ": max_steps must be -1 (no limit), 0 (no training) or a "
             "number of steps, got ",
             o.max_steps());
  o.max_epochs(s.get<int64_t>("max_epochs", o.max_epochs()));
  if (s.has("max_time")) o.max_time(parse_duration(s.get<std::string>("max_time", "0")));
  s.mark("max_time");
  o.val_check_interval(s.get<int64_t>("val_check_interval", o.val_check_interval()));
  o.limit_val_batches(s.get<double>("limit_val_batches", o.limit_val_batches()));
  o.limit_test_batches(s.get<double>("limit_test_batches", o.limit_test_batches()));
  o.limit_predict_batches(s.get<double>("limit_predict_batches", o.limit_predict_batches()));
  o.log_every_n_steps(s.get<int64_t>("log_every_n_steps", o.log_every_n_steps()));
  o.accumulate_grad_batches(s.get<int64_t>("accumulate_grad_batches", o.accumulate_grad_batches()));
  o.gradient_clip_val(s.get<double>("gradient_clip_val", o.gradient_clip_val()));
  o.precision(s.get<std::string>("precision", o.precision()));
  o.master_weights(s.get<bool>("master_weights", o.master_weights()));
  o.tf32(s.get<bool>("tf32", o.tf32()));
  LossScalerOptions ls;
  ls.init_scale = s.get<double>("loss_scale_init", ls.init_scale);
  ls.growth_interval = s.get<int64_t>("loss_scale_growth_interval", ls.growth_interval);
  o.loss_scaler(ls);
  o.seed(s.get<int64_t>("seed", o.seed()));
  o.default_root_dir(s.get<std::string>("default_root_dir", o.default_root_dir()));
  o.accelerator(s.get<std::string>("accelerator", o.accelerator()));
  o.num_threads(s.get<int64_t>("num_threads", o.num_threads()));
  o.enable_progress_bar(s.get<bool>("enable_progress_bar", o.enable_progress_bar()));
  o.enable_checkpointing(s.get<bool>("enable_checkpointing", o.enable_checkpointing()));
  o.enable_model_summary(s.get<bool>("enable_model_summary", o.enable_model_summary()));
  o.logger(s.get<bool>("logger", o.logger()));
  o.handle_signals(s.get<bool>("handle_signals", o.handle_signals()));
  o.max_nonfinite_steps(s.get<int64_t>("max_nonfinite_steps", o.max_nonfinite_steps()));
  o.strategy(s.get<std::string>("strategy", o.strategy()));
  o.devices(s.get<int64_t>("devices", o.devices()));
  return o;
}

Trainer::Trainer(TrainerOptions options, std::vector<std::shared_ptr<Callback>> callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)) {
  VOLT_CHECK(options_.max_steps() >= -1,
             "[trainer] max_steps must be -1 (no limit), 0 (no training) or a "
             "number of steps, got ",
             options_.max_steps());
  VOLT_CHECK(options_.max_epochs() >= -1, "[trainer] max_epochs must be -1 (unset) or >= 0, got ",
             options_.max_epochs());
  VOLT_CHECK(options_.accumulate_grad_batches() >= 1,
             "[trainer] accumulate_grad_batches must be >= 1, got ",
             options_.accumulate_grad_batches());
  VOLT_CHECK(options_.log_every_n_steps() >= 1, "[trainer] log_every_n_steps must be >= 1, got ",
             options_.log_every_n_steps());
  VOLT_CHECK(options_.gradient_clip_val() >= 0, "[trainer] gradient_clip_val must be >= 0, got ",
             options_.gradient_clip_val());
  VOLT_CHECK(options_.val_check_interval() >= 0, "[trainer] val_check_interval must be >= 0, got ",
             options_.val_check_interval());
  VOLT_CHECK(options_.limit_val_batches() >= 0, "[trainer] limit_val_batches must be >= 0, got ",
             options_.limit_val_batches());
  VOLT_CHECK(options_.max_nonfinite_steps() >= 0,
             "[trainer] max_nonfinite_steps must be >= 0, got ", options_.max_nonfinite_steps());
  const auto& st = options_.strategy();
  VOLT_CHECK(st == "auto" || st == "single" || st == "ddp" || st == "fsdp", "[trainer] strategy '",
             st, "' is not one of auto, single, ddp, fsdp");
  VOLT_CHECK((st != "ddp" && st != "fsdp") || options_.strategy_plugin(), "[trainer] strategy ", st,
             " needs the "
             "strategy object: TrainerOptions().strategy_plugin(std::make_shared<dist::",
             st == "ddp" ? "DDPStrategy" : "FSDPStrategy", ">()) (volt fit makes it)");
  VOLT_CHECK(options_.devices() >= 1, "[trainer] devices must be >= 1, got ", options_.devices());
  const auto& a = options_.accelerator();
  VOLT_CHECK(a == "auto" || a == "cpu" || a == "cuda", "[trainer] accelerator '", a,
             "' is not known (auto, cpu, cuda)");
  if (a == "cuda")
    VOLT_CHECK(compat::cuda_available(),
               "[trainer] accelerator 'cuda' asked for, but no GPU is available");
  device_ = (a == "cuda" || (a == "auto" && compat::cuda_available())) ? torch::Device(torch::kCUDA)
                                                                       : torch::Device(torch::kCPU);
  strategy_ =
      options_.strategy_plugin() ? options_.strategy_plugin() : std::make_shared<Strategy>();
  if (options_.precision_plugin()) {
    precision_ = options_.precision_plugin();
  } else {
    PrecisionOptions po;
    po.master_weights = options_.master_weights();
    po.scaler = options_.loss_scaler();
    precision_ = make_precision_plugin(options_.precision(), device_.type(), po);
  }
  if (device_.is_cuda()) compat::set_allow_tf32(options_.tf32());
}

int64_t Trainer::max_steps() const {
  if (options_.max_steps() > 0) return options_.max_steps();
  const int64_t epochs = options_.max_epochs() > 0 ? options_.max_epochs() : 1000;
  const int64_t per_epoch =
      train_loader_ ? train_loader_->size() / options_.accumulate_grad_batches() : 0;
  return epochs * per_epoch;
}

double Trainer::elapsed_seconds() const {
  return elapsed_before_ +
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
}

void Trainer::print(const std::string& line) const {
  if (!is_global_zero()) return;  // one voice for the whole group
  for (const auto& c : callbacks_) {
    if (auto* bar = dynamic_cast<ProgressBarCallback*>(c.get())) {
      bar->write_line(line);
      return;
    }
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Trainer::setup(LightningModule& m) {
  configure_cpu_threads(options_.num_threads());
  module_ = &m;
  m.to(device_);
  precision_->convert_module(m);
  m.attach(this, [this](const std::string& n, const torch::Tensor& v, const LogOptions& o) {
    on_log(n, v, o);
  });
}

void Trainer::on_log(const std::string& name, const torch::Tensor& value, const LogOptions& o) {
  if (o.prog_bar) prog_bar_keys_.insert(name);
  const bool on_epoch = o.on_epoch.value_or(validating_);
  const bool on_step = o.on_step.value_or(!validating_);
  if (validating_ || on_epoch) {
    auto& mean = validating_ ? epoch_means_[name] : train_epoch_means_[name];
    mean.sum += value.to(torch::kFloat64).item<double>() * static_cast<double>(o.batch_size);
    mean.weight += static_cast<double>(o.batch_size);
  }
  if (!validating_ && on_step) {
    auto& w = step_values_[name];
    w.values.push_back(value);
    w.weights.push_back(micro_weight_);
  }
}

void Trainer::log_metrics(const std::map<std::string, double>& metrics) {
  for (const auto& [k, v] : metrics) {
    pending_log_[k] = v;
    callback_metrics_[k] = v;
  }
}

void Trainer::publish_step_metrics() {
  // Micro-batch values of this optimizer step are averaged into one number per metric, visible to
  // this step's callbacks (on_train_batch_end, ModelCheckpoint's monitor, the progress bar).
  // Across ranks (ddp): the same weighted mean over every rank's micro-batches.
  std::vector<double> parts;
  for (auto& [name, w] : step_values_) {
    const auto values = torch::stack(w.values).to(torch::kFloat64).reshape({-1});
    const auto weights = torch::tensor(w.weights, torch::kFloat64);
    parts.push_back((values * weights).sum().item<double>());
    parts.push_back(weights.sum().item<double>());
    parts.push_back(values.sum().item<double>());
    parts.push_back(static_cast<double>(values.numel()));
  }
  parts = strategy_->sum_over_ranks(parts);
  size_t at = 0;
  for (auto& [name, w] : step_values_) {
    // Weighted by each micro-batch's share of the step: the step's loss, as if one batch.
    const double weighted = parts[at], total = parts[at + 1], plain = parts[at + 2],
                 count = parts[at + 3];
    at += 4;
    const double v = total > 0 ? weighted / total : plain / count;
    callback_metrics_[name] = v;
    if (prog_bar_keys_.count(name)) progress_metrics_[name] = v;
    pending_log_[name] = v;
  }
  step_values_.clear();
}

void Trainer::publish_train_epoch_metrics() {
  // Values logged in training_step with on_epoch=true: their mean over the epoch.
  std::map<std::string, double> means;
  for (const auto& [name, mean] : train_epoch_means_) {
    means[name] = mean.sum / std::max(mean.weight, 1e-12);
  }
  train_epoch_means_.clear();
  log_metrics(means);
}

void Trainer::flush_step_metrics(bool force) {
  publish_step_metrics();
  const bool log_now = force || global_step_ % options_.log_every_n_steps() == 0;
  if (log_now && step_window_ > 0) {
    // The share of step time spent waiting for the next batch (the GPU starving, on a GPU).
    const double share = wait_window_ / step_window_;
    callback_metrics_["data_wait"] = share;
    if (timings_csv_) {
      timings_csv_->log(global_step_, epoch_,
                        {{"data_wait", share},
                         {"step_seconds", step_window_ / static_cast<double>(steps_window_)},
                         {"tokens_per_sec", tokens_per_sec_}});
      timings_csv_->flush();
    }
    const double steady = warn_step_ > 0 ? warn_wait_ / warn_step_ : 0.0;
    warn_wait_ = warn_step_ = 0;
    if (steady > 0.10 && !warned_data_wait_) {
      warned_data_wait_ = true;
      print(str("[trainer] warning: ", std::round(1000.0 * steady) / 10.0,
                "% of step time went to "
                "waiting for data (loader workers: ",
                train_loader_->num_workers(),
                "). Give the "
                "loader more workers (data.num_workers) or prefetch (data.prefetch_factor), or "
                "tokenize ahead of time (volt data prepare)."));
    }
    wait_window_ = step_window_ = 0;
    steps_window_ = 0;
  }
  if (log_now && csv_ && !pending_log_.empty()) {
    csv_->log(global_step_, epoch_, pending_log_);
    csv_->flush();
  }
  if (log_now) pending_log_.clear();
}

torch::Tensor Trainer::forward_backward(LightningModule& m, const Batch& batch, int64_t batch_idx,
                                        double weight) {
  torch::Tensor loss;
  {
    const auto autocast = precision_->forward_context(device_.type());
    loss = m.training_step(batch, batch_idx);
  }
  VOLT_CHECK(loss.defined() && loss.numel() == 1,
             "[trainer] training_step must return a scalar loss");
  // The loss is a mean over this micro-batch's loss_weight units (target tokens); times its share
  // of the step's units, the micro-batches' gradients add up to the gradient of the mean over
  // every unit of the step, exactly as one batch holding them all.
  auto scaled = weight != 1.0 ? loss * weight : loss;
  each_callback([&](Callback& c) { c.on_before_backward(*this, m, scaled); });
  precision_->scale_loss(scaled).backward();
  each_callback([&](Callback& c) { c.on_after_backward(*this, m); });
  return loss.detach();
}

torch::Tensor Trainer::optimizer_step(LightningModule& m, const torch::Tensor& step_loss) {
  auto& opt = *optimizers_.optimizer;
  each_callback([&](Callback& c) { c.on_before_optimizer_step(*this, m); });
  if (optimizers_.scheduler) optimizers_.scheduler->apply(opt, global_step_);
  // Unscale before clipping, so the clip threshold applies to the true gradient. With a loss
  // scaler, non-finite gradients are its overflow signal (skip, back off): routine, not a fault.
  const bool scaled_ok = precision_->unscale_gradients(opt);
  bool guard_ok = true;
  if (options_.max_nonfinite_steps() > 0) {
    const bool loss_ok = !step_loss.defined() || std::isfinite(step_loss.item<double>());
    bool grads_ok = precision_->scaler() != nullptr || all_finite(opt.flat_grads());
    if (strategy_->shards_parameters())
      grads_ok = strategy_->sum_over_ranks({grads_ok ? 0.0 : 1.0})[0] == 0.0;
    guard_ok = loss_ok && grads_ok;
  }
  const bool finite = scaled_ok && guard_ok;
  torch::Tensor norm;
  if (finite && options_.gradient_clip_val() > 0)
    norm = clip_gradients(opt, options_.gradient_clip_val());
  if (finite) {
    opt.step();
  } else {
    ++skipped_steps_;  // the weights and the optimizer state stay as they were
  }
  if (guard_ok) {
    nonfinite_streak_ = 0;
  } else {
    ++nonfinite_steps_;
    if (nonfinite_streak_++ == 0) {
      const bool loss_ok = !step_loss.defined() || std::isfinite(step_loss.item<double>());
      nonfinite_diagnosis_ = (loss_ok ? "" : "The loss is not finite. ") + first_nonfinite(m);
    }
    print(str("[trainer] step ", global_step_ + 1,
              ": the loss or a gradient is not finite; step skipped (", nonfinite_streak_,
              " in a row, ", nonfinite_steps_, " in all). ", nonfinite_diagnosis_));
    log_metrics({{"nonfinite_steps", static_cast<double>(nonfinite_steps_)}});
  }
  precision_->update(!scaled_ok);
  if (const auto* scaler = precision_->scaler()) {
    log_metrics({{"loss_scale", scaler->scale_value()},
                 {"skipped_steps", static_cast<double>(skipped_steps_)}});
  }
  opt.zero_grad();
  return norm;
}

torch::Tensor Trainer::clip_gradients(Optimizer& opt, double max_norm) {
  if (!strategy_->shards_parameters()) return clip_grad_norm(opt.flat_grads(), max_norm);
  // Each rank holds a disjoint part of the gradient: ||g||^2 is the sum of the ranks' parts.
  return clip_grad_norm(opt.flat_grads(), max_norm,
                        [this](double sq) { return strategy_->sum_over_ranks({sq})[0]; });
}

int64_t Trainer::limited_batches(const std::shared_ptr<DataLoader>& loader, double limit) {
  if (!loader || loader->size() == 0) return 0;
  return limit > 1.0 ? std::min<int64_t>(static_cast<int64_t>(limit), loader->size())
                     : static_cast<int64_t>(limit * static_cast<double>(loader->size()));
}

std::map<std::string, double> Trainer::evaluation_loop(LightningModule& m,
                                                       const std::shared_ptr<DataLoader>& loader,
                                                       int64_t n, const EvalStep& step) {
  validating_ = true;
  epoch_means_.clear();
  m.eval();
  strategy_->begin_eval();
  // Data parallel: rank r evaluates batches r, r + N, ... and the sums are added up below (with
  // fewer batches than ranks, every rank evaluates all of them and nothing is added). fsdp's
  // ranks run every forward together, so there they split the batches only evenly.
  const bool lockstep = strategy_->shards_parameters();
  const bool shard = world_ > 1 && n >= world_ && (!lockstep || n % world_ == 0);
  {
    torch::NoGradGuard no_grad;
    const auto autocast = precision_->forward_context(device_.type());
    PrefetchLoader batches(loader, loader->num_workers(), loader->prefetch_factor(),
                           device_.is_cuda());
    batches.start(0, 0);
    for (int64_t i = 0; i < n; ++i) {
      const Batch next = batches.next();
      if (shard && i % world_ != rank_) continue;
      step(next.to(device_, true), i);
    }
  }
  strategy_->end_eval();
  m.train();
  validating_ = false;
  if (shard) {  // every rank logged the same names (each ran a batch at least)
    std::vector<double> parts;
    for (const auto& [name, mean] : epoch_means_)
      parts.push_back(mean.sum), parts.push_back(mean.weight);
    parts = strategy_->sum_over_ranks(parts);
    size_t at = 0;
    for (auto& [name, mean] : epoch_means_) mean.sum = parts[at++], mean.weight = parts[at++];
  }
  std::map<std::string, double> results;
  for (const auto& [name, mean] : epoch_means_)
    results[name] = mean.sum / std::max(mean.weight, 1e-12);
  epoch_means_.clear();
  return results;
}

void Trainer::run_validation(LightningModule& m) {
  const int64_t n = limited_batches(val_loader_, options_.limit_val_batches());
  if (n == 0) return;
  each_callback([&](Callback& c) { c.on_validation_start(*this, m); });
  last_validated_step_ = global_step_;
  const auto results = evaluation_loop(m, val_loader_, n, [&](const Batch& batch, int64_t i) {
    m.validation_step(batch, i);
    each_callback([&](Callback& c) { c.on_validation_batch_end(*this, m, batch, i); });
  });
  log_metrics(results);
  for (const auto& [k, v] : results) {
    if (prog_bar_keys_.count(k)) progress_metrics_[k] = v;
  }
  each_callback([&](Callback& c) { c.on_validation_end(*this, m); });
}

void Trainer::fit(LightningModule& m, LightningDataModule& data, const std::string& ckpt_path) {
  data.prepare_data();
  data.setup("fit");
  train_loader_ = data.train_dataloader();
  val_loader_ = data.val_dataloader();
  VOLT_CHECK(train_loader_ && train_loader_->size() > 0, "[trainer] the train dataloader is empty");
  const int64_t acc = options_.accumulate_grad_batches();
  VOLT_CHECK(train_loader_->size() >= acc, "[trainer] the train dataloader has ",
             train_loader_->size(), " batches, fewer than accumulate_grad_batches = ", acc);
  if (options_.max_steps() == 0) {  // Lightning's max_steps=0: the loop has nothing to do
    print("[trainer] max_steps=0: nothing to train");
    return;
  }
  // Seeds the training streams (dropout); seed the weights with seed_everything() before building
  // the module, as the CLI does.
  seed_everything(static_cast<uint64_t>(options_.seed()));
  fitting_ = true;
  setup(m);
  // The strategy before the optimizer: ddp gives every rank rank 0's weights first; fsdp shards
  // the weights, and the optimizer gets the shards.
  strategy_->setup(m);
  VOLT_CHECK(!strategy_->shards_parameters() || precision_->scaler() == nullptr,
             "[trainer] strategy ", strategy_->name(), " with precision ", precision_->name(),
             ": the loss scaler's overflow check is "
             "per rank; use bf16-mixed (no loss scaling needed)");
  rank_ = strategy_->rank(), world_ = strategy_->world_size();
  train_loader_ = strategy_->wrap_train_loader(train_loader_);
  if (device_.is_cpu() && options_.enable_progress_bar())
    print(str("volt: ", cpu_runtime_summary()));
  optimizers_ = m.configure_optimizers();
  VOLT_CHECK(optimizers_.optimizer, "[trainer] configure_optimizers returned no optimizer");
  strategy_->check_optimizer(*optimizers_.optimizer);
  precision_->connect_optimizer(*optimizers_.optimizer);

  // Lightning's defaults: a checkpoint callback and a progress bar unless turned off or given.
  auto has = [&](auto* probe) {
    using T = std::remove_pointer_t<decltype(probe)>;
    for (auto& c : callbacks_)
      if (dynamic_cast<T*>(c.get())) return true;
    return false;
  };
  if (options_.enable_checkpointing() && !has(static_cast<ModelCheckpoint*>(nullptr))) {
    callbacks_.push_back(
        std::make_shared<ModelCheckpoint>());  // Lightning's: monitor none, the newest kept
  }
  if (options_.enable_model_summary() && !has(static_cast<ModelSummary*>(nullptr))) {
    callbacks_.insert(callbacks_.begin(), std::make_shared<ModelSummary>());
  }
  if (options_.enable_progress_bar() && !has(static_cast<ProgressBarCallback*>(nullptr))) {
    callbacks_.push_back(std::make_shared<ProgressBarCallback>());
  }

  if (!is_global_zero()) {  // only rank 0 logs, draws progress and writes checkpoints
    // (fsdp: every rank writes its shard of each checkpoint, so every rank keeps ModelCheckpoint)
    const bool sharded = strategy_->shards_parameters();
    callbacks_.erase(
        std::remove_if(callbacks_.begin(), callbacks_.end(),
                       [sharded](const std::shared_ptr<Callback>& c) {
                         return (!sharded && dynamic_cast<ModelCheckpoint*>(c.get()) != nullptr) ||
                                dynamic_cast<ProgressBarCallback*>(c.get()) != nullptr ||
                                dynamic_cast<ModelSummary*>(c.get()) != nullptr;
                       }),
        callbacks_.end());
  }
  fs::create_directories(run_dir());
  // One process writes a run directory at a time (rank 0 for the group); held until fit returns.
  if (is_global_zero()) run_lock_ = std::make_unique<DirectoryLock>(run_dir(), "run directory");
  if (options_.logger() && is_global_zero()) {
    csv_ = std::make_unique<CSVLogger>((fs::path(run_dir()) / "metrics.csv").string());
    timings_csv_ = std::make_unique<CSVLogger>((fs::path(run_dir()) / "timings.csv").string());
    if (!config_yaml_.empty())
      io::write_file_atomic((fs::path(run_dir()) / "config.yaml").string(), config_yaml_);
  }
  if (!ckpt_path.empty()) load_checkpoint(m, ckpt_path);

  // Ctrl-C and SIGTERM finish the step and save before stopping (see stop_on_signal).
  std::optional<SignalGuard> signals;
  if (options_.handle_signals()) signals.emplace();
  start_time_ = std::chrono::steady_clock::now();
  m.train();
  each_callback([&](Callback& c) { c.on_fit_start(*this, m); });
  each_callback([&](Callback& c) { c.on_train_start(*this, m); });

  const int64_t steps_limit = max_steps();
  const int64_t epochs_limit = options_.max_epochs() > 0  ? options_.max_epochs()
                               : options_.max_steps() > 0 ? std::numeric_limits<int64_t>::max()
                                                          : 1000;
  auto done = [&] {
    return should_stop || global_step_ >= steps_limit || epoch_ >= epochs_limit ||
           (options_.max_time() > 0 && elapsed_seconds() >= options_.max_time());
  };
  double tokens_ema = 0;
  train_batches_ =
      std::make_unique<PrefetchLoader>(train_loader_, train_loader_->num_workers(),
                                       train_loader_->prefetch_factor(), device_.is_cuda());
  while (!done()) {
    if (batch_in_epoch_ == 0) each_callback([&](Callback& c) { c.on_train_epoch_start(*this, m); });
    train_batches_->start(epoch_, batch_in_epoch_);
    bool first_step_of_loader = true;
    while (batch_in_epoch_ + acc <= train_loader_->size() && !done()) {
      const auto t0 = std::chrono::steady_clock::now();
      const double wait0 = train_batches_->wait_seconds();
      int64_t tokens = 0;
      torch::Tensor loss;
      // The step's micro-batches first: each one's share of the loss needs the step's total.
      std::vector<Batch> micro;
      std::vector<double> weights;
      double total_weight = 0;
      for (int64_t k = 0; k < acc; ++k) {
        micro.push_back(train_batches_->next().to(device_, true));
        weights.push_back(m.loss_weight(micro.back()));
        VOLT_CHECK(weights.back() >= 0 && std::isfinite(weights.back()),
                   "[trainer] loss_weight of batch ", batch_in_epoch_ + k, " is ", weights.back(),
                   ": it must be finite and >= 0");
        total_weight += weights.back();
      }
      if (world_ > 1)
        total_weight = strategy_->sum_over_ranks({total_weight})[0];  // the global batch's units
      const Batch& first = micro.front();
      strategy_->begin_step();
      each_callback([&](Callback& c) { c.on_train_batch_start(*this, m, first, batch_in_epoch_); });
      torch::Tensor step_loss;  // the weighted sum of the micro-batch losses: the step's loss
      for (int64_t k = 0; k < acc; ++k) {
        // ddp: only the step's last backward all-reduces (the others accumulate locally: no_sync).
        strategy_->before_backward(k == acc - 1);
        // A micro-batch without a single target contributes nothing (and its mean loss is 0/0).
        VOLT_CHECK(weights[k] > 0 || !strategy_->shards_parameters() || total_weight == 0,
                   "[trainer] step ", global_step_ + 1, ": micro-batch ", k, " on rank ", rank_,
                   " has no target tokens; under ", strategy_->name(),
                   " every rank must run every forward (pack the data, or drop empty rows)");
        if (weights[k] > 0) {
          micro_weight_ = weights[k];
          loss = forward_backward(m, micro[k], batch_in_epoch_, weights[k] / total_weight);
          const auto part = loss * (weights[k] / total_weight);
          step_loss = step_loss.defined() ? step_loss + part : part;
        }
        tokens += m.tokens_in(micro[k]);
        ++batch_in_epoch_;
      }
      micro_weight_ = 1.0;
      strategy_->finish_gradients();
      double signaled_ranks = 0;  // ranks with a SIGINT / SIGTERM pending, agreed on with the loss
      if (world_ > 1) {           // each rank's loss is its share of the global batch's
        const double local = step_loss.defined() ? step_loss.item<double>() : 0.0;
        const auto sums =
            strategy_->sum_over_ranks({local, signals && SignalGuard::pending() != 0 ? 1.0 : 0.0,
                                       static_cast<double>(tokens)});
        step_loss = torch::tensor(sums[0], torch::kFloat64);
        signaled_ranks = sums[1];
        tokens = static_cast<int64_t>(sums[2]);  // throughput counts every rank's tokens
      }
      if (!loss.defined()) loss = torch::full({}, std::nan(""));  // a step with no targets at all
      torch::Tensor grad_norm;
      if (total_weight > 0) {
        grad_norm = optimizer_step(m, step_loss);
      } else {  // nothing to learn from: no step, no decay, no moment update
        optimizers_.optimizer->zero_grad();
        ++skipped_steps_;
      }
      ++global_step_;
      const double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double tps = static_cast<double>(tokens) / std::max(dt, 1e-9);
      tokens_ema = tokens_ema == 0 ? tps : 0.9 * tokens_ema + 0.1 * tps;
      tokens_per_sec_ = tokens_ema;
      const double waited = train_batches_->wait_seconds() - wait0;
      wait_total_ += waited, step_total_ += dt;
      wait_window_ += waited, step_window_ += dt;
      ++steps_window_;
      // The first step after the workers (re)start finds an empty queue: that wait is the
      // pipeline filling, not starvation, so it is logged but does not decide the warning.
      if (!first_step_of_loader) warn_wait_ += waited, warn_step_ += dt;
      first_step_of_loader = false;
      if (grad_norm.defined()) {
        step_values_["grad_norm"].values.push_back(grad_norm);
        step_values_["grad_norm"].weights.push_back(1.0);
      }
      publish_step_metrics();
      each_callback(
          [&](Callback& c) { c.on_train_batch_end(*this, m, loss, first, batch_in_epoch_ - 1); });
      const bool validate_now =
          options_.val_check_interval() > 0 && global_step_ % options_.val_check_interval() == 0;
      if (validate_now) run_validation(m);
      flush_step_metrics(validate_now);
      if (options_.max_nonfinite_steps() > 0 &&
          nonfinite_streak_ >= options_.max_nonfinite_steps()) {
        stop_on_nonfinite(m);
      }
      if (signals) {
        // Every rank stops after the same step (a signal may reach the ranks a step apart): several
        // ranks go by what they agreed on above; a signal that came since waits for the next step.
        int sig = SignalGuard::pending();
        if (world_ > 1) sig = signaled_ranks > 0 ? (sig != 0 ? sig : SIGTERM) : 0;
        if (sig != 0) stop_on_signal(sig);
      }
    }
    if (batch_in_epoch_ + acc > train_loader_->size()) {  // the epoch is complete
      publish_train_epoch_metrics();
      // A run resumed from the checkpoint this very validation wrote must not repeat it.
      if (options_.val_check_interval() == 0 && last_validated_step_ != global_step_) {
        run_validation(m);
        flush_step_metrics(true);
      }
      each_callback([&](Callback& c) { c.on_train_epoch_end(*this, m); });
      ++epoch_;
      batch_in_epoch_ = 0;
    }
  }
  train_batches_.reset();  // stop the workers
  flush_step_metrics(true);
  if (step_total_ > 0 && options_.enable_progress_bar()) {
    char share[32];
    std::snprintf(share, sizeof share, "%.2f%%", 100.0 * wait_total_ / step_total_);
    print(str("Data wait: ", share, " of step time over the run"));
  }
  each_callback([&](Callback& c) { c.on_train_end(*this, m); });
  each_callback([&](Callback& c) { c.on_fit_end(*this, m); });
  strategy_->teardown(m);  // fsdp: the trained weights gathered back into the module
  if (csv_) {
    csv_->flush();
    write_report();
  }
  fitting_ = false;
  run_lock_.reset();
}

std::map<std::string, double> Trainer::validate(LightningModule& m, LightningDataModule& data) {
  data.prepare_data();
  data.setup("validate");
  val_loader_ = data.val_dataloader();
  VOLT_CHECK(val_loader_ && val_loader_->size() > 0,
             "[trainer] the validation dataloader is empty");
  setup(m);
  run_validation(m);
  std::map<std::string, double> out;
  for (const auto& [k, v] : pending_log_) out[k] = v;
  pending_log_.clear();
  return out;
}

std::map<std::string, double> Trainer::test(LightningModule& m, LightningDataModule& data) {
  data.prepare_data();
  data.setup("test");
  const auto loader = data.test_dataloader();
  VOLT_CHECK(loader && loader->size() > 0,
             "[trainer] the test dataloader is empty (a data module with a test "
             "split: data.module llm with data.test_fraction > 0)");
  setup(m);
  return evaluation_loop(m, loader, limited_batches(loader, options_.limit_test_batches()),
                         [&](const Batch& batch, int64_t i) { m.test_step(batch, i); });
}

std::vector<torch::Tensor> Trainer::predict(LightningModule& m, LightningDataModule& data) {
  data.prepare_data();
  data.setup("predict");
  const auto loader = data.predict_dataloader();
  VOLT_CHECK(loader && loader->size() > 0, "[trainer] the predict dataloader is empty");
  setup(m);
  std::vector<torch::Tensor> out;
  evaluation_loop(
      m, loader, limited_batches(loader, options_.limit_predict_batches()),
      [&](const Batch& batch, int64_t i) { out.push_back(m.predict_step(batch, i).cpu()); });
  return out;
}

void Trainer::write_report() const {
  try {
    write_run_report(run_dir());
  } catch (const std::exception& e) {
    print(str("[report] could not write the report: ", e.what()));
  }
}

std::string Trainer::last_checkpoint_dir() const {
  for (const auto& c : callbacks_) {
    if (auto* mc = dynamic_cast<ModelCheckpoint*>(c.get()))
      return (fs::path(mc->dirpath(*this)) / "last").string();
  }
  return (fs::path(run_dir()) / "checkpoints" / "last").string();
}

void Trainer::stop_on_signal(int signal) {
  const std::string dir = last_checkpoint_dir();
  print(str("[trainer] ", SignalGuard::name(signal), ": finishing at step ", global_step_,
            ", saving ", dir));
  save_checkpoint(dir);
  train_batches_.reset();
  flush_step_metrics(true);
  if (csv_) write_report();
  fitting_ = false;
  run_lock_.reset();
  throw Error(str("[trainer] ", SignalGuard::name(signal), ": stopped after step ", global_step_,
                  "; checkpoint "
                  "saved to ",
                  dir, " (resume with --ckpt_path ", dir, ")"),
              128 + signal);
}

void Trainer::stop_on_nonfinite(LightningModule& m) {
  train_batches_.reset();
  flush_step_metrics(true);
  if (csv_) write_report();
  fitting_ = false;
  run_lock_.reset();
  const std::string last = last_checkpoint_dir();
  throw Error(
      str("[trainer] stopped: ", nonfinite_streak_, " steps in a row (to step ", global_step_,
          ") had a non-finite loss or gradient; each was skipped, so the weights are those of "
          "step ",
          global_step_ - nonfinite_streak_, ". ", nonfinite_diagnosis_, " The last checkpoint ",
          fs::exists(last) ? "(" + last + ") is intact. " : "was not written over. ",
          "HINT: lower optimizer.lr or raise scheduler.warmup_steps, set "
          "trainer.gradient_clip_val, "
          "use bf16-mixed rather than 16-mixed, and check the data for broken rows."),
      3);
}

std::string Trainer::first_nonfinite(LightningModule& m) const {
  torch::NoGradGuard no_grad;
  // Registration order is forward order: the first hit is the earliest layer involved. Sharded
  // (fsdp): this rank's shards, which the optimizer holds under the parameters' names.
  std::vector<std::pair<std::string, torch::Tensor>> named;
  if (strategy_->shards_parameters() && optimizers_.optimizer) {
    for (const auto& g : optimizers_.optimizer->param_groups()) {
      for (size_t i = 0; i < g.params.size(); ++i) named.emplace_back(g.names[i], g.params[i]);
    }
  } else {
    for (const auto& kv : m.named_parameters()) named.emplace_back(kv.key(), kv.value());
  }
  for (const auto& [name, p] : named) {
    const int64_t bad = p.isfinite().logical_not().sum().item<int64_t>();
    if (bad > 0) {
      return str("First non-finite weight: ", name, " (", bad, " of ", p.numel(), " values).");
    }
  }
  for (const auto& [name, p] : named) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    const int64_t bad = g.isfinite().logical_not().sum().item<int64_t>();
    if (bad > 0) {
      return str("First non-finite gradient: ", name, " (", bad, " of ", g.numel(),
                 " values); every weight is finite.");
    }
  }
  return "Every weight and gradient is finite: the loss itself is not (a broken batch, or a log of "
         "0).";
}

nlohmann::json Trainer::trainer_state_json() const {
  nlohmann::json state;
  state["global_step"] = global_step_;
  state["epoch"] = epoch_;
  state["batch_in_epoch"] = batch_in_epoch_;
  state["last_validated_step"] = last_validated_step_;
  state["elapsed_seconds"] = elapsed_seconds();
  state["optimizer"] = optimizers_.optimizer->name();
  state["precision"] = precision_->name();
  nlohmann::json precision_state = nlohmann::json::object();
  precision_->state_dict(precision_state);
  state["precision_state"] = precision_state;
  state["skipped_steps"] = skipped_steps_;
  state["nonfinite_steps"] = nonfinite_steps_;
  state["accumulate_grad_batches"] = options_.accumulate_grad_batches();
  state["strategy"] = strategy_->name();
  state["world_size"] = world_;
  nlohmann::json cbs = nlohmann::json::object();
  for (const auto& c : callbacks_) {
    nlohmann::json s = nlohmann::json::object();
    c->state_dict(s);
    if (!s.empty()) cbs[c->name()] = s;
  }
  state["callbacks"] = cbs;
  return state;
}

// The optimizer state and the RNG streams: what trainer_state.safetensors (or a rank's shard)
// holds.
static std::vector<std::pair<std::string, torch::Tensor>> loop_tensors(
    const Optimizer& opt, const torch::Device& device) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [k, v] : opt.state_tensors()) tensors.emplace_back("optimizer." + k, v);
  tensors.emplace_back("rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (device.is_cuda())
    tensors.emplace_back("rng.cuda", at::globalContext().defaultGenerator(device).get_state());
  return tensors;
}

void Trainer::save_checkpoint(const std::string& dir) {
  VOLT_CHECK(module_ && optimizers_.optimizer, "[checkpoint] nothing to save before fit() starts");
  if (strategy_->shards_parameters()) return save_sharded_checkpoint(dir);
  if (!is_global_zero()) return;  // ddp: every rank holds the same state; rank 0 writes it
  fs::create_directories(fs::path(dir).parent_path());
  StagedDirectory staged(dir);  // a kill -9 at any moment leaves the previous checkpoint whole
  const fs::path tmp(staged.staging_path());
  module_->save_pretrained(tmp.string());
  io::save_safetensors((tmp / "trainer_state.safetensors").string(),
                       loop_tensors(*optimizers_.optimizer, device_));
  io::write_json((tmp / "trainer_state.json").string(), trainer_state_json());
  staged.commit();
}

void Trainer::save_sharded_checkpoint(const std::string& dir) {
  // Rank 0 opens the staging directory, every rank writes its shard into it, rank 0 commits:
  // a kill at any moment leaves the previous checkpoint whole, as for one process.
  std::optional<StagedDirectory> staged;
  if (is_global_zero()) {
    fs::create_directories(fs::path(dir).parent_path());
    staged.emplace(dir);
  }
  strategy_->barrier();
  const fs::path tmp(StagedDirectory::staging_path_for(dir));
  auto tensors = strategy_->shard_state();
  for (auto& kv : loop_tensors(*optimizers_.optimizer, device_)) tensors.push_back(std::move(kv));
  io::save_safetensors((tmp / shard_file_name(rank_, world_)).string(), tensors);
  strategy_->barrier();
  if (is_global_zero()) {
    module_->save_pretrained_metadata(tmp.string());
    io::write_json((tmp / "fsdp_index.json").string(), strategy_->shard_index());
    io::write_json((tmp / "trainer_state.json").string(), trainer_state_json());
    staged->commit();
  }
  strategy_->barrier();
}

void Trainer::load_checkpoint(LightningModule& m, const std::string& path) {
  std::string dir = path;
  if (path == "last") dir = last_checkpoint_dir();
  VOLT_CHECK(fs::is_directory(dir), "[checkpoint] ", dir, ": no such checkpoint directory");
  const auto state_path = (fs::path(dir) / "trainer_state.json").string();
  VOLT_CHECK(fs::exists(state_path), "[checkpoint] ", dir,
             ": no trainer_state.json (a model directory, not a resumable checkpoint)");
  const bool sharded = fs::exists(fs::path(dir) / "fsdp_index.json");
  std::string tensor_file = (fs::path(dir) / "trainer_state.safetensors").string();
  if (sharded) {
    const auto index = io::read_json((fs::path(dir) / "fsdp_index.json").string());
    const int64_t saved_world = index.value("world_size", int64_t{0});
    VOLT_CHECK(strategy_->shards_parameters(), "[checkpoint] ", dir,
               " is a sharded (fsdp) checkpoint of ", saved_world,
               " ranks: resume it with trainer.strategy=fsdp, or consolidate it first with "
               "volt convert --in ",
               dir, " --out DIR");
    VOLT_CHECK(saved_world == world_, "[checkpoint] ", dir, " was written by ", saved_world,
               " ranks; this run has ", world_,
               " (resume at the same world size, or consolidate it with volt "
               "convert and start from model.from_pretrained)");
    tensor_file = (fs::path(dir) / shard_file_name(rank_, world_)).string();
  } else {
    VOLT_CHECK(!strategy_->shards_parameters(), "[checkpoint] ", dir,
               " is a full checkpoint; under strategy ", strategy_->name(),
               " a run resumes only from its own sharded checkpoints (start from its weights "
               "with model.from_pretrained instead)");
    m.load_pretrained_weights(dir);
  }
  const auto state = io::read_json(state_path);
  io::SafetensorsFile tensors(tensor_file);
  if (sharded) {
    std::map<std::string, torch::Tensor> shards;
    for (const auto& name : tensors.names()) {
      if (name.rfind("optimizer.", 0) != 0 && name.rfind("rng.", 0) != 0)
        shards[name] = tensors.load(name);
    }
    strategy_->load_shard_state(shards);
  }
  std::map<std::string, torch::Tensor> opt_state;
  for (const auto& name : tensors.names()) {
    if (name.rfind("optimizer.", 0) == 0)
      opt_state[name.substr(10)] = tensors.load(name).to(device_);
  }
  optimizers_.optimizer->load_state_tensors(opt_state);
  if (tensors.contains("rng.cpu")) {
    auto gen = at::detail::getDefaultCPUGenerator();
    gen.set_state(tensors.load("rng.cpu"));
  }
  if (device_.is_cuda() && tensors.contains("rng.cuda")) {
    auto gen = at::globalContext().defaultGenerator(device_);
    gen.set_state(tensors.load("rng.cuda"));
  }
  try {
    global_step_ = state.at("global_step").get<int64_t>();
    epoch_ = state.at("epoch").get<int64_t>();
    batch_in_epoch_ = state.at("batch_in_epoch").get<int64_t>();
    elapsed_before_ = state.value("elapsed_seconds", 0.0);
    last_validated_step_ = state.value("last_validated_step", int64_t{-1});
    skipped_steps_ = state.value("skipped_steps", int64_t{0});
    nonfinite_steps_ = state.value("nonfinite_steps", int64_t{0});
    if (state.contains("precision_state")) precision_->load_state_dict(state["precision_state"]);
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[checkpoint] ", state_path, ": ", e.what());
  }
  // A checkpoint written at the end of an epoch (by its validation) precedes that epoch's end
  // hooks, which the original run then went on to call: continue with the next epoch.
  const bool epoch_complete =
      batch_in_epoch_ + options_.accumulate_grad_batches() > train_loader_->size();
  const bool validated = options_.val_check_interval() > 0 || last_validated_step_ == global_step_;
  if (epoch_complete && validated) {
    ++epoch_;
    batch_in_epoch_ = 0;
  }
  const auto& cbs = state.value("callbacks", nlohmann::json::object());
  for (auto& c : callbacks_) {
    if (cbs.contains(c->name())) c->load_state_dict(cbs[c->name()]);
  }
  // Keep the metrics logged before the checkpoint, drop any logged after it.
  if (csv_) csv_->load_existing(global_step_);
  if (timings_csv_) timings_csv_->load_existing(global_step_);
  print(str("Resumed from ", dir, " at step ", global_step_));
}

}  // namespace volt

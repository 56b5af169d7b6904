// How the Trainer spreads one training step over processes (Lightning's Strategy). The base
// class is the single-device strategy; dist/ implements DDP and FSDP behind the same hooks, so
// the Trainer knows no process group:
//   setup(module)                   after the module is on its device, before the optimizer
//   optimizer_groups(groups)        what the optimizer updates (fsdp: this rank's shards)
//   wrap_train_loader(loader)       this rank's share of each global batch
//   begin_step()                    before a training step's first forward (fsdp: gather the root)
//   before_backward(last)           the last micro-batch's backward synchronises gradients
//   finish_gradients()              after the step's backward passes: gradients are final
//   begin_eval() / end_eval()       around validation's forward passes
//   sum_over_ranks(values)          metrics, the step's loss and its units, summed over ranks
//   teardown(module)                the end of fit: the module whole again
// A strategy that shards parameters (shards_parameters(): fsdp) also has every rank run every
// forward in lockstep, gradient norms and finiteness reduced over ranks, and checkpoints written
// by every rank (shard_state / load_shard_state / shard_index).
#pragma once

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "volt/data/datamodule.h"
#include "volt/train/optim.h"

namespace volt {

class LightningModule;

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const { return "single"; }
  virtual int64_t rank() const { return 0; }
  virtual int64_t world_size() const { return 1; }
  virtual void setup(LightningModule&) {}
  /// Called from configure_optimizers (LMModule's does): a sharding strategy puts its local shards
  /// in place of the full parameters, under the same names.
  virtual std::vector<ParamGroup> optimizer_groups(std::vector<ParamGroup> groups) { return groups; }
  /// After configure_optimizers: fails, saying why, if the optimizer does not update what
  /// optimizer_groups handed out.
  virtual void check_optimizer(const Optimizer&) const {}
  virtual std::shared_ptr<DataLoader> wrap_train_loader(std::shared_ptr<DataLoader> loader) { return loader; }
  virtual std::vector<double> sum_over_ranks(std::vector<double> values) { return values; }
  virtual void begin_step() {}
  virtual void before_backward(bool /*last_micro_batch*/) {}
  virtual void finish_gradients() {}
  virtual void begin_eval() {}
  virtual void end_eval() {}
  virtual void barrier() {}
  /// At the end of fit: leaves the module whole and usable on its own (fsdp gathers its weights
  /// back; every rank calls it).
  virtual void teardown(LightningModule&) {}

  virtual bool shards_parameters() const { return false; }
  /// This rank's part of the weights (sharded checkpoints; the optimizer state is saved apart).
  virtual std::vector<std::pair<std::string, torch::Tensor>> shard_state() const { return {}; }
  virtual void load_shard_state(const std::map<std::string, torch::Tensor>&) {}
  /// How the shards fit together (a sharded checkpoint's index: dist/fsdp.h).
  virtual nlohmann::json shard_index() const { return nlohmann::json::object(); }
};

/// A sharded checkpoint's file for one rank: shard-00001-of-00003.safetensors.
std::string shard_file_name(int64_t rank, int64_t world);

}  // namespace volt

// How the Trainer spreads one training step over processes (Lightning's Strategy). The base
// class is the single-device strategy; dist/ implements DDP (and later FSDP) behind the same
// hooks, so the Trainer knows no process group:
//   setup(module)                   after the module is on its device, before the optimizer
//   wrap_train_loader(loader)       this rank's share of each global batch
//   sum_over_ranks(values)          metrics, the step's loss and its units, summed over ranks
//   before_backward(last)           the last micro-batch's backward synchronises gradients
//   finish_gradients()              after the step's backward passes: gradients are final
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "volt/data/datamodule.h"

namespace volt {

class LightningModule;

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const { return "single"; }
  virtual int64_t rank() const { return 0; }
  virtual int64_t world_size() const { return 1; }
  virtual void setup(LightningModule&) {}
  virtual std::shared_ptr<DataLoader> wrap_train_loader(std::shared_ptr<DataLoader> loader) { return loader; }
  virtual std::vector<double> sum_over_ranks(std::vector<double> values) { return values; }
  virtual void before_backward(bool /*last_micro_batch*/) {}
  virtual void finish_gradients() {}
};

}  // namespace volt

// Lightning's DDPStrategy on volt's Trainer: the default process group (from torchrun-style or
// SLURM variables), rank 0's weights broadcast at setup, each rank's slice of the global batch,
// gradients summed over ranks in buckets from backward hooks on the step's last micro-batch
// (no_sync before it), metrics summed over ranks. In one process it is the single-device strategy.
#pragma once

#include <memory>

#include "volt/dist/data_parallel.h"
#include "volt/dist/ddp.h"

namespace volt::dist {

class DDPStrategy : public DataParallelStrategy {
 public:
  /// group: null for the default group (dist::default_group()).
  explicit DDPStrategy(std::shared_ptr<ProcessGroup> group = nullptr, int64_t bucket_bytes = 25 * 1024 * 1024);
  std::string name() const override { return "ddp"; }
  void setup(LightningModule& m) override;
  void before_backward(bool last_micro_batch) override;
  void finish_gradients() override;
  const GradientReducer* reducer() const { return reducer_.get(); }

 private:
  int64_t bucket_bytes_;
  std::unique_ptr<GradientReducer> reducer_;
  bool armed_ = false;
};

}  // namespace volt::dist

// What every data-parallel strategy (ddp, fsdp) shares: a process group (the default one unless
// given; none when the environment describes one process alone), this rank's slice of each global
// batch, metrics summed over ranks, and a barrier.
#pragma once

#include <memory>

#include "volt/dist/process_group.h"
#include "volt/train/strategy.h"

namespace volt::dist {

class DataParallelStrategy : public Strategy {
 public:
  int64_t rank() const override { return group_ ? group_->rank() : 0; }
  int64_t world_size() const override { return group_ ? group_->size() : 1; }
  std::shared_ptr<DataLoader> wrap_train_loader(std::shared_ptr<DataLoader> loader) override;
  std::vector<double> sum_over_ranks(std::vector<double> values) override;
  void barrier() override;

 protected:
  /// group: null for the default group (dist::default_group()).
  explicit DataParallelStrategy(std::shared_ptr<ProcessGroup> group);
  /// More than one rank (so group_ is set).
  bool distributed() const { return world_size() > 1; }
  std::shared_ptr<ProcessGroup> group_;
};

}  // namespace volt::dist

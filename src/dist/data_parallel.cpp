#include "volt/dist/data_parallel.h"

#include "volt/dist/rank_slice.h"

namespace volt::dist {

DataParallelStrategy::DataParallelStrategy(std::shared_ptr<ProcessGroup> group)
    : group_(group ? std::move(group) : default_group()) {}

std::shared_ptr<DataLoader> DataParallelStrategy::wrap_train_loader(std::shared_ptr<DataLoader> loader) {
  if (!distributed()) return loader;
  return std::make_shared<RankSliceLoader>(std::move(loader), rank(), world_size());
}

std::vector<double> DataParallelStrategy::sum_over_ranks(std::vector<double> values) {
  if (!distributed() || values.empty()) return values;
  auto t = torch::tensor(values, torch::kFloat64);
  group_->all_reduce_sum(t);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

void DataParallelStrategy::barrier() {
  if (distributed()) group_->barrier();
}

}  // namespace volt::dist

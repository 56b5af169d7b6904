// Data parallelism's sampler: the loader draws the global batch (one seeded sampler, the same on
// every rank) and rank r of N keeps rows [r B/N, (r+1) B/N). So N ranks with b rows each train
// exactly as one process with N b rows.
#pragma once

#include <memory>

#include "volt/data/datamodule.h"

namespace volt::dist {

/// Rows r B/N .. (r+1) B/N - 1 of a batch (B divisible by N, else a volt::Error).
Batch slice_for_rank(const Batch& global, int64_t rank, int64_t world);

class RankSliceLoader : public DataLoader {
 public:
  RankSliceLoader(std::shared_ptr<DataLoader> global, int64_t rank, int64_t world)
      : global_(std::move(global)), rank_(rank), world_(world) {}
  int64_t size() const override { return global_->size(); }
  Batch get(int64_t epoch, int64_t index) const override {
    return slice_for_rank(global_->get(epoch, index), rank_, world_);
  }
  int64_t num_workers() const override { return global_->num_workers(); }
  int64_t prefetch_factor() const override { return global_->prefetch_factor(); }

 private:
  std::shared_ptr<DataLoader> global_;
  int64_t rank_, world_;
};

}  // namespace volt::dist

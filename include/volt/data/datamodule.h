// Lightning's data API. A DataLoader hands out batches by (epoch, index): random access makes
// batches reproducible from a seed, lets a resumed run continue at the exact data position, and
// lets several ranks each take their slice of the same global batch.
#pragma once

#include <memory>
#include <string>

#include "volt/data/batch.h"

namespace volt {

class DataLoader {
 public:
  virtual ~DataLoader() = default;
  /// Batches in one epoch.
  virtual int64_t size() const = 0;
  /// Batch `index` (0 <= index < size()) of `epoch`; the same arguments give the same batch.
  /// Called from several worker threads at once (PrefetchLoader): it must be thread-safe.
  virtual Batch get(int64_t epoch, int64_t index) const = 0;
  /// Background threads building batches ahead of the step (0: on the training thread), and how
  /// many batches each may build ahead (Lightning's DataLoader num_workers / prefetch_factor).
  virtual int64_t num_workers() const { return 0; }
  virtual int64_t prefetch_factor() const { return 2; }
};

class LightningDataModule {
 public:
  virtual ~LightningDataModule() = default;
  /// Download / tokenize once (rank 0 only, in a distributed run).
  virtual void prepare_data() {}
  /// Build the datasets of a stage ("fit", "validate", "test", "predict").
  virtual void setup(const std::string& stage) {}
  virtual std::shared_ptr<DataLoader> train_dataloader() = 0;
  virtual std::shared_ptr<DataLoader> val_dataloader() { return nullptr; }
  virtual std::shared_ptr<DataLoader> test_dataloader() { return nullptr; }
  /// What Trainer::predict runs over (Lightning's predict_dataloader).
  virtual std::shared_ptr<DataLoader> predict_dataloader() { return nullptr; }
};

}  // namespace volt

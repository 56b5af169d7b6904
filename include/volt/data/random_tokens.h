// Synthetic batches of uniformly random token ids (Lightning's RandomDataset): what memory and
// speed measurements train on when the numbers, not the text, matter. Deterministic per
// (seed, epoch, index), like every volt DataLoader.
#pragma once

#include <memory>

#include "volt/data/datamodule.h"

namespace volt {

struct RandomTokenOptions {
  int64_t batch_size = 8;
  int64_t block_size = 128;
  int64_t vocab_size = 50257;
  int64_t batches = 64;  // per epoch
  int64_t seed = 1337;
};

class RandomTokenLoader : public DataLoader {
 public:
  explicit RandomTokenLoader(RandomTokenOptions options);
  int64_t size() const override { return options_.batches; }
  /// input_ids (B, T) uniform in [0, vocab); labels the next token of each (T + 1 drawn a row).
  Batch get(int64_t epoch, int64_t index) const override;

 private:
  RandomTokenOptions options_;
};

class RandomTokenDataModule : public LightningDataModule {
 public:
  explicit RandomTokenDataModule(RandomTokenOptions options);
  std::shared_ptr<DataLoader> train_dataloader() override { return train_; }
  std::shared_ptr<DataLoader> val_dataloader() override { return val_; }

 private:
  std::shared_ptr<DataLoader> train_, val_;
};

}  // namespace volt

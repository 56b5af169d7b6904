// What a DataLoader yields and a LightningModule consumes: token ids and next-token labels.
#pragma once

#include <torch/torch.h>

namespace volt {

struct Batch {
  torch::Tensor input_ids;     // (B, T) int64
  torch::Tensor labels;        // (B, T) int64, -100 where no loss is taken
  torch::Tensor position_ids;  // (B, T) int64 or undefined (0..T-1)

  int64_t batch_size() const { return input_ids.size(0); }
  /// Tokens that carry a loss (labels != -100).
  int64_t num_target_tokens() const { return labels.ne(-100).sum().item<int64_t>(); }
  Batch to(const torch::Device& device, bool non_blocking = false) const {
    Batch b;
    b.input_ids = input_ids.to(device, non_blocking);
    b.labels = labels.defined() ? labels.to(device, non_blocking) : labels;
    b.position_ids = position_ids.defined() ? position_ids.to(device, non_blocking) : position_ids;
    return b;
  }
};

}  // namespace volt

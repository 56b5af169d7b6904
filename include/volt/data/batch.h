// What a DataLoader yields and a LightningModule consumes: token ids and next-token labels, and,
// for packed rows, where each document starts again.
#pragma once

#include <torch/torch.h>

namespace volt {

struct Batch {
  torch::Tensor input_ids;     // (B, T) int64
  torch::Tensor labels;        // (B, T) int64, -100 where no loss is taken
  torch::Tensor position_ids;  // (B, T) int64 or undefined (0..T-1)
  // (B, T) int64 or undefined (one document per row). Tokens of a row with different ids belong
  // to different documents and must not attend to each other; each id's tokens are contiguous.
  torch::Tensor document_ids;

  int64_t batch_size() const { return input_ids.size(0); }
  /// Tokens that carry a loss (labels != -100).
  int64_t num_target_tokens() const { return labels.ne(-100).sum().item<int64_t>(); }
  Batch to(const torch::Device& device, bool non_blocking = false) const {
    auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, non_blocking) : t; };
    Batch b;
    b.input_ids = move(input_ids);
    b.labels = move(labels);
    b.position_ids = move(position_ids);
    b.document_ids = move(document_ids);
    return b;
  }
  /// Page-locked copies, so a later to(cuda, non_blocking=true) overlaps with compute.
  Batch pin_memory() const {
    auto pin = [](const torch::Tensor& t) { return t.defined() ? t.pin_memory() : t; };
    Batch b;
    b.input_ids = pin(input_ids);
    b.labels = pin(labels);
    b.position_ids = pin(position_ids);
    b.document_ids = pin(document_ids);
    return b;
  }
};

}  // namespace volt

// DDP's gradient synchronisation: every rank holds the whole model; after backward each
// gradient is summed over ranks. Gradients are grouped into buckets (~25 MB, parameters in
// reverse registration order, the order backward produces them); a bucket's all-reduce starts
// from a gradient hook as soon as its last gradient is computed, so communication overlaps the
// rest of the backward pass. Micro-batches before the last of an accumulation step run without
// hooks armed (no_sync): their gradients just accumulate locally.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "volt/dist/process_group.h"

namespace volt::dist {

class GradientReducer {
 public:
  /// params: the trainable parameters (the same list, in the same order, on every rank).
  GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> params,
                  int64_t bucket_bytes = 25 * 1024 * 1024);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Arms the hooks for the next backward (the last micro-batch of a step).
  void prepare_for_backward();
  /// Waits for every bucket (launching those whose gradients never came: unused parameters count
  /// as zero) and writes the sums into each parameter's .grad.
  void finish();
  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    torch::Tensor flat;           // fp32, the bucket's gradients side by side
    int64_t ready = 0;
    std::unique_ptr<ProcessGroup::Pending> pending;
  };
  void on_gradient(size_t index, const torch::Tensor& grad);
  void launch(Bucket& b);

  std::shared_ptr<ProcessGroup> group_;
  std::vector<torch::Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> where_;  // param -> (bucket, slot)
  std::vector<bool> seen_;
  bool armed_ = false;
  size_t next_launch_ = 0;
  std::vector<unsigned> hook_ids_;
};

/// Rank 0's parameters and buffers copied to every rank (DDP's start).
void broadcast_module(ProcessGroup& group, torch::nn::Module& module);

}  // namespace volt::dist

// A process group on PyTorch's c10d (never a home-made transport): a TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT (rank 0 serves it), Gloo for CPU tensors, NCCL for CUDA tensors when
// the LibTorch has it. The collectives volt needs, with the gaps of LibTorch 1.13's Gloo filled
// here: no reduce_scatter (all-reduce, then each rank keeps its slice; 2.6's Gloo has one, taken
// through core/compat.h) and no bf16 / fp16 (cast to fp32 on the wire). Also what
// torch.distributed's init_process_group gives Python: one default group per process.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "volt/dist/env.h"

namespace volt::dist {

class ProcessGroup {
 public:
  /// Joins the group `env` describes (blocks until every rank has joined, or `timeout`).
  static std::shared_ptr<ProcessGroup> create(
      const DistEnv& env, std::chrono::milliseconds timeout = std::chrono::minutes(5));
  virtual ~ProcessGroup() = default;
  int64_t rank() const { return env_.rank; }
  int64_t size() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }

  /// In place: every rank ends with the element-wise sum.
  virtual void all_reduce_sum(torch::Tensor& t) = 0;
  /// Starts an in-place sum; wait() finishes it (what DDP's buckets use to overlap backward).
  struct Pending {
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  virtual std::unique_ptr<Pending> all_reduce_sum_async(torch::Tensor& t) = 0;
  /// In place: every rank ends with root's values.
  virtual void broadcast(torch::Tensor& t, int64_t root = 0) = 0;
  /// out[r] = rank r's `in` (each the same shape).
  virtual std::vector<torch::Tensor> all_gather(const torch::Tensor& in) = 0;
  /// Sum over ranks of `in` (numel divisible by size()), then this rank's 1/size() slice.
  virtual torch::Tensor reduce_scatter_sum(const torch::Tensor& in) = 0;
  /// The same through all_reduce_sum (the whole sum, then the slice): what reduce_scatter_sum is
  /// where the backend has no reduce-scatter (Gloo in LibTorch 1.13). Public so that tests can
  /// compare a native reduce-scatter with it.
  torch::Tensor reduce_scatter_sum_by_all_reduce(const torch::Tensor& in);
  virtual void barrier() = 0;
  /// Root's string on every rank (through the store).
  virtual std::string broadcast_string(const std::string& value, int64_t root = 0) = 0;

 protected:
  explicit ProcessGroup(DistEnv env) : env_(std::move(env)) {}
  DistEnv env_;
};

/// torch.distributed.init_process_group: the default group from the environment (created on the
/// first call; null when the environment describes one process alone).
std::shared_ptr<ProcessGroup> default_group();
/// Sets the default group (tests run several ranks as threads of one process).
void set_default_group(std::shared_ptr<ProcessGroup> group);

}  // namespace volt::dist

// Fully sharded data parallelism (PyTorch's FSDP, ZeRO-3) on volt's Trainer. The module's
// parameters are grouped into units: each transformer block is one (LightningModule::blocks()),
// everything else (embeddings, final norm, head) is the root unit. A unit's parameters become one
// flat buffer, padded to a multiple of N ranks and split evenly: rank r keeps elements
// [r P/N, (r+1) P/N), cut at parameter boundaries into "segments" that the optimizer updates
// under the parameters' names. So each rank holds 1/N of the weights, of their gradients and of
// the optimizer state.
//   forward of block l:  all-gather its flat weights into the module's parameters (views into one
//                        storage), run it, free the storage again (full_shard)
//   backward of block l: a hook on the block's output gathers again just before its backward; a
//                        hook after the last of its gradients is accumulated reduce-scatters them
//                        (sum over ranks, each rank keeps its slice) into the segments' gradients
//                        and frees the storage and the full gradients
//   the root unit:       gathered for the whole step (its weights are used first and last)
// sharding: full_shard (above), shard_grad_op (ZeRO-2: a block's weights stay gathered from its
// forward to its backward), no_shard (DDP through the same machinery: every rank holds all of it
// and gradients are all-reduced). Gradients are summed over ranks in fp32 whatever the weights'
// dtype; loss weights are global (as in ddp), so N ranks train as one process with the global
// batch. cpu_offload keeps the shards, their gradients and the optimizer state in CPU memory.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "volt/dist/data_parallel.h"
#include "volt/nn/block_wrapper.h"

namespace volt::dist {

enum class Sharding { kFullShard, kShardGradOp, kNoShard };
/// "full_shard" | "shard_grad_op" | "no_shard" (anything else: an error naming them).
Sharding parse_sharding(const std::string& name);
std::string sharding_name(Sharding s);

struct FsdpOptions {
  Sharding sharding = Sharding::kFullShard;
  bool cpu_offload = false;
  /// Where the weights come from. Null: the module's, as rank 0 has them (broadcast at setup).
  /// Else each rank reads only the elements of its shard: init_slices(name, shape, begin, count)
  /// gives elements [begin, begin + count) of parameter `name` (the module's name) flattened (a
  /// pretrained model's memory-mapped files: models/pretrained.h's PretrainedSliceReader).
  std::function<torch::Tensor(const std::string& name, c10::IntArrayRef shape, int64_t begin, int64_t count)>
      init_slices;
};

/// What one rank holds, counted from its tensors: its shards, their gradients, and the gathered
/// (full) weights resident right now (zero between steps under full_shard and shard_grad_op) and
/// at most since setup (after it: setup itself holds each unit whole for a moment).
struct FsdpHeldBytes {
  int64_t parameters = 0, gradients = 0, gathered = 0, peak_gathered = 0;
};

class FSDPStrategy : public DataParallelStrategy {
 public:
  /// group: null for the default group (one process alone when the environment names none).
  explicit FSDPStrategy(FsdpOptions options = {}, std::shared_ptr<ProcessGroup> group = nullptr);
  ~FSDPStrategy() override;
  std::string name() const override { return "fsdp"; }
  void setup(LightningModule& m) override;
  std::vector<ParamGroup> optimizer_groups(std::vector<ParamGroup> groups) override;
  void check_optimizer(const Optimizer& opt) const override;
  void begin_step() override;
  void before_backward(bool last_micro_batch) override;
  void finish_gradients() override;
  void begin_eval() override;
  void end_eval() override;
  /// Gathers every unit back for good: the module holds the trained weights, whole, as if it had
  /// never been sharded (no more gathering, freeing or reducing); the optimizer's shards stay.
  void teardown(LightningModule& m) override;
  bool shards_parameters() const override { return true; }
  std::vector<std::pair<std::string, torch::Tensor>> shard_state() const override;
  void load_shard_state(const std::map<std::string, torch::Tensor>& shards) override;
  nlohmann::json shard_index() const override;

  const FsdpOptions& options() const { return options_; }
  FsdpHeldBytes held_bytes() const;
  /// Units: the blocks in forward order, then the root.
  size_t num_units() const { return units_.size(); }

 private:
  struct Unit;
  bool sharded() const { return options_.sharding != Sharding::kNoShard; }
  void gather(Unit& u);
  void release(Unit& u);
  void on_gradient_ready(Unit& u, size_t param);
  void reduce(Unit& u);
  void flush_partial();
  torch::Tensor local_flat(const Unit& u) const;
  torch::Tensor run_block(size_t index, const nn::BlockFn& run, const torch::Tensor& x);

  FsdpOptions options_;
  std::vector<std::unique_ptr<Unit>> units_;
  Unit* root_ = nullptr;
  LightningModule* module_ = nullptr;
  std::vector<const void*> handed_out_;  // the segments optimizer_groups gave (check_optimizer)
  bool active_ = true;  // false after teardown: the hooks left on the module do nothing
  int64_t resident_ = 0, peak_resident_ = 0;  // gathered bytes now / at most since setup
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // seen by the module's block wrapper
};

/// A sharded checkpoint (fsdp_index.json and one shard file per rank) put back together: every
/// parameter under the module's name, bit for bit what the ranks held.
std::vector<std::pair<std::string, torch::Tensor>> consolidate_sharded_checkpoint(const std::string& dir);

}  // namespace volt::dist

// Activation checkpointing (gradient checkpointing): run a block without keeping the activations
// its backward would need, and recompute them inside backward. A transformer block's saved
// activations grow with batch x sequence x width; the block's input is all that is kept, so
// activation memory falls from ~L blocks' worth to L inputs plus one block's worth, for the price
// of a second forward pass (about a third more compute per step).
//
// Recomputation must reproduce the first pass exactly: the RNG streams (dropout) are set back to
// their state at the first pass, and autocast is re-entered with the dtype it had then. The
// block's parameters are inputs of the checkpoint node, so its output requires grad whenever they
// do, even if the block's input does not (a frozen embedding under LoRA: the reentrant-checkpoint
// pitfall that Hugging Face answers with enable_input_require_grads()).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

namespace volt::nn {

using BlockFn = std::function<torch::Tensor(const torch::Tensor&)>;

/// fn(x), with activations recomputed in backward. `params`: the tensors fn reads that may need
/// gradients (the block's parameters); their gradients come out of this node like any other.
/// Outside grad mode (evaluation, generation) it is plain fn(x).
torch::Tensor checkpoint(const BlockFn& fn, const torch::Tensor& x, const std::vector<torch::Tensor>& params);

}  // namespace volt::nn

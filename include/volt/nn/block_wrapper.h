// A hook around each transformer block's run, so a strategy can treat blocks as units without the
// model knowing about it (FSDP's auto-wrap policy: gather a block's weights just before its
// forward, free them after, gather again for its backward).
#pragma once

#include <torch/torch.h>

#include <functional>

#include "volt/nn/checkpoint.h"

namespace volt::nn {

/// wrapper(index, run, x) must return run(x) (index: the block's position in forward order); what
/// it does around that call is its own business.
using BlockWrapper = std::function<torch::Tensor(size_t index, const BlockFn& run, const torch::Tensor& x)>;

}  // namespace volt::nn

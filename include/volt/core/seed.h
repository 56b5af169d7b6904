// Lightning's seed_everything: one seed for every random stream volt draws from (LibTorch's CPU
// and CUDA generators), set before the model is built so the initial weights are reproducible.
#pragma once

#include <cstdint>

namespace volt {

void seed_everything(uint64_t seed);

}  // namespace volt

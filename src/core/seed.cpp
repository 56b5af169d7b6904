#include "volt/core/seed.h"

#include <torch/torch.h>

namespace volt {

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);  // seeds the CPU generator and, when present, every CUDA device's
}

}  // namespace volt

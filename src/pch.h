// Precompiled header: LibTorch's umbrella header costs ~15 s and 1.2 GB per translation unit, so
// every volt target compiles it once here and reuses it.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

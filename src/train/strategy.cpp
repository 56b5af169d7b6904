#include "volt/train/strategy.h"

#include <cstdio>

namespace volt {

std::string shard_file_name(int64_t rank, int64_t world) {
  char name[64];
  std::snprintf(name, sizeof name, "shard-%05lld-of-%05lld.safetensors", static_cast<long long>(rank),
                static_cast<long long>(world));
  return name;
}

}  // namespace volt

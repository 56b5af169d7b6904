// One libFuzzer binary per target: FUZZ_TARGET names which (set by fuzz/CMakeLists.txt).
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volt::fuzz::FUZZ_TARGET(data, size);
  return 0;
}

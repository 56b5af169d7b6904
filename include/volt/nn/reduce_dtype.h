// The dtype volt takes softmaxes and norms in: fp32 for 16-bit and fp32 inputs, as transformers
// does, and float64 for float64 inputs (the reference checks run in it, and must not round).
#pragma once

#include <c10/core/ScalarType.h>

namespace volt::nn {

inline c10::ScalarType reduce_dtype(c10::ScalarType input) {
  return input == c10::ScalarType::Double ? c10::ScalarType::Double : c10::ScalarType::Float;
}

}  // namespace volt::nn

// The AdamW update of one flat float32 buffer in a single pass over memory: the CPU "fused"
// optimizer. The same update as the tensor-op path in optim.cpp (which every other device and
// dtype uses), with the same formula and order of operations:
//   theta = theta * (1 - lr wd) - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
// Kept free of LibTorch so it compiles with -O3 -fno-math-errno and vectorises.
#pragma once

#include <cstdint>

namespace volt::kernels {

struct AdamWStep {
  float lr, weight_decay, beta1, beta2, eps;
  float bias_correction1;       // 1 - beta1^t
  float sqrt_bias_correction2;  // sqrt(1 - beta2^t)
};

/// Updates theta, exp_avg and exp_avg_sq (n floats each) in place from grad.
void adamw_step_cpu(float* theta, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                    const AdamWStep& s);

}  // namespace volt::kernels

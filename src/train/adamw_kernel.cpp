#include "volt/train/adamw_kernel.h"

#include <cmath>

namespace volt::kernels {

void adamw_step_cpu(float* __restrict theta, const float* __restrict grad, float* __restrict exp_avg,
                    float* __restrict exp_avg_sq, int64_t n, const AdamWStep& s) {
  const float decay = 1.0f - s.lr * s.weight_decay;
  const float step = s.lr / s.bias_correction1;
  const float b1 = s.beta1, b2 = s.beta2, eps = s.eps, sbc2 = s.sqrt_bias_correction2;
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float m = exp_avg[i] + (1.0f - b1) * (g - exp_avg[i]);  // lerp, as torch's lerp_
    const float v = b2 * exp_avg_sq[i] + (1.0f - b2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    theta[i] = theta[i] * decay - step * (m / (std::sqrt(v) / sbc2 + eps));
  }
}

}  // namespace volt::kernels

// Fused causal attention for the CPU: the same function as the explicit
//   O = softmax(Q K^T * scale + M) V,   M_ij = -inf for j > i + (S - T)
// and, for packed rows (S == T), M_ij = -inf unless start(i) <= j <= i: masked keys get
// probability exactly 0, so the backward below needs no mask of its own.
// but computed per (batch, head) slice with direct BLAS calls, in one autograd node.
// Why: LibTorch 1.13's CPU bmm loops over the batch through the dispatcher (select, conj checks,
// addmm per matrix); for BabyGPT's 48 small (64 x 32) slices that overhead was ~half of a step.
// Backward, with P the saved probabilities and dO the output gradient:
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = scale dS K,  dK = scale dS^T Q
#pragma once

#include <torch/torch.h>

namespace volt::nn {

/// True when the fused kernel can run: float32 CPU tensors and a BLAS sgemm found at run time.
bool cpu_fused_attention_available(const torch::Tensor& q);

/// q: (B, nh, T, hs), k and v: (B, nh, S, hs) with S >= T (a cache holds S - T earlier tokens).
/// key_start: (B, T) int64 or undefined; when given (only without a cache, S == T) query i sees
/// keys key_start[b, i] .. i only, with 0 <= key_start[b, i] <= i.
/// Returns (B, nh, T, hs). Differentiable with respect to q, k and v.
torch::Tensor cpu_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v,
                                   const torch::Tensor& key_start = torch::Tensor());

}  // namespace volt::nn

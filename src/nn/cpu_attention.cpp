#include "volt/nn/cpu_attention.h"

#include <dlfcn.h>

#include <cmath>
#include <limits>

#include "volt/core/check.h"

namespace volt::nn {

namespace {

// CBLAS, looked up at run time: LibTorch links a BLAS (OpenBLAS on Debian) but exports no gemm of
// its own. Where none is visible (a statically linked MKL), callers use the explicit path.
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };
using SgemmFn = void (*)(int order, int transa, int transb, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta, float* c,
                         int ldc);

SgemmFn sgemm() {
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
  return fn;
}

// C (m x n) = alpha * op(A) op(B) + beta * C, all row-major and densely packed.
void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, const float* b,
          float beta, float* c) {
  sgemm()(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, alpha, a, ta ? m : k,
          b, tb ? k : n, beta, c, n);
}

class CausalAttention : public torch::autograd::Function<CausalAttention> {
 public:
  // key_start: (B, T) int64 or none; it gets no gradient. An optional, not an undefined tensor:
  // apply() records device and shape of every tensor input, which an undefined one lacks.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor q,
                               torch::Tensor k, torch::Tensor v,
                               const c10::optional<torch::Tensor>& key_start) {
    q = q.contiguous(), k = k.contiguous(), v = v.contiguous();
    const int64_t heads = q.size(1), slices = q.size(0) * heads;
    const int t = static_cast<int>(q.size(2)), s = static_cast<int>(k.size(2));
    torch::Tensor start_rows = key_start.has_value() ? key_start->contiguous() : torch::Tensor();
    const int64_t* starts = start_rows.defined() ? start_rows.data_ptr<int64_t>() : nullptr;
    const int hs = static_cast<int>(q.size(3));
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    auto out = torch::empty_like(q);                       // (B, nh, T, hs)
    auto probs = torch::empty({q.size(0), q.size(1), t, s}, q.options());  // (B, nh, T, S)
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    float *op = out.data_ptr<float>(), *pp = probs.data_ptr<float>();
    for (int64_t i = 0; i < slices; ++i) {
      const float* qi = qp + i * t * hs;
      const float* ki = kp + i * s * hs;
      const float* vi = vp + i * s * hs;
      float* pi = pp + i * t * s;
      const int64_t* row_start = starts ? starts + (i / heads) * t : nullptr;  // batch i / heads
      gemm(false, true, t, s, hs, scale, qi, ki, 0.0f, pi);  // scores (T, S)
      for (int r = 0; r < t; ++r) {
        float* row = pi + r * s;
        const int visible = s - t + r + 1;  // keys 0 .. s - t + r
        const int lo = row_start ? static_cast<int>(row_start[r]) : 0;  // its document's first
        float mx = -std::numeric_limits<float>::infinity();
        for (int c = lo; c < visible; ++c) mx = std::max(mx, row[c]);
        float sum = 0.0f;
        for (int c = lo; c < visible; ++c) sum += (row[c] = std::exp(row[c] - mx));
        const float inv = 1.0f / sum;
        for (int c = lo; c < visible; ++c) row[c] *= inv;
        // Exact zeros: the backward's dS = P * (dP - rowsum(dP * P)) is then 0 at masked keys.
        for (int c = 0; c < lo; ++c) row[c] = 0.0f;
        for (int c = visible; c < s; ++c) row[c] = 0.0f;
      }
      gemm(false, false, t, hs, s, 1.0f, pi, vi, 0.0f, op + i * t * hs);  // (T, hs)
    }
    ctx->save_for_backward({q, k, v, probs});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    auto dout = grads[0].contiguous();
    const int64_t slices = q.size(0) * q.size(1);
    const int t = static_cast<int>(q.size(2)), s = static_cast<int>(k.size(2));
    const int hs = static_cast<int>(q.size(3));
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    auto dscores = torch::empty({t, s}, q.options());  // reused for every slice
    float* ds = dscores.data_ptr<float>();
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    const float *pp = probs.data_ptr<float>(), *gp = dout.data_ptr<float>();
    float *dqp = dq.data_ptr<float>(), *dkp = dk.data_ptr<float>(), *dvp = dv.data_ptr<float>();
    for (int64_t i = 0; i < slices; ++i) {
      const float* pi = pp + i * t * s;
      const float* gi = gp + i * t * hs;
      gemm(true, false, s, hs, t, 1.0f, pi, gi, 0.0f, dvp + i * s * hs);  // dV = P^T dO
      gemm(false, true, t, s, hs, 1.0f, gi, vp + i * s * hs, 0.0f, ds);   // dP = dO V^T
      for (int r = 0; r < t; ++r) {  // softmax backward, row by row
        const float* p = pi + r * s;
        float* d = ds + r * s;
        float dot = 0.0f;
        for (int c = 0; c < s; ++c) dot += p[c] * d[c];
        for (int c = 0; c < s; ++c) d[c] = p[c] * (d[c] - dot);
      }
      gemm(false, false, t, hs, s, scale, ds, kp + i * s * hs, 0.0f, dqp + i * t * hs);  // dQ
      gemm(true, false, s, hs, t, scale, ds, qp + i * t * hs, 0.0f, dkp + i * s * hs);   // dK
    }
    return {dq, dk, dv, torch::Tensor()};  // none for key_start
  }
};

}  // namespace

bool cpu_fused_attention_available(const torch::Tensor& q) {
  return q.device().is_cpu() && q.scalar_type() == torch::kFloat32 && sgemm() != nullptr;
}

torch::Tensor cpu_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const torch::Tensor& key_start) {
  VOLT_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "[attention] q, k, v must be (B, nh, T, hs)");
  VOLT_CHECK(k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(1) == k.size(1) &&
                 q.size(3) == k.size(3) && k.size(2) >= q.size(2),
             "[attention] incompatible shapes q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
  VOLT_CHECK(cpu_fused_attention_available(q), "[attention] the fused CPU kernel needs float32 CPU "
             "tensors and a CBLAS sgemm");
  if (key_start.defined()) {
    const int64_t t = q.size(2);
    VOLT_CHECK(k.size(2) == t, "[attention] key_start (packed documents) needs S == T (no cache), "
               "got T = ", t, ", S = ", k.size(2));
    VOLT_CHECK(key_start.dim() == 2 && key_start.size(0) == q.size(0) && key_start.size(1) == t &&
                   key_start.scalar_type() == torch::kLong && key_start.device().is_cpu(),
               "[attention] key_start must be (B, T) = (", q.size(0), ", ", t,
               ") int64 on the CPU, got ", key_start.sizes(), " ", key_start.scalar_type());
    // The kernel indexes rows with it: 0 <= start(i) <= i keeps every row inside its bounds and
    // non-empty. A plain loop: B*T integers, far cheaper than a few dispatched tensor ops.
    auto starts = key_start.contiguous();
    const int64_t* p = starts.data_ptr<int64_t>();
    for (int64_t n = 0; n < starts.numel(); ++n) {
      VOLT_CHECK(p[n] >= 0 && p[n] <= n % t, "[attention] key_start must satisfy 0 <= "
                 "key_start[b, i] <= i, got ", p[n], " at b = ", n / t, ", i = ", n % t);
    }
  }
  return CausalAttention::apply(q, k, v, key_start.defined()
                                             ? c10::optional<torch::Tensor>(key_start)
                                             : c10::optional<torch::Tensor>());
}

}  // namespace volt::nn

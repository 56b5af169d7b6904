// core/compat.h's LibTorch 2.x paths against the 1.13 paths they replace, both compiled into the
// same binary: fused scaled-dot-product attention, LibTorch's fused AdamW, the device-generic
// autocast API and Gloo's reduce-scatter. Under LibTorch 2.6 (`make test-torch2`) every test
// compares the two paths. Under 1.13 a 2.x path does not exist: those tests skip saying so (make
// test-torch2 fails if any test skips), and the autocast and reduce-scatter tests still check
// the 1.13 path against plain arithmetic.
#include <gtest/gtest.h>
#include <torch/version.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <utility>
#include <vector>

#include "dist_helpers.h"
#include "volt/core/compat.h"
#include "volt/nn/attention.h"
#include "volt/nn/cpu_attention.h"
#include "volt/train/adamw_kernel.h"
#include "volt/train/optim.h"

namespace {

using volt::compat::AutocastGuard;

#if VOLT_TORCH_AT_LEAST(2, 0)
// softmax(Q K^T / sqrt(d) + M) V in float64, M = -inf where `blocked` (T, S) or (B, 1, T, S).
torch::Tensor explicit_attention(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, const torch::Tensor& blocked) {
  auto att = torch::matmul(q.to(torch::kFloat64), k.to(torch::kFloat64).transpose(-2, -1)) /
             std::sqrt(static_cast<double>(q.size(-1)));
  att = att.masked_fill(blocked, -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(att, -1), v.to(torch::kFloat64));
}

torch::Tensor future_mask(int64_t t, int64_t s) {
  return torch::ones({t, s}, torch::kBool).triu(s - t + 1);
}
#endif

#define SKIP_WITHOUT(has_path, what)                                                   \
  if (!(has_path)) {                                                                   \
    GTEST_SKIP() << "LibTorch " TORCH_VERSION " lacks " what                           \
                    "; the 1.13 path it replaces runs here instead (make test-torch2 " \
                    "runs this test under LibTorch 2.6)";                              \
  }

TEST(Torch2Compat, SdpaMatchesTheCpuKernelAndExplicitAttentionWithGradients) {
  SKIP_WITHOUT(volt::compat::has_scaled_dot_product_attention,
               "scaled_dot_product_attention (2.0+)");
#if VOLT_TORCH_AT_LEAST(2, 0)
  torch::manual_seed(3);
  const int64_t b = 2, nh = 3, hs = 16;
  const std::vector<std::pair<int64_t, int64_t>> lengths{{9, 9},
                                                         {4, 11}};  // plain, then with a cache
  for (const auto& [t, s] : lengths) {
    auto q = torch::randn({b, nh, t, hs}, torch::requires_grad());
    auto k = torch::randn({b, nh, s, hs}, torch::requires_grad());
    auto v = torch::randn({b, nh, s, hs}, torch::requires_grad());
    auto g = torch::randn({b, nh, t, hs});
    // 2.x: is_causal aligns to the top-left, so a cache needs the explicit keep-mask.
    c10::optional<torch::Tensor> keep;
    if (t != s) keep = future_mask(t, s).logical_not();
    auto sdpa = volt::compat::scaled_dot_product_attention(q, k, v, keep, t == s);
    auto kernel = volt::nn::cpu_causal_attention(q, k, v);  // 1.13's path for float32 on the CPU
    auto ref = explicit_attention(q, k, v, future_mask(t, s)).to(torch::kFloat32);
    EXPECT_TRUE(torch::allclose(sdpa, kernel, 1e-5, 1e-5))
        << "T " << t << " S " << s << ": " << (sdpa - kernel).abs().max();
    EXPECT_TRUE(torch::allclose(sdpa, ref, 1e-5, 1e-5)) << (sdpa - ref).abs().max();
    auto sdpa_grads = torch::autograd::grad({sdpa}, {q, k, v}, {g});
    auto kernel_grads = torch::autograd::grad({kernel}, {q, k, v}, {g});
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(torch::allclose(sdpa_grads[i], kernel_grads[i], 1e-4, 1e-5))
          << "gradient " << i << " differs by " << (sdpa_grads[i] - kernel_grads[i]).abs().max();
    }
  }
#endif
}

TEST(Torch2Compat, SdpaWithPackedDocumentsAndBf16MatchesTheFallbacks) {
  SKIP_WITHOUT(volt::compat::has_scaled_dot_product_attention,
               "scaled_dot_product_attention (2.0+)");
#if VOLT_TORCH_AT_LEAST(2, 0)
  torch::manual_seed(4);
  const int64_t b = 2, nh = 2, t = 10, hs = 8;
  auto q = torch::randn({b, nh, t, hs}), k = torch::randn({b, nh, t, hs}),
       v = torch::randn({b, nh, t, hs});
  // Row 0: documents [0, 4) [4, 10); row 1: [0, 7) [7, 10).
  auto ids =
      torch::tensor({0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, torch::kLong)
          .view({b, t});
  auto key_start = volt::nn::document_key_start(ids);
  auto key = torch::arange(t).view({1, 1, 1, t});
  auto blocked = key.lt(key_start.view({b, 1, t, 1})).logical_or(future_mask(t, t));
  auto kernel = volt::nn::cpu_causal_attention(q, k, v, key_start);
  auto sdpa = volt::compat::scaled_dot_product_attention(q, k, v, blocked.logical_not(), false);
  auto ref = explicit_attention(q, k, v, blocked).to(torch::kFloat32);
  EXPECT_TRUE(torch::allclose(sdpa, kernel, 1e-5, 1e-5)) << (sdpa - kernel).abs().max();
  EXPECT_TRUE(torch::allclose(sdpa, ref, 1e-5, 1e-5)) << (sdpa - ref).abs().max();
  // nn::causal_attention is what the model calls; under 2.x it routes here.
  auto routed = volt::nn::causal_attention(q, k, v, key_start);
  EXPECT_TRUE(torch::allclose(routed, ref, 1e-5, 1e-5)) << (routed - ref).abs().max();
  // bf16 (1.13's path: the explicit softmax in fp32, cast back) against the float64 reference.
  auto qb = q.to(torch::kBFloat16), kb = k.to(torch::kBFloat16), vb = v.to(torch::kBFloat16);
  auto sdpa_bf16 =
      volt::compat::scaled_dot_product_attention(qb, kb, vb, blocked.logical_not(), false);
  ASSERT_EQ(sdpa_bf16.scalar_type(), torch::kBFloat16);
  auto ref_bf16 = explicit_attention(qb, kb, vb, blocked).to(torch::kFloat32);
  EXPECT_TRUE(torch::allclose(sdpa_bf16.to(torch::kFloat32), ref_bf16, 2e-2, 2e-2))
      << (sdpa_bf16.to(torch::kFloat32) - ref_bf16).abs().max();
#endif
}

// AdamW over one flat parameter: `steps` updates from fixed gradients.
torch::Tensor adamw_run(torch::Dtype dtype, bool fused, int steps) {
  torch::manual_seed(21);
  auto init = torch::randn({1031});
  std::vector<torch::Tensor> grads;
  for (int s = 0; s < steps; ++s) grads.push_back(torch::randn({1031}) * (s + 1));
  volt::AdamWOptions o;
  o.lr = 1e-2, o.beta1 = 0.9, o.beta2 = 0.95, o.eps = 1e-8, o.fused = fused;
  volt::ParamGroup g;
  g.name = "all", g.names = {"w"}, g.lr = g.initial_lr = o.lr, g.weight_decay = 0.1;
  g.params = {init.to(dtype).set_requires_grad(true)};
  volt::AdamW opt({g}, o);
  for (const auto& grad : grads) {
    opt.flat_grads()[0].copy_(grad);
    opt.step();
  }
  return opt.param_groups()[0].params[0].detach().to(torch::kFloat32);
}

TEST(Torch2Compat, FusedAdamWMatchesVoltsKernelInFloat32) {
  SKIP_WITHOUT(volt::compat::has_fused_adamw, "at::_fused_adamw_ for the CPU (2.4+)");
  torch::manual_seed(9);
  const int64_t n = 777;
  auto theta = torch::randn({n}), m = torch::zeros({n}), v = torch::zeros({n});
  auto theta2 = theta.clone(), m2 = m.clone(), v2 = v.clone();
  const double lr = 3e-3, b1 = 0.9, b2 = 0.99, wd = 0.1, eps = 1e-8;
  for (int64_t step = 1; step <= 6; ++step) {
    auto grad = torch::randn({n});
    ASSERT_TRUE(volt::compat::try_fused_adamw_step(theta, grad, m, v, step, lr, b1, b2, wd, eps));
    const double bc1 = 1.0 - std::pow(b1, step), bc2 = 1.0 - std::pow(b2, step);
    volt::kernels::adamw_step_cpu(theta2.data_ptr<float>(), grad.data_ptr<float>(),
                                  m2.data_ptr<float>(), v2.data_ptr<float>(), n,
                                  {float(lr), float(wd), float(b1), float(b2), float(eps),
                                   float(bc1), float(std::sqrt(bc2))});
  }
  EXPECT_TRUE(torch::allclose(theta, theta2, 1e-6, 1e-7)) << (theta - theta2).abs().max();
  EXPECT_TRUE(torch::allclose(m, m2, 1e-6, 1e-7)) << (m - m2).abs().max();
  EXPECT_TRUE(torch::allclose(v, v2, 1e-6, 1e-7)) << (v - v2).abs().max();
  // Mismatched dtypes are left to the caller's fallback, untouched.
  auto before = theta.clone();
  auto half_grad = torch::zeros({n}, torch::kBFloat16);
  EXPECT_FALSE(volt::compat::try_fused_adamw_step(theta, half_grad, m, v, 7, lr, b1, b2, wd, eps));
  EXPECT_TRUE(torch::equal(theta, before));
}

TEST(Torch2Compat, FusedAdamWOnBf16ParametersMatchesTheTensorOpPath) {
  SKIP_WITHOUT(volt::compat::has_fused_adamw, "at::_fused_adamw_ for the CPU (2.4+)");
  const int steps = 8;
  auto fused = adamw_run(torch::kBFloat16, /*fused=*/true, steps);  // at::_fused_adamw_
  auto ops = adamw_run(torch::kBFloat16, /*fused=*/false, steps);   // 1.13's tensor ops in bf16
  auto exact = adamw_run(torch::kFloat32, /*fused=*/false, steps);  // float32 all the way
  auto init = adamw_run(torch::kBFloat16, true, 0);
  EXPECT_FALSE(torch::equal(fused, init)) << "nothing was updated";
  // Both bf16 paths stay within a few bf16 steps (2^-8 relative) of the float32 run, and so of
  // each other (the fused one rounds once per step, the tensor ops once per op).
  const double fused_err = (fused - exact).abs().max().item<double>();
  const double ops_err = (ops - exact).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(fused, exact, 2e-2, 2e-2)) << fused_err;
  EXPECT_TRUE(torch::allclose(ops, exact, 2e-2, 2e-2)) << ops_err;
  EXPECT_TRUE(torch::allclose(fused, ops, 2e-2, 2e-2)) << (fused - ops).abs().max();
}

// Runs under every LibTorch: the guard's effect on a matmul, nesting, and restoring on exit.
TEST(Torch2Compat, AutocastGuardSetsAndRestoresTheDeviceState) {
  auto a = torch::randn({4, 4}), b = torch::randn({4, 4});
  ASSERT_FALSE(volt::compat::active_autocast_dtype(torch::kCPU).has_value());
  {
    AutocastGuard outer(torch::kCPU, torch::kBFloat16);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    EXPECT_EQ(volt::compat::active_autocast_dtype(torch::kCPU),
              c10::optional<torch::Dtype>(torch::kBFloat16));
#if VOLT_TORCH_AT_LEAST(2, 4)
    // 2.4+ keeps the per-device functions 1.13 has (deprecated): they must see the same state.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
    EXPECT_EQ(at::autocast::get_autocast_cpu_dtype(), torch::kBFloat16);
#pragma GCC diagnostic pop
    EXPECT_TRUE(at::autocast::is_autocast_enabled(torch::kCPU));
#endif
    {
      AutocastGuard inner(torch::kCPU, torch::kBFloat16);
      EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16)
        << "the inner guard switched autocast off";
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
  EXPECT_FALSE(volt::compat::active_autocast_dtype(torch::kCPU).has_value());
}

// Runs under every LibTorch: reduce_scatter_sum (Gloo's own under 2.6, all-reduce + slice under
// 1.13) against the all-reduce path and against the sum computed here.
TEST(Torch2Compat, ReduceScatterMatchesTheAllReducePathAndTheSum) {
  if (!volt::compat::has_gloo_reduce_scatter) {
    std::cout << "LibTorch " TORCH_VERSION
                 " has no Gloo reduce-scatter: reduce_scatter_sum is the all-reduce "
                 "path, checked here against the sum only\n";
  }
  constexpr int64_t world = 3, n = 4;
  auto input_of = [](int64_t rank, torch::Dtype dtype) {
    return (torch::arange(world * n, torch::kFloat32) * 0.37 + static_cast<double>(rank) * 1.5 -
            2.0)
        .to(dtype);
  };
  volt::test::on_ranks(world, [&](volt::dist::ProcessGroup& g) {
    for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16}) {
      auto in = input_of(g.rank(), dtype);
      auto native = g.reduce_scatter_sum(in);
      auto fallback = g.reduce_scatter_sum_by_all_reduce(in);
      auto sum = torch::zeros({world * n}, torch::kFloat64);
      for (int64_t r = 0; r < world; ++r) sum += input_of(r, dtype).to(torch::kFloat64);
      auto expected = sum.slice(0, g.rank() * n, (g.rank() + 1) * n);
      ASSERT_EQ(native.scalar_type(), dtype);
      ASSERT_EQ(native.dim(), 1);
      ASSERT_EQ(native.size(0), n);
      EXPECT_TRUE(torch::equal(native, fallback))
          << dtype << " rank " << g.rank() << ": " << native << fallback;
      const double tol = dtype == torch::kBFloat16 ? 3e-2 : 1e-5;
      EXPECT_TRUE(torch::allclose(native.to(torch::kFloat64), expected, tol, tol))
          << dtype << ": " << native;
      EXPECT_TRUE(torch::equal(in, input_of(g.rank(), dtype))) << "the input was changed";
    }
  });
}

}  // namespace

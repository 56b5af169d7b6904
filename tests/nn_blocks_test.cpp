// The Llama-family building blocks against their definitions, computed independently here in
// double precision: RMSNorm, the SwiGLU MLP, RoPE (pairwise rotations, relative positions) and
// Llama 3.1's frequency scaling.
#include <gtest/gtest.h>

#include <cmath>

#include "volt/core/check.h"
#include "volt/nn/layer_norm.h"
#include "volt/nn/mlp.h"
#include "volt/nn/rope.h"

namespace volt::nn {
namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(RMSNorm, IsXOverItsRootMeanSquareTimesTheWeight) {
  torch::manual_seed(0);
  RMSNorm norm(16, 1e-6);
  {
    torch::NoGradGuard ng;
    norm->weight.uniform_(0.5, 1.5);
  }
  auto x = torch::randn({3, 5, 16});
  auto xd = x.to(torch::kFloat64);
  auto want = xd / torch::sqrt(xd.pow(2).mean(-1, true) + 1e-6) * norm->weight.to(torch::kFloat64);
  EXPECT_LT(max_abs_diff(norm(x), want), 1e-5);
  // A bf16 input is normalised in float32 and returned in bf16 (transformers' LlamaRMSNorm).
  auto y = norm(x.to(torch::kBFloat16));
  EXPECT_EQ(y.scalar_type(), torch::kFloat32);  // the float32 weight promotes, as in transformers
  norm->to(torch::kBFloat16);
  EXPECT_EQ(norm(x.to(torch::kBFloat16)).scalar_type(), torch::kBFloat16);
}

TEST(SwiGLUMLP, IsDownOfSiluGateTimesUp) {
  torch::manual_seed(1);
  SwiGLUMLP mlp(8, 20, false);
  auto x = torch::randn({2, 3, 8});
  auto g = torch::matmul(x, mlp->gate_proj->weight.t()), u = torch::matmul(x, mlp->up_proj->weight.t());
  auto want = torch::matmul(g * torch::sigmoid(g) * u, mlp->down_proj->weight.t());
  EXPECT_LT(max_abs_diff(mlp(x), want), 1e-5);
  EXPECT_EQ(mlp->named_parameters().size(), 3u);  // gate_proj, up_proj, down_proj weights only
}

TEST(Rope, RotatesEachChannelPairByPositionTimesFrequency) {
  RopeOptions o;
  o.head_dim = 8;
  o.theta = 10000.0;
  const auto inv = rope_inv_freq(o);
  ASSERT_EQ(inv.numel(), 4);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(inv[i].item<double>(), std::pow(10000.0, -2.0 * static_cast<double>(i) / 8.0), 1e-7);
  }
  torch::manual_seed(2);
  auto x = torch::randn({1, 2, 3, 8});  // (B, heads, T, d)
  auto pos = torch::tensor({{0, 5, 17}}, torch::kLong);
  auto [cos, sin] = rope_cos_sin(inv, pos);
  auto y = apply_rope(x, cos, sin);
  // Channel pair (i, i + 4) at position m: a 2-D rotation by m * w_i.
  for (int64_t t = 0; t < 3; ++t) {
    const double m = pos[0][t].item<double>();
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t i = 0; i < 4; ++i) {
        const double a = x[0][h][t][i].item<double>(), b = x[0][h][t][i + 4].item<double>();
        const double ang = m * std::pow(10000.0, -2.0 * static_cast<double>(i) / 8.0);
        EXPECT_NEAR(y[0][h][t][i].item<double>(), a * std::cos(ang) - b * std::sin(ang), 1e-4);
        EXPECT_NEAR(y[0][h][t][i + 4].item<double>(), b * std::cos(ang) + a * std::sin(ang), 1e-4);
      }
    }
  }
}

TEST(Rope, ScoresDependOnlyOnTheRelativePosition) {
  RopeOptions o;
  o.head_dim = 16;
  const auto inv = rope_inv_freq(o);
  torch::manual_seed(3);
  auto q = torch::randn({1, 1, 1, 16}, torch::kFloat64), k = torch::randn({1, 1, 1, 16}, torch::kFloat64);
  auto score = [&](int64_t m, int64_t n) {
    auto [cq, sq] = rope_cos_sin(inv, torch::tensor({{m}}, torch::kLong));
    auto [ck, sk] = rope_cos_sin(inv, torch::tensor({{n}}, torch::kLong));
    return (apply_rope(q, cq.to(torch::kFloat64), sq.to(torch::kFloat64)) *
            apply_rope(k, ck.to(torch::kFloat64), sk.to(torch::kFloat64))).sum().item<double>();
  };
  EXPECT_NEAR(score(7, 3), score(104, 100), 1e-4);
  EXPECT_NEAR(score(3, 3), (q * k).sum().item<double>(), 1e-5);  // equal positions: no rotation
  EXPECT_GT(std::abs(score(7, 3) - score(7, 5)), 1e-3);            // but the distance matters
}

TEST(Rope, Llama3ScalingKeepsHighFrequenciesAndStretchesLowOnes) {
  // Llama 3.1 8B: head_dim 128, theta 500000, factor 8, low 1, high 4, original context 8192.
  RopeOptions o;
  o.head_dim = 128;
  o.theta = 500000.0;
  const auto plain = rope_inv_freq(o).to(torch::kFloat64);
  o.scaling = "llama3";
  const auto scaled = rope_inv_freq(o).to(torch::kFloat64);
  int kept = 0, divided = 0, blended = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const double w = plain[i].item<double>(), s = scaled[i].item<double>();
    const double wavelen = 2 * M_PI / w;
    double want;
    if (wavelen < 8192.0 / 4.0) {
      want = w, ++kept;
    } else if (wavelen > 8192.0 / 1.0) {
      want = w / 8.0, ++divided;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - smooth) * w / 8.0 + smooth * w, ++blended;
    }
    EXPECT_NEAR(s / want, 1.0, 1e-5) << "frequency " << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
  o.scaling = "yarn";
  EXPECT_THROW(rope_inv_freq(o), volt::Error);
}

}  // namespace
}  // namespace volt::nn

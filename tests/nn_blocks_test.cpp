// The building blocks against their definitions, computed independently here in double precision:
// RMSNorm (Llama's, and Gemma's (1 + w)), the gated MLPs (SwiGLU, GeGLU, Phi-3's fused gate_up),
// the mixture of experts (router, top-k, the token-grouped loop, the load-balancing loss), RoPE
// (pairwise rotations, relative positions) and Llama 3.1's frequency scaling.
#include <gtest/gtest.h>

#include <cmath>

#include "volt/core/check.h"
#include "volt/nn/mlp.h"
#include "volt/nn/moe.h"
#include "volt/nn/norm.h"
#include "volt/nn/rope.h"

namespace volt::nn {
namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(RMSNorm, IsXOverItsRootMeanSquareTimesTheWeight) {
  torch::manual_seed(0);
  Norm norm(16, NormOptions{"rmsnorm", 1e-6, false, false});
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

TEST(RMSNorm, GemmasUnitOffsetScalesByOnePlusTheWeightInFloat32) {
  torch::manual_seed(4);
  Norm norm(16, NormOptions{"rmsnorm", 1e-6, false, true});
  EXPECT_EQ(norm->weight.abs().sum().item<double>(), 0.0);  // (1 + 0): the identity at init
  {
    torch::NoGradGuard ng;
    norm->weight.uniform_(-0.5, 0.5);
  }
  auto x = torch::randn({3, 5, 16});
  auto xd = x.to(torch::kFloat64);
  auto want =
      xd / torch::sqrt(xd.pow(2).mean(-1, true) + 1e-6) * (1 + norm->weight.to(torch::kFloat64));
  EXPECT_LT(max_abs_diff(norm(x), want), 1e-5);
  // Gemma multiplies in float32 and casts the product: a bf16 input comes back bf16.
  EXPECT_EQ(norm(x.to(torch::kBFloat16)).scalar_type(), torch::kBFloat16);
}

MLPOptions gated(int64_t c, int64_t h, const std::string& activation, bool fused = false) {
  MLPOptions o;
  o.n_embd = c, o.hidden = h, o.gated = true, o.activation = activation, o.fused_gate_up = fused;
  return o;
}

TEST(SwiGLUMLP, IsDownOfSiluGateTimesUp) {
  torch::manual_seed(1);
  MLP mlp(gated(8, 20, "silu"));
  auto x = torch::randn({2, 3, 8});
  auto g = torch::matmul(x, mlp->gate->weight.t()), u = torch::matmul(x, mlp->up->weight.t());
  auto want = torch::matmul(g * torch::sigmoid(g) * u, mlp->down->weight.t());
  EXPECT_LT(max_abs_diff(mlp(x), want), 1e-5);
  EXPECT_EQ(mlp->named_parameters().size(), 3u);  // gate_proj, up_proj, down_proj weights only
  EXPECT_TRUE(mlp->named_parameters().contains("gate_proj.weight"));
}

TEST(GeGLUMLP, TanhGeluGateAndPhi3sFusedGateUpSplitGateFirst) {
  torch::manual_seed(5);
  MLP geglu(gated(8, 12, "gelu_tanh"));
  auto x = torch::randn({2, 3, 8}, torch::kFloat64);
  geglu->to(torch::kFloat64);
  auto g = torch::matmul(x, geglu->gate->weight.t()), u = torch::matmul(x, geglu->up->weight.t());
  const double c = std::sqrt(2.0 / M_PI);
  auto gelu = 0.5 * g * (1 + torch::tanh(c * (g + 0.044715 * g.pow(3))));
  EXPECT_LT(max_abs_diff(geglu(x), torch::matmul(gelu * u, geglu->down->weight.t())), 1e-10);
  MLP fused(gated(8, 12, "silu", true));
  fused->to(torch::kFloat64);
  EXPECT_EQ(fused->gate_up->weight.sizes(), (std::vector<int64_t>{24, 8}));
  auto gu = torch::matmul(x, fused->gate_up->weight.t());
  auto gf = gu.narrow(-1, 0, 12), uf = gu.narrow(-1, 12, 12);  // gate first, then up
  EXPECT_LT(
      max_abs_diff(fused(x), torch::matmul(gf * torch::sigmoid(gf) * uf, fused->down->weight.t())),
      1e-10);
  EXPECT_THROW(MLP(gated(8, 12, "relu6")), Error);
}

TEST(MoE, RoutesEachTokenThroughItsTopKExpertsWeightedByTheRouter) {
  torch::manual_seed(6);
  MoEOptions o;
  o.n_embd = 8, o.expert_hidden = 6, o.n_experts = 5, o.top_k = 2;
  for (bool norm : {true, false}) {
    o.norm_topk_prob = norm;
    MoE moe(o);
    moe->to(torch::kFloat64);
    auto x = torch::randn({2, 7, 8}, torch::kFloat64);
    auto got = moe(x);
    // Token by token: softmax over the router's logits, the k largest, their experts' outputs
    // mixed.
    auto flat = x.reshape({-1, 8});
    auto want = torch::zeros_like(flat);
    for (int64_t n = 0; n < flat.size(0); ++n) {
      auto p = torch::softmax(torch::matmul(flat[n], moe->router->weight.t()), -1);
      auto [w, e] = p.topk(2);
      if (norm) w = w / w.sum();
      for (int64_t j = 0; j < 2; ++j) {
        auto* expert = moe->experts[e[j].item<int64_t>()]->as<MLPImpl>();
        want[n] += w[j] * expert->forward(flat[n].unsqueeze(0)).squeeze(0);
      }
    }
    EXPECT_LT(max_abs_diff(got.reshape({-1, 8}), want), 1e-10) << "norm_topk_prob " << norm;
    EXPECT_EQ(moe->router_logits().sizes(), (std::vector<int64_t>{14, 5}));
  }
}

TEST(MoE, LoadBalancingLossIsOneWhenRoutingIsUniformAndGrowsAsItCollapses) {
  // Uniform probabilities over E experts and picks spread evenly: E * sum_e (k/E)/k ... = 1.
  const int64_t e = 4;
  auto uniform = torch::zeros({8, e});  // equal logits: every expert 1/E; topk picks ties in order
  const double balanced = load_balancing_loss({uniform}, e, 1).item<double>();
  // Equal logits put every token on expert 0 (topk's tie order): f_0 = 1, P_e = 1/4: E * 1/4 = 1.
  EXPECT_NEAR(balanced, 1.0, 1e-6);
  auto collapsed = torch::zeros({8, e});
  collapsed.select(1, 2).fill_(10.0);  // every token prefers expert 2, with probability ~1
  EXPECT_GT(load_balancing_loss({collapsed}, e, 1).item<double>(), 3.9);
  // Spread routing with confident picks: tokens alternate over the experts.
  auto spread = torch::zeros({8, e});
  for (int64_t n = 0; n < 8; ++n) spread[n][n % e] = 10.0;
  EXPECT_NEAR(load_balancing_loss({spread}, e, 1).item<double>(), 1.0, 1e-3);
  // Several layers are concatenated, as transformers does.
  EXPECT_NEAR(load_balancing_loss({spread, collapsed}, e, 1).item<double>(),
              load_balancing_loss({torch::cat({spread, collapsed})}, e, 1).item<double>(), 1e-12);
}

TEST(Rope, RotatesEachChannelPairByPositionTimesFrequency) {
  RopeOptions o;
  o.head_dim = 8;
  o.theta = 10000.0;
  const auto inv = rope_inv_freq(o);
  ASSERT_EQ(inv.numel(), 4);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(inv[i].item<double>(), std::pow(10000.0, -2.0 * static_cast<double>(i) / 8.0),
                1e-7);
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
  auto q = torch::randn({1, 1, 1, 16}, torch::kFloat64),
       k = torch::randn({1, 1, 1, 16}, torch::kFloat64);
  auto score = [&](int64_t m, int64_t n) {
    auto [cq, sq] = rope_cos_sin(inv, torch::tensor({{m}}, torch::kLong));
    auto [ck, sk] = rope_cos_sin(inv, torch::tensor({{n}}, torch::kLong));
    return (apply_rope(q, cq.to(torch::kFloat64), sq.to(torch::kFloat64)) *
            apply_rope(k, ck.to(torch::kFloat64), sk.to(torch::kFloat64)))
        .sum()
        .item<double>();
  };
  EXPECT_NEAR(score(7, 3), score(104, 100), 1e-4);
  EXPECT_NEAR(score(3, 3), (q * k).sum().item<double>(), 1e-5);  // equal positions: no rotation
  EXPECT_GT(std::abs(score(7, 3) - score(7, 5)), 1e-3);          // but the distance matters
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

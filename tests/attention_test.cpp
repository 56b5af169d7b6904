// The fused CPU attention kernel must compute the same function (and gradients) as the explicit
// softmax(QK^T/sqrt(d) + causal mask) V it replaces.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "volt/core/check.h"
#include "volt/nn/attention.h"
#include "volt/nn/cpu_attention.h"

namespace {

torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t t = q.size(2), s = k.size(2);
  auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  auto future = torch::ones({t, s}, torch::kBool).triu(s - t + 1);
  att = att.masked_fill(future, -std::numeric_limits<float>::infinity());
  return torch::matmul(torch::softmax(att, -1), v);
}

void expect_same_function(int64_t b, int64_t nh, int64_t t, int64_t s, int64_t hs) {
  torch::manual_seed(7);
  auto q = torch::randn({b, nh, t, hs}, torch::requires_grad());
  auto k = torch::randn({b, nh, s, hs}, torch::requires_grad());
  auto v = torch::randn({b, nh, s, hs}, torch::requires_grad());
  auto g = torch::randn({b, nh, t, hs});

  auto ref = reference_attention(q, k, v);
  auto ref_grads = torch::autograd::grad({ref}, {q, k, v}, {g});
  auto out = volt::nn::cpu_causal_attention(q, k, v);
  auto grads = torch::autograd::grad({out}, {q, k, v}, {g});

  EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-5)) << (out - ref).abs().max();
  const char* names[] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(grads[i], ref_grads[i], 1e-4, 1e-5))
        << names[i] << " differs by " << (grads[i] - ref_grads[i]).abs().max();
  }
}

TEST(CpuAttention, MatchesExplicitAttentionAndGradients) {
  ASSERT_TRUE(volt::nn::cpu_fused_attention_available(torch::zeros({1}))) << "no CBLAS sgemm found";
  expect_same_function(2, 3, 16, 16, 8);
  expect_same_function(1, 4, 64, 64, 32);  // BabyGPT's slice shape
}

TEST(CpuAttention, CachedKeysSeeEarlierPositions) {
  expect_same_function(2, 2, 1, 9, 4);  // one new query over a cache of 8 + itself
  expect_same_function(1, 2, 3, 7, 4);
}

TEST(CpuAttention, NonContiguousInputs) {
  // c_attn's output split into heads gives transposed, non-contiguous views.
  torch::manual_seed(3);
  auto qkv = torch::randn({2, 5, 3 * 8});
  auto parts = qkv.split(8, 2);
  auto q = parts[0].view({2, 5, 2, 4}).transpose(1, 2);
  auto k = parts[1].view({2, 5, 2, 4}).transpose(1, 2);
  auto v = parts[2].view({2, 5, 2, 4}).transpose(1, 2);
  ASSERT_FALSE(q.is_contiguous());
  EXPECT_TRUE(torch::allclose(volt::nn::cpu_causal_attention(q, k, v), reference_attention(q, k, v),
                              1e-5, 1e-5));
}

TEST(CpuAttention, RejectsMismatchedShapes) {
  auto q = torch::randn({1, 2, 4, 8});
  auto k = torch::randn({1, 2, 3, 8});  // fewer keys than queries
  EXPECT_THROW(volt::nn::cpu_causal_attention(q, k, k), volt::Error);
}

TEST(CausalSelfAttention, ModuleComputesMultiHeadCausalAttention) {
  torch::manual_seed(1);
  volt::nn::CausalSelfAttention attn(volt::nn::CausalSelfAttentionOptions(16, 2).max_seq_len(8));
  auto x = torch::randn({2, 8, 16});
  // By hand: project, split into 2 heads of 8, attend causally, merge, project.
  auto qkv = attn->c_attn(x).split(16, 2);
  auto heads = [](const torch::Tensor& t) { return t.view({2, 8, 2, 8}).transpose(1, 2); };
  auto y = reference_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]));
  auto expected = attn->c_proj(y.transpose(1, 2).contiguous().view({2, 8, 16}));
  EXPECT_TRUE(torch::allclose(attn(x), expected, 1e-5, 1e-5));
}

}  // namespace

// The fused CPU attention kernel must compute the same function (and gradients) as the explicit
// softmax(QK^T/sqrt(d) + causal mask) V it replaces, also for packed rows, where query i sees only
// keys start(i) <= j <= i of its own document.
#include "volt/nn/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "volt/core/check.h"
#include "volt/nn/cpu_attention.h"

namespace {

torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v) {
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

// Packed rows: the reference masks j > i and j < start(i) explicitly, written independently of
// the library's mask code.
torch::Tensor reference_packed_attention(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const torch::Tensor& key_start) {
  const int64_t b = q.size(0), t = q.size(2);
  auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  auto mask = torch::zeros({b, 1, t, t}, torch::kBool);
  auto m = mask.accessor<bool, 4>();
  auto st = key_start.accessor<int64_t, 2>();
  for (int64_t n = 0; n < b; ++n) {
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < t; ++j) m[n][0][i][j] = j > i || j < st[n][i];
    }
  }
  att = att.masked_fill(mask, -std::numeric_limits<float>::infinity());
  return torch::matmul(torch::softmax(att, -1), v);
}

// key_start of one row from its documents' lengths: each token's document's first index.
std::vector<int64_t> starts_of(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> out;
  int64_t first = 0;
  for (int64_t len : lengths) {
    for (int64_t i = 0; i < len; ++i) out.push_back(first);
    first += len;
  }
  return out;
}

// Three rows of T = 12, each split differently: several documents, one-token documents (which see
// only themselves), and a row that is a single document (plain causal).
torch::Tensor packed_key_start() {
  std::vector<int64_t> all;
  for (const auto& lengths : std::vector<std::vector<int64_t>>{{5, 1, 6}, {12}, {1, 3, 1, 7}}) {
    auto row = starts_of(lengths);
    all.insert(all.end(), row.begin(), row.end());
  }
  return torch::tensor(all, torch::kLong).view({3, 12});
}

TEST(CpuAttention, PackedDocumentsMatchExplicitMaskAndGradients) {
  ASSERT_TRUE(volt::nn::cpu_fused_attention_available(torch::zeros({1}))) << "no CBLAS sgemm found";
  torch::manual_seed(11);
  const int64_t b = 3, nh = 2, t = 12, hs = 8;
  auto key_start = packed_key_start();
  auto q = torch::randn({b, nh, t, hs}, torch::requires_grad());
  auto k = torch::randn({b, nh, t, hs}, torch::requires_grad());
  auto v = torch::randn({b, nh, t, hs}, torch::requires_grad());
  auto g = torch::randn({b, nh, t, hs});

  auto ref = reference_packed_attention(q, k, v, key_start);
  auto ref_grads = torch::autograd::grad({ref}, {q, k, v}, {g});
  auto out = volt::nn::cpu_causal_attention(q, k, v, key_start);
  auto grads = torch::autograd::grad({out}, {q, k, v}, {g});

  EXPECT_LE((out - ref).abs().max().item<double>(), 1e-5);
  const char* names[] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE((grads[i] - ref_grads[i]).abs().max().item<double>(), 1e-5) << names[i];
  }
  // A one-token document's output is its own value vector: it attends to nothing else.
  EXPECT_TRUE(torch::allclose(out[0].select(1, 5), v[0].select(1, 5), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(out[2].select(1, 0), v[2].select(1, 0), 1e-6, 1e-6));
  // The single-document row is plain causal attention.
  auto plain = reference_attention(q.narrow(0, 1, 1), k.narrow(0, 1, 1), v.narrow(0, 1, 1));
  EXPECT_LE((out.narrow(0, 1, 1) - plain).abs().max().item<double>(), 1e-5);
}

TEST(CpuAttention, PackedRejectsCacheAndOutOfRangeStarts) {
  auto q = torch::randn({1, 2, 4, 8});
  auto kv = torch::randn({1, 2, 6, 8});
  auto starts = torch::zeros({1, 4}, torch::kLong);
  EXPECT_THROW(volt::nn::cpu_causal_attention(q, kv, kv, starts), volt::Error);  // S != T
  EXPECT_THROW(volt::nn::cpu_causal_attention(q, q, q, torch::zeros({1, 3}, torch::kLong)),
               volt::Error);
  auto late = torch::tensor({{0, 0, 3, 2}}, torch::kLong);  // start(2) = 3 > 2
  EXPECT_THROW(volt::nn::cpu_causal_attention(q, q, q, late), volt::Error);
  auto negative = torch::tensor({{0, -1, 0, 0}}, torch::kLong);
  EXPECT_THROW(volt::nn::cpu_causal_attention(q, q, q, negative), volt::Error);
}

TEST(CausalSelfAttention, DocumentKeyStartIsEachDocumentsFirstIndex) {
  auto ids = torch::tensor({{0, 0, 1, 1, 1, -1, -1}, {4, 4, 4, 4, 4, 4, 4}}, torch::kLong);
  auto want = torch::tensor({{0, 0, 2, 2, 2, 5, 5}, {0, 0, 0, 0, 0, 0, 0}}, torch::kLong);
  EXPECT_TRUE(torch::equal(volt::nn::document_key_start(ids), want));
  // Documents are contiguous runs: an id seen again later is a new document.
  auto again = torch::tensor({{3, 3, 1, 3, 3}}, torch::kLong);
  EXPECT_TRUE(torch::equal(volt::nn::document_key_start(again),
                           torch::tensor({{0, 0, 2, 3, 3}}, torch::kLong)));
  EXPECT_TRUE(torch::equal(volt::nn::document_key_start(torch::tensor({{7}}, torch::kLong)),
                           torch::zeros({1, 1}, torch::kLong)));
}

TEST(CpuAttention, RejectsMismatchedShapes) {
  auto q = torch::randn({1, 2, 4, 8});
  auto k = torch::randn({1, 2, 3, 8});  // fewer keys than queries
  EXPECT_THROW(volt::nn::cpu_causal_attention(q, k, k), volt::Error);
}

// GPT-2's attention: one fused (q | k | v) projection with biases, no RoPE.
volt::nn::AttentionOptions gpt2_attention(int64_t c, int64_t nh) {
  volt::nn::AttentionOptions o;
  o.n_embd = c, o.n_head = nh, o.n_kv_head = nh, o.head_dim = c / nh;
  o.qkv_bias = o.out_bias = o.fused_qkv = true;
  o.names.qkv = "c_attn", o.names.out = "c_proj";
  return o;
}

TEST(CausalSelfAttention, ModuleComputesMultiHeadCausalAttention) {
  torch::manual_seed(1);
  volt::nn::Attention attn(gpt2_attention(16, 2));
  auto x = torch::randn({2, 8, 16});
  // By hand: project, split into 2 heads of 8, attend causally, merge, project.
  auto qkv = attn->qkv(x).split(16, 2);
  auto heads = [](const torch::Tensor& t) { return t.view({2, 8, 2, 8}).transpose(1, 2); };
  auto y = reference_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]));
  auto expected = attn->out(y.transpose(1, 2).contiguous().view({2, 8, 16}));
  EXPECT_TRUE(torch::allclose(attn(x), expected, 1e-5, 1e-5));
  // Registered under GPT-2's names, so the state dict is transformers'.
  EXPECT_TRUE(attn->named_parameters().contains("c_attn.weight"));
  EXPECT_TRUE(attn->named_parameters().contains("c_proj.bias"));
}

// Both CPU paths of the module honour key_start: float32 takes the fused kernel, float64 the
// explicit masked softmax (the fused kernel is float32 only).
TEST(CausalSelfAttention, ModuleHonoursPackedDocumentsOnBothPaths) {
  torch::manual_seed(2);
  volt::nn::Attention attn(gpt2_attention(16, 2));
  auto key_start = packed_key_start();  // (3, 12)
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    attn->to(dtype);
    auto x = torch::randn({3, 12, 16}, dtype);
    auto qkv = attn->qkv(x).split(16, 2);
    auto heads = [](const torch::Tensor& t) { return t.view({3, 12, 2, 8}).transpose(1, 2); };
    auto y = reference_packed_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), key_start);
    auto expected = attn->out(y.transpose(1, 2).contiguous().view({3, 12, 16}));
    auto got = attn(x, torch::Tensor(), torch::Tensor(), nullptr, 0, key_start);
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5) << dtype;
    // And it is not plain causal attention (the test would notice a dropped mask).
    EXPECT_GT((attn(x) - expected).abs().max().item<double>(), 1e-3) << dtype;
  }
  auto x = torch::randn({3, 12, 16}, torch::kFloat64);
  EXPECT_THROW(
      attn(x, torch::Tensor(), torch::Tensor(), nullptr, 0, torch::zeros({3, 11}, torch::kLong)),
      volt::Error);
}

// Grouped-query attention with a sliding window and a cache, against a reference written here
// with loops over heads and an explicit mask, in double precision (the explicit path) and in
// float32 (the fused CPU kernel where it applies).
torch::Tensor reference_gqa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            int64_t window, double scale = 0.0, double softcap = 0.0) {
  const int64_t nh = q.size(1), nkv = k.size(1), t = q.size(2), s = k.size(2);
  auto out = torch::zeros_like(q);
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  for (int64_t h = 0; h < nh; ++h) {
    const int64_t kvh = h / (nh / nkv);
    auto scores =
        torch::matmul(q.select(1, h), k.select(1, kvh).transpose(-2, -1)) * scale;  // (B, T, S)
    if (softcap > 0) scores = softcap * torch::tanh(scores / softcap);
    for (int64_t i = 0; i < t; ++i) {
      const int64_t pos = s - t + i;
      for (int64_t j = 0; j < s; ++j) {
        const bool hidden = j > pos || (window > 0 && j <= pos - window);
        if (hidden)
          scores.select(1, i).select(1, j).fill_(-std::numeric_limits<double>::infinity());
      }
    }
    out.select(1, h).copy_(torch::matmul(torch::softmax(scores, -1), v.select(1, kvh)));
  }
  return out;
}

TEST(GroupedQueryAttention, MatchesPerHeadReferenceWithWindowsAndCaches) {
  torch::manual_seed(5);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (int64_t window : {0, 1, 3, 100}) {
      for (int64_t cached : {0, 4}) {
        auto q = torch::randn({2, 4, 6, 8}, dtype);
        auto k = torch::randn({2, 2, 6 + cached, 8}, dtype),
             v = torch::randn({2, 2, 6 + cached, 8}, dtype);
        auto got = volt::nn::causal_attention(q, k, v, torch::Tensor(), window);
        auto want = reference_gqa(q.to(torch::kFloat64), k.to(torch::kFloat64),
                                  v.to(torch::kFloat64), window);
        EXPECT_LE((got.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-5)
            << dtype << " window " << window << " cached " << cached;
      }
    }
  }
  // Window 1: each token sees only itself, so the output is its own value vector.
  auto q = torch::randn({1, 2, 5, 4}), k = torch::randn({1, 1, 5, 4}),
       v = torch::randn({1, 1, 5, 4});
  auto self_only = volt::nn::causal_attention(q, k, v, torch::Tensor(), 1);
  EXPECT_TRUE(torch::allclose(self_only.select(1, 1), v.select(1, 0), 1e-5, 1e-6));
  EXPECT_THROW(
      volt::nn::causal_attention(q, torch::randn({1, 3, 5, 4}), torch::randn({1, 3, 5, 4})),
      volt::Error);
}

TEST(GroupedQueryAttention, ScaleAndSoftCapMatchTheReference) {
  torch::manual_seed(8);
  auto q = torch::randn({2, 4, 6, 8}, torch::kFloat64) * 3,
       k = torch::randn({2, 2, 6, 8}, torch::kFloat64) * 3;
  auto v = torch::randn({2, 2, 6, 8}, torch::kFloat64);
  for (double scale : {0.0, 1.0 / std::sqrt(24.0)}) {
    for (double cap : {0.0, 2.0}) {
      for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
        auto got = volt::nn::causal_attention(q.to(dtype), k.to(dtype), v.to(dtype),
                                              torch::Tensor(), 3, 0.0, scale, cap);
        auto want = reference_gqa(q, k, v, 3, scale, cap);
        EXPECT_LE((got.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-5)
            << "scale " << scale << " cap " << cap << " " << dtype;
      }
    }
  }
  // The cap bites: the capped scores differ from the plain ones.
  EXPECT_GT((volt::nn::causal_attention(q, k, v, {}, 0, 0.0, 0.0, 2.0) -
             volt::nn::causal_attention(q, k, v))
                .abs()
                .max()
                .item<double>(),
            1e-3);
}

TEST(GroupedQueryAttention, ModuleIsProjectionsRopeAndGroupedAttention) {
  torch::manual_seed(6);
  volt::nn::AttentionOptions o;
  o.n_embd = 16, o.n_head = 4, o.n_kv_head = 2, o.head_dim = 4, o.sliding_window = 3,
  o.rotary_dim = 4;
  volt::nn::Attention attn(o);
  attn->to(torch::kFloat64);
  EXPECT_EQ(attn->k->weight.sizes(), (std::vector<int64_t>{8, 16}));
  volt::nn::RopeOptions ro;
  ro.head_dim = 4;
  auto pos = torch::arange(7, torch::kLong).view({1, 7}).expand({2, 7});
  auto [cos, sin] = volt::nn::rope_cos_sin(volt::nn::rope_inv_freq(ro), pos);
  auto x = torch::randn({2, 7, 16}, torch::kFloat64);
  auto heads = [](const torch::Tensor& y, int64_t n) {
    return y.view({2, 7, n, 4}).transpose(1, 2);
  };
  auto q = volt::nn::apply_rope(heads(attn->q(x), 4), cos, sin);
  auto k = volt::nn::apply_rope(heads(attn->k(x), 2), cos, sin);
  auto y = reference_gqa(q, k, heads(attn->v(x), 2), 3);
  auto want = attn->out(y.transpose(1, 2).contiguous().view({2, 7, 16}));
  EXPECT_LE((attn(x, cos, sin) - want).abs().max().item<double>(), 1e-10);
  // Decoding with a cache of kv heads gives the same last output as the full forward.
  volt::nn::KVCache cache(1, 2, 2, 7, 4, x.options());
  attn(x.narrow(1, 0, 6), cos.narrow(1, 0, 6), sin.narrow(1, 0, 6), &cache, 0);
  cache.advance(6);
  auto last = attn(x.narrow(1, 6, 1), cos.narrow(1, 6, 1), sin.narrow(1, 6, 1), &cache, 0);
  EXPECT_LE((last.select(1, 0) - want.select(1, 6)).abs().max().item<double>(), 1e-10);
}

}  // namespace

// QK-norm (Qwen3, Gemma 3) normalises each head of q and k before RoPE; partial rotary (Phi) turns
// only the first channels of each head; a fused (q | k | v) projection (Phi-3) splits by widths.
TEST(GroupedQueryAttention, QkNormPartialRotaryAndFusedProjectionsMatchTheReference) {
  torch::manual_seed(9);
  volt::nn::AttentionOptions o;
  o.n_embd = 16, o.n_head = 4, o.n_kv_head = 2, o.head_dim = 8, o.rotary_dim = 4,
  o.fused_qkv = true;
  o.qk_norm = true;
  o.qk_norm_options = {"rmsnorm", 1e-6, false, true};  // Gemma's (1 + w)
  volt::nn::Attention attn(o);
  attn->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    attn->q_norm->weight.uniform_(-0.5, 0.5), attn->k_norm->weight.uniform_(-0.5, 0.5);
  }
  EXPECT_EQ(attn->qkv->weight.sizes(), (std::vector<int64_t>{(4 + 2 + 2) * 8, 16}));
  volt::nn::RopeOptions ro;
  ro.head_dim = 4;
  auto pos = torch::arange(5, torch::kLong).view({1, 5});
  auto [cos, sin] = volt::nn::rope_cos_sin(volt::nn::rope_inv_freq(ro), pos);
  auto x = torch::randn({1, 5, 16}, torch::kFloat64);
  auto parts = attn->qkv(x).split_with_sizes({32, 16, 16}, -1);
  auto heads = [](const torch::Tensor& y, int64_t n) {
    return y.view({1, 5, n, 8}).transpose(1, 2);
  };
  auto norm = [](const torch::Tensor& y, const torch::Tensor& w) {
    return y * torch::rsqrt(y.pow(2).mean(-1, true) + 1e-6) * (1 + w);
  };
  auto rope_half = [&](const torch::Tensor& y) {  // the first 4 channels turn, the last 4 pass
    auto head = y.narrow(-1, 0, 4);
    auto rotated = torch::cat({-head.narrow(-1, 2, 2), head.narrow(-1, 0, 2)}, -1);
    return torch::cat({head * cos.unsqueeze(1) + rotated * sin.unsqueeze(1), y.narrow(-1, 4, 4)},
                      -1);
  };
  auto q = rope_half(norm(heads(parts[0], 4), attn->q_norm->weight));
  auto k = rope_half(norm(heads(parts[1], 2), attn->k_norm->weight));
  auto y = reference_gqa(q, k, heads(parts[2], 2), 0);
  auto want = attn->out(y.transpose(1, 2).contiguous().view({1, 5, 32}));
  EXPECT_LE((attn(x, cos, sin) - want).abs().max().item<double>(), 1e-10);
}

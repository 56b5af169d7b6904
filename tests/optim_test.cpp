// volt's optimizer layer: weight-decay parameter groups, the flat AdamW against LibTorch's own
// torch::optim::AdamW, its state round trip, the flat-buffer views, and clip_grad_norm.
#include "volt/train/optim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "test_helpers.h"
#include "volt/core/check.h"
#include "volt/nn/norm.h"

namespace volt {
namespace {

// Shares the embedding's weight as its own parameter "weight" (a tied output projection).
struct TiedHeadImpl : torch::nn::Module {
  explicit TiedHeadImpl(const torch::Tensor& w) { weight = register_parameter("weight", w); }
  torch::Tensor weight;
};
TORCH_MODULE(TiedHead);

struct GroupsNetImpl : torch::nn::Module {
  GroupsNetImpl() {
    emb = register_module("emb", torch::nn::Embedding(10, 4));
    fc = register_module("fc", torch::nn::Linear(4, 6));
    ln = register_module("ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({6})));
    vln = register_module("vln",
                          volt::nn::Norm(6, volt::nn::NormOptions{"layernorm", 1e-5, true, false}));
    frozen = register_module("frozen", torch::nn::Linear(6, 6));
    frozen->weight.set_requires_grad(false);
    frozen->bias.set_requires_grad(false);
    out = register_module("out", torch::nn::Linear(torch::nn::LinearOptions(6, 4).bias(false)));
    head = register_module("head", TiedHead(emb->weight));
  }
  torch::Tensor forward(const torch::Tensor& ids) {
    auto x = fc(emb(ids));
    x = vln(ln(x));
    x = x + frozen(x);
    return torch::linear(out(x), head->weight);  // (.., 10)
  }
  torch::nn::Embedding emb{nullptr};
  torch::nn::Linear fc{nullptr}, frozen{nullptr}, out{nullptr};
  torch::nn::LayerNorm ln{nullptr};
  volt::nn::Norm vln{nullptr};
  TiedHead head{nullptr};
};
TORCH_MODULE(GroupsNet);

TEST(WeightDecayGroups, SplitsMatricesFromBiasesNormsAndEmbeddings) {
  GroupsNet net;
  const auto groups = weight_decay_groups(*net, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "decay");
  EXPECT_EQ(groups[1].name, "no_decay");
  EXPECT_EQ(groups[0].weight_decay, 0.1);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(groups[0].names, (std::vector<std::string>{"fc.weight", "out.weight"}));
  // The tied head weight appears once, under the embedding's name; frozen parameters not at all.
  EXPECT_EQ(groups[1].names, (std::vector<std::string>{"emb.weight", "fc.bias", "ln.weight",
                                                       "ln.bias", "vln.weight", "vln.bias"}));
  // params and names line up, and are the module's own tensors (not copies).
  for (const auto& g : groups) {
    ASSERT_EQ(g.params.size(), g.names.size());
    auto named = net->named_parameters();
    for (size_t i = 0; i < g.params.size(); ++i) {
      EXPECT_TRUE(g.params[i].is_same(named[g.names[i]])) << g.names[i];
    }
  }
}

// Regression test (src/train/optim.cpp, is_embedding_param): it used to walk module.modules(),
// whose default include_self = true calls shared_from_this() on the top-level module, so
// weight_decay_groups threw a LibTorch c10::Error ("It looks like you attempted to retrieve your
// top-level module as a shared_ptr...") for any module not owned by a std::shared_ptr, e.g. a
// LightningModule on the stack passed to Trainer::fit(LightningModule&).
TEST(WeightDecayGroups, WorksForAModuleNotOwnedByASharedPtr) {
  GroupsNetImpl on_stack;
  std::vector<ParamGroup> groups;
  try {
    groups = weight_decay_groups(on_stack, 0.1);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].names, (std::vector<std::string>{"fc.weight", "out.weight"}));
  EXPECT_EQ(groups[1].names.front(), "emb.weight");
}

TEST(WeightDecayGroups, EmptyDecayGroupIsDroppedByAdamW) {
  torch::nn::Sequential seq(torch::nn::Embedding(5, 3));
  auto groups = weight_decay_groups(*seq, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_TRUE(groups[0].params.empty());
  AdamW opt(groups, AdamWOptions{});
  ASSERT_EQ(opt.param_groups().size(), 1u);
  EXPECT_EQ(opt.param_groups()[0].name, "no_decay");
  EXPECT_EQ(opt.param_groups()[0].lr, 1e-3);  // groups without a rate take the default
}

// Two identical small parameter sets: one under volt's AdamW, one under LibTorch's.
struct Pair {
  std::vector<torch::Tensor> ours, theirs;  // [decay..., no_decay...]
};

Pair make_params() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  Pair p;
  for (auto shape : std::vector<std::vector<int64_t>>{{4, 3}, {5, 2}, {3}, {7}}) {
    auto t = torch::randn(shape, gen);
    p.ours.push_back(t.clone().set_requires_grad(true));
    p.theirs.push_back(t.clone().set_requires_grad(true));
  }
  return p;
}

std::vector<torch::Tensor> grads_for_step(int step, const std::vector<torch::Tensor>& like) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + static_cast<uint64_t>(step));
  std::vector<torch::Tensor> g;
  for (const auto& p : like) g.push_back(torch::randn(p.sizes(), gen) * (0.1 * (step + 1)));
  return g;
}

TEST(AdamW, MatchesLibTorchAdamWStepForStepWithWeightDecay) {
  Pair p = make_params();
  const double lr = 3e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
  ParamGroup decay{"decay", {"w0", "w1"}, {p.ours[0], p.ours[1]}, 0, 0, wd};
  ParamGroup no_decay{"no_decay", {"b0", "b1"}, {p.ours[2], p.ours[3]}, 0, 0, 0.0};
  AdamW ours({decay, no_decay}, AdamWOptions{lr, b1, b2, eps, wd});

  auto topt = torch::optim::AdamWOptions(lr).betas({b1, b2}).eps(eps);
  std::vector<torch::optim::OptimizerParamGroup> tgroups;
  tgroups.emplace_back(std::vector<torch::Tensor>{p.theirs[0], p.theirs[1]},
                       std::make_unique<torch::optim::AdamWOptions>(
                           torch::optim::AdamWOptions(topt).weight_decay(wd)));
  tgroups.emplace_back(std::vector<torch::Tensor>{p.theirs[2], p.theirs[3]},
                       std::make_unique<torch::optim::AdamWOptions>(
                           torch::optim::AdamWOptions(topt).weight_decay(0.0)));
  torch::optim::AdamW theirs(tgroups, topt);

  for (int step = 0; step < 6; ++step) {
    const auto g = grads_for_step(step, p.ours);
    for (size_t i = 0; i < g.size(); ++i) {
      p.ours[i].mutable_grad().copy_(g[i]);  // our grads are views: write into them
      p.theirs[i].mutable_grad() = g[i].clone();
    }
    ours.step();
    theirs.step();
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_LE(test::max_abs_diff(p.ours[i], p.theirs[i]), 1e-6)
          << "step " << step << " param " << i;
    }
  }
  EXPECT_EQ(ours.step_count(), 6);
  // The parameters moved by many times the tolerance.
  Pair init = make_params();
  EXPECT_GT(test::max_abs_diff(p.ours[0], init.ours[0]), 0.05);
}

TEST(AdamW, FirstStepIsSignTimesLrPlusDecoupledDecay) {
  // Step 1 by hand: m/(1-b1) = g, sqrt(v/(1-b2)) = |g|, so theta' = theta (1 - lr wd) - lr
  // g/(|g|+eps).
  auto theta0 = torch::tensor({1.0f, -2.0f, 0.5f});
  auto p = theta0.clone().set_requires_grad(true);
  ParamGroup g{"decay", {"p"}, {p}, 0, 0, 0.5};
  AdamW opt({g}, AdamWOptions{0.1, 0.9, 0.999, 0.0, 0.5});
  p.mutable_grad().copy_(torch::tensor({0.3f, -4.0f, 0.0f}));
  opt.step();
  // The zero gradient gives 0/0 in Adam with eps = 0; check only the others.
  EXPECT_NEAR(p[0].item<double>(), 1.0 * (1 - 0.05) - 0.1, 1e-6);
  EXPECT_NEAR(p[1].item<double>(), -2.0 * (1 - 0.05) + 0.1, 1e-6);
}

TEST(AdamW, StateTensorsRoundTripResumesIdentically) {
  Pair p = make_params();
  auto groups_of = [](std::vector<torch::Tensor>& v) {
    return std::vector<ParamGroup>{ParamGroup{"decay", {"w0", "w1"}, {v[0], v[1]}, 0, 0, 0.1},
                                   ParamGroup{"no_decay", {"b0", "b1"}, {v[2], v[3]}, 0, 0, 0.0}};
  };
  AdamWOptions o{1e-2, 0.9, 0.99, 1e-8, 0.1};
  AdamW a(groups_of(p.ours), o);
  for (int step = 0; step < 3; ++step) {
    const auto g = grads_for_step(step, p.ours);
    for (size_t i = 0; i < g.size(); ++i) p.ours[i].mutable_grad().copy_(g[i]);
    a.step();
  }
  std::map<std::string, torch::Tensor> state;
  std::set<std::string> names;
  for (auto& [k, v] : a.state_tensors()) {
    state[k] = v.clone();
    names.insert(k);
  }
  EXPECT_EQ(names, (std::set<std::string>{"exp_avg.w0", "exp_avg.w1", "exp_avg.b0", "exp_avg.b1",
                                          "exp_avg_sq.w0", "exp_avg_sq.w1", "exp_avg_sq.b0",
                                          "exp_avg_sq.b1", "step"}));
  EXPECT_EQ(state.at("step").item<int64_t>(), 3);
  EXPECT_EQ(state.at("exp_avg.w0").sizes(), p.ours[0].sizes());
  EXPECT_GT(state.at("exp_avg_sq.b1").abs().sum().item<double>(), 0.0);

  // A second optimizer over copies of the current parameters, restored from the state.
  std::vector<torch::Tensor> copy;
  for (auto& t : p.ours) copy.push_back(t.detach().clone().set_requires_grad(true));
  AdamW b(groups_of(copy), o);
  b.load_state_tensors(state);
  EXPECT_EQ(b.step_count(), 3);
  for (int step = 3; step < 6; ++step) {
    const auto g = grads_for_step(step, p.ours);
    for (size_t i = 0; i < g.size(); ++i) {
      p.ours[i].mutable_grad().copy_(g[i]);
      copy[i].mutable_grad().copy_(g[i]);
    }
    a.step();
    b.step();
  }
  for (size_t i = 0; i < copy.size(); ++i) EXPECT_TRUE(torch::equal(copy[i], p.ours[i])) << i;

  // Missing or mis-sized state is an error naming the key.
  auto missing = state;
  missing.erase("exp_avg_sq.b0");
  try {
    b.load_state_tensors(missing);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'exp_avg_sq.b0'"), std::string::npos) << e.what();
  }
  auto wrong = state;
  wrong["exp_avg.w1"] = torch::zeros({3});
  try {
    b.load_state_tensors(wrong);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'exp_avg.w1' has 3 values, the parameter has 10"),
              std::string::npos)
        << e.what();
  }
}

bool inside(const torch::Tensor& view, const torch::Tensor& buffer) {
  const auto* b = static_cast<const char*>(buffer.data_ptr());
  const auto* v = static_cast<const char*>(view.data_ptr());
  return v >= b &&
         v + view.numel() * view.element_size() <= b + buffer.numel() * buffer.element_size();
}

TEST(AdamW, ParametersAndGradientsAreViewsOfFlatBuffers) {
  torch::manual_seed(0);
  GroupsNet net;
  auto before = test::snapshot(*net);
  AdamW opt(weight_decay_groups(*net, 0.1), AdamWOptions{});
  // Flattening kept the values.
  for (auto& [name, t] : before)
    EXPECT_TRUE(torch::equal(t, net->named_parameters()[name])) << name;

  auto ids = torch::tensor({{1, 2, 3}, {4, 5, 9}}, torch::kLong);
  net->forward(ids).square().mean().backward();
  const auto flat = opt.flat_grads();
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_EQ(flat[0].numel(), 4 * 6 + 6 * 4);
  EXPECT_EQ(flat[1].numel(), 10 * 4 + 6 + 6 + 6 + 6 + 6);
  std::vector<torch::Tensor> first_grads;
  for (size_t gi = 0; gi < 2; ++gi) {
    const auto& g = opt.param_groups()[gi];
    int64_t off = 0;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const auto& p = g.params[i];
      ASSERT_TRUE(p.grad().defined()) << g.names[i];
      EXPECT_TRUE(inside(p.grad(), flat[gi])) << g.names[i];
      // The view sits at the running offset and holds autograd's gradient.
      EXPECT_TRUE(torch::equal(flat[gi].narrow(0, off, p.numel()).view(p.sizes()), p.grad()))
          << g.names[i];
      off += p.numel();
      first_grads.push_back(p.grad().clone());
    }
    // Parameters of a group are contiguous neighbours in one buffer.
    for (size_t i = 1; i < g.params.size(); ++i) {
      EXPECT_EQ(static_cast<const char*>(g.params[i].data_ptr()),
                static_cast<const char*>(g.params[i - 1].data_ptr()) + g.params[i - 1].nbytes())
          << g.names[i];
    }
  }
  EXPECT_GT(flat[0].abs().sum().item<double>(), 0.0);

  // A second backward accumulates into the same storage.
  net->forward(ids).square().mean().backward();
  size_t k = 0;
  for (const auto& g : opt.param_groups()) {
    for (const auto& p : g.params) {
      EXPECT_TRUE(torch::allclose(p.grad(), 2 * first_grads[k++], 1e-6, 1e-7));
      EXPECT_TRUE(inside(p.grad(), flat[&g - &opt.param_groups()[0]]));
    }
  }

  // step() updates the module's parameters in place; frozen ones do not move.
  const void* fc_ptr = net->fc->weight.data_ptr();
  opt.step();
  EXPECT_EQ(net->fc->weight.data_ptr(), fc_ptr);
  EXPECT_FALSE(torch::equal(net->fc->weight, before.at("fc.weight")));
  EXPECT_TRUE(torch::equal(net->frozen->weight, before.at("frozen.weight")));
  EXPECT_TRUE(net->head->weight.is_same(net->emb->weight));  // still tied

  opt.zero_grad();
  for (const auto& f : flat) EXPECT_EQ(f.abs().sum().item<double>(), 0.0);
  for (const auto& g : opt.param_groups()) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      EXPECT_EQ(g.params[i].grad().abs().sum().item<double>(), 0.0) << g.names[i];
      EXPECT_TRUE(inside(g.params[i].grad(), flat[&g - &opt.param_groups()[0]])) << g.names[i];
    }
  }
}

TEST(AdamW, RejectsInvalidHyperparameters) {
  auto p = torch::zeros({2}).set_requires_grad(true);
  auto groups = [&] { return std::vector<ParamGroup>{ParamGroup{"g", {"p"}, {p}, 0, 0, 0}}; };
  EXPECT_THROW(AdamW(groups(), AdamWOptions{-1, 0.9, 0.999, 1e-8, 0}), Error);
  EXPECT_THROW(AdamW(groups(), AdamWOptions{1e-3, 1.0, 0.999, 1e-8, 0}), Error);
  EXPECT_THROW(AdamW(groups(), AdamWOptions{1e-3, 0.9, -0.1, 1e-8, 0}), Error);
  EXPECT_THROW(AdamW(groups(), AdamWOptions{1e-3, 0.9, 0.999, -1, 0}), Error);
  EXPECT_THROW(AdamW(groups(), AdamWOptions{1e-3, 0.9, 0.999, 1e-8, -0.1}), Error);
}

TEST(AdamW, GroupWithItsOwnRateKeepsIt) {
  auto p = torch::zeros({2}).set_requires_grad(true);
  auto q = torch::zeros({3}).set_requires_grad(true);
  AdamW opt({ParamGroup{"a", {"p"}, {p}, 0.5, 0.5, 0}, ParamGroup{"b", {"q"}, {q}, 0, 0, 0}},
            AdamWOptions{2e-3, 0.9, 0.999, 1e-8, 0});
  EXPECT_EQ(opt.param_groups()[0].lr, 0.5);
  EXPECT_EQ(opt.param_groups()[0].initial_lr, 0.5);
  EXPECT_EQ(opt.param_groups()[1].lr, 2e-3);
  EXPECT_EQ(opt.param_groups()[1].initial_lr, 2e-3);
}

// ---------------------------------------------------------------------------------------------
// clip_grad_norm

TEST(ClipGradNorm, ReturnsTheGlobalNormAndScalesDownToMaxNorm) {
  auto a = torch::tensor({3.0f, 0.0f});
  auto b = torch::tensor({{0.0f, 4.0f}});
  auto norm = clip_grad_norm({a, b}, 1.0);
  EXPECT_NEAR(norm.item<double>(), 5.0, 1e-6);
  // Scaled by 1 / (5 + 1e-6), in place.
  EXPECT_NEAR(a[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(b[0][1].item<double>(), 0.8, 1e-6);
  const double after = std::sqrt(a.square().sum().item<double>() + b.square().sum().item<double>());
  EXPECT_NEAR(after, 1.0, 1e-6);
}

TEST(ClipGradNorm, LeavesGradientsBelowMaxNormUntouched) {
  auto a = torch::tensor({0.3f, -0.4f});
  auto copy = a.clone();
  auto norm = clip_grad_norm({a}, 0.6);
  EXPECT_NEAR(norm.item<double>(), 0.5, 1e-7);
  EXPECT_TRUE(torch::equal(a, copy));
  // max_norm 0 only measures.
  auto big = torch::full({4}, 10.0f);
  auto big_copy = big.clone();
  EXPECT_NEAR(clip_grad_norm({big}, 0.0).item<double>(), 20.0, 1e-5);
  EXPECT_TRUE(torch::equal(big, big_copy));
}

TEST(ClipGradNorm, WorksOnViewsAndMixedDtypes) {
  auto flat = torch::tensor({6.0, 8.0, 0.0}, torch::kFloat64);
  auto view = flat.narrow(0, 0, 2);
  auto half = torch::tensor({0.0f}, torch::kBFloat16);
  auto norm = clip_grad_norm({view, half}, 5.0);
  EXPECT_NEAR(norm.item<double>(), 10.0, 1e-5);
  EXPECT_NEAR(flat[0].item<double>(), 3.0, 1e-5);  // the underlying buffer was scaled
  EXPECT_NEAR(flat[1].item<double>(), 4.0, 1e-5);
  EXPECT_THROW(clip_grad_norm({}, 1.0), Error);
}

}  // namespace
}  // namespace volt

// The fused CPU kernel and the tensor-op path (what CUDA and other dtypes use) must agree.
TEST(AdamWFused, MatchesTheTensorOpPath) {
  using namespace volt;
  torch::manual_seed(5);
  auto make = [](bool fused) {
    torch::manual_seed(11);
    auto lin = torch::nn::Linear(7, 5);
    AdamWOptions o;
    o.lr = 3e-3, o.beta1 = 0.9, o.beta2 = 0.99, o.weight_decay = 0.1, o.fused = fused;
    ParamGroup g;
    g.name = "all", g.weight_decay = 0.1;
    for (auto& kv : lin->named_parameters())
      g.names.push_back(kv.key()), g.params.push_back(kv.value());
    auto opt = std::make_shared<AdamW>(std::vector<ParamGroup>{g}, o);
    return std::make_pair(lin, opt);
  };
  auto [fused_lin, fused_opt] = make(true);
  auto [plain_lin, plain_opt] = make(false);
  for (int step = 0; step < 5; ++step) {
    auto x = torch::randn({4, 7});
    for (auto* pair : {&fused_lin, &plain_lin}) (*pair)(x).square().sum().backward();
    fused_opt->step(), plain_opt->step();
    fused_opt->zero_grad(), plain_opt->zero_grad();
  }
  EXPECT_TRUE(torch::allclose(fused_lin->weight, plain_lin->weight, 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(fused_lin->bias, plain_lin->bias, 1e-6, 1e-7));
  EXPECT_FALSE(torch::equal(fused_lin->weight, make(true).first->weight)) << "nothing was updated";
}

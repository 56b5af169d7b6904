// LoRA as PEFT does it: trainable counts equal PEFT's print_trainable_parameters, the model is
// unchanged at step 0, only the adapters train (also under activation checkpointing with a frozen
// embedding), merged logits equal adapter logits, adapters save and load exactly under PEFT's
// names, and an adapter written the way PEFT writes it computes (alpha / r) B A x.
#include "volt/peft/lora.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_helpers.h"
#include "test_util.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"
#include "volt/train/optim.h"

namespace volt {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny_llama() { return ModelConfig::preset("llama-tiny"); }

ModelConfig tiny_gpt2() {
  ModelConfig c = ModelConfig::preset("babygpt-tiny");
  c.set_bias(true);
  return c;
}

torch::Tensor some_ids(int64_t vocab, int64_t b = 2, int64_t t = 12) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  return torch::randint(0, vocab, {b, t}, gen, torch::kLong);
}

// Gives every lora_B a non-zero value (as after training), so the adapters change the output.
void perturb_adapters(CausalLMImpl& m, double std = 0.05) {
  torch::NoGradGuard no_grad;
  for (auto& [name, l] : peft::lora_layers(m)) {
    auto* d = dynamic_cast<peft::LoraDelta*>(l->delta.get());
    d->B->weight.normal_(0.0, std);
  }
}

TEST(Lora, TrainableCountsEqualPeftsPrintTrainableParameters) {
  // PEFT on meta-llama/Llama-2-7b-hf, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]):
  // "trainable params: 4,194,304 || all params: 6,742,609,920". The Linear weights are left
  // unallocated (nn::DeferLinearWeights), so the 7B model costs only its embeddings here.
  CausalLM m{nullptr};
  {
    nn::DeferLinearWeights defer;
    m = CausalLM(ModelConfig::preset("llama-2-7b"));
  }
  peft::LoraConfig cfg;
  cfg.r = 8;
  cfg.target_modules = {"q_proj", "v_proj"};
  const auto adapted = peft::inject_lora(*m, cfg);
  EXPECT_EQ(adapted.size(), 64u);
  EXPECT_EQ(adapted.front(), "model.layers.0.self_attn.q_proj");
  const auto n = peft::count_parameters(*m);
  EXPECT_EQ(n.trainable, 4194304);
  EXPECT_EQ(n.total, 6742609920);
}

TEST(Lora, StartsAsTheBaseModelWithOnlyAdaptersTrainable) {
  torch::manual_seed(1);
  CausalLM m(tiny_llama());
  m->eval();
  const auto ids = some_ids(65);
  const auto before = m(ids);
  peft::LoraConfig cfg;
  cfg.r = 4;
  cfg.target_modules = {"all-linear"};
  const auto adapted = peft::inject_lora(*m, cfg);
  EXPECT_EQ(adapted.size(), 2u * 7);  // q, k, v, o, gate, up, down in each of 2 blocks; not lm_head
  EXPECT_TRUE(torch::equal(m(ids), before));  // B = 0: the same function, bit for bit
  int64_t trainable = 0;
  for (auto& kv : m->named_parameters()) {
    const bool lora = kv.key().find(".lora_") != std::string::npos;
    EXPECT_EQ(kv.value().requires_grad(), lora) << kv.key();
    if (lora) trainable += kv.value().numel();
  }
  EXPECT_EQ(trainable, peft::count_parameters(*m).trainable);
  // Shapes as PEFT's: A (r, in), B (out, r); A is Kaiming-uniform, B zero.
  auto* q = m->named_modules()["model.layers.0.self_attn.q_proj"]->as<nn::LinearImpl>();
  auto* d = dynamic_cast<peft::LoraDelta*>(q->delta.get());
  EXPECT_EQ(d->A->weight.sizes(), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(d->B->weight.sizes(), (std::vector<int64_t>{64, 4}));
  EXPECT_GT(d->A->weight.abs().max().item<double>(), 0.0);
  EXPECT_LE(d->A->weight.abs().max().item<double>(), 1.0 / std::sqrt(64.0) + 1e-6);  // bound of U(-1/sqrt(in), ..)
  EXPECT_EQ(d->B->weight.abs().max().item<double>(), 0.0);
  // The optimizer never sees the frozen base.
  const auto groups = weight_decay_groups(*m, 0.1);
  int64_t in_optimizer = 0;
  for (const auto& g : groups) {
    for (const auto& p : g.params) in_optimizer += p.numel();
  }
  EXPECT_EQ(in_optimizer, trainable);
}

TEST(Lora, ScalingIsAlphaOverRankOrOverItsRootWithRsLora) {
  peft::LoraConfig c;
  c.r = 16, c.alpha = 32;
  EXPECT_DOUBLE_EQ(c.scaling(), 2.0);
  c.use_rslora = true;
  EXPECT_DOUBLE_EQ(c.scaling(), 8.0);
}

TEST(Lora, MergedLogitsEqualAdapterLogitsAndUnmergeRestoresTheBase) {
  for (const auto& cfg_model : {tiny_llama(), tiny_gpt2()}) {
    torch::manual_seed(2);
    CausalLM m(cfg_model);
    m->eval();
    const auto base = test::snapshot(*m);
    peft::LoraConfig cfg;
    cfg.r = 8, cfg.alpha = 16;
    cfg.target_modules = {"all-linear"};
    const auto ids = some_ids(cfg_model.vocab_size);
    const auto base_logits = m(ids);
    peft::inject_lora(*m, cfg);
    perturb_adapters(*m);
    const auto with_adapters = m(ids);
    EXPECT_GT(test::max_abs_diff(with_adapters, base_logits), 1e-3);  // the adapters do something
    peft::merge_lora(*m);
    const auto merged = m(ids);
    EXPECT_LT(test::max_abs_diff(merged, with_adapters), 1e-5) << cfg_model.model_type;
    peft::unmerge_lora(*m);
    for (auto& [name, t] : base) {
      EXPECT_LT(test::max_abs_diff(m->named_parameters()[name], t), 1e-6) << name;
    }
    // merge_and_unload: a plain model, saved and loaded as any Hugging Face model.
    test::ScopedTempDir dir;
    peft::merge_and_unload(*m);
    for (auto& kv : m->named_parameters()) EXPECT_EQ(kv.key().find("lora"), std::string::npos) << kv.key();
    save_pretrained(*m, dir.path());
    auto reloaded = from_pretrained(dir.path());
    EXPECT_LT(test::max_abs_diff(reloaded(ids), with_adapters), 1e-5) << cfg_model.model_type;
  }
}

TEST(Lora, AdaptersSaveAndLoadExactlyUnderPeftsNames) {
  for (const auto& cfg_model : {tiny_llama(), tiny_gpt2()}) {
    test::ScopedTempDir dir;
    torch::manual_seed(3);
    CausalLM m(cfg_model);
    m->eval();
    save_pretrained(*m, dir.path() + "/base");
    peft::LoraConfig cfg;
    cfg.r = 4, cfg.alpha = 8, cfg.dropout = 0.05;
    cfg.target_modules = (cfg_model.model_type != "gpt2") ? std::vector<std::string>{"q_proj", "v_proj"}
                                                     : std::vector<std::string>{"c_attn"};
    cfg.base_model_name_or_path = dir.path() + "/base";
    peft::inject_lora(*m, cfg);
    perturb_adapters(*m);
    peft::save_adapter(*m, cfg, dir.path() + "/adapter");

    io::SafetensorsFile f(dir.path() + "/adapter/adapter_model.safetensors");
    const std::string first = (cfg_model.model_type != "gpt2")
                                  ? "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
                                  : "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight";
    ASSERT_TRUE(f.contains(first)) << cfg_model.model_type;
    EXPECT_EQ(f.names().size(), 2u * 2 * ((cfg_model.model_type != "gpt2") ? 2 : 1));
    const auto j = io::read_json(dir.path() + "/adapter/adapter_config.json");
    EXPECT_EQ(j.at("peft_type"), "LORA");
    EXPECT_EQ(j.at("task_type"), "CAUSAL_LM");
    EXPECT_EQ(j.at("r"), 4);
    EXPECT_EQ(j.at("lora_alpha"), 8.0);
    EXPECT_EQ(j.at("lora_dropout"), 0.05);
    EXPECT_EQ(j.at("bias"), "none");
    EXPECT_EQ(j.at("use_rslora"), false);
    EXPECT_EQ(j.at("base_model_name_or_path"), dir.path() + "/base");

    auto fresh = from_pretrained(dir.path() + "/base");
    const auto loaded_cfg = peft::load_adapter(*fresh, dir.path() + "/adapter");
    EXPECT_EQ(loaded_cfg.target_modules, cfg.target_modules);
    for (auto& kv : m->named_parameters()) {
      EXPECT_TRUE(torch::equal(fresh->named_parameters()[kv.key()], kv.value())) << kv.key();
    }
    const auto ids = some_ids(cfg_model.vocab_size);
    EXPECT_TRUE(torch::equal(fresh(ids), m(ids)));
  }
}

TEST(Lora, AnAdapterWrittenAsPeftWritesItComputesScaledBAx) {
  // adapter_config.json as PEFT 0.13 writes it (extra keys included) and its tensors, made by
  // hand: the q_proj output must move by exactly (alpha / r) x A^T B^T.
  test::ScopedTempDir dir;
  torch::manual_seed(4);
  CausalLM m(tiny_llama());
  m->eval();
  const int64_t r = 2, in = 64, out_q = 64;
  nlohmann::json cfg = {{"alpha_pattern", nlohmann::json::object()}, {"auto_mapping", nullptr},
                        {"base_model_name_or_path", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"},
                        {"bias", "none"}, {"fan_in_fan_out", false}, {"inference_mode", true},
                        {"init_lora_weights", true}, {"layers_pattern", nullptr}, {"layers_to_transform", nullptr},
                        {"loftq_config", nlohmann::json::object()}, {"lora_alpha", 6}, {"lora_dropout", 0.1},
                        {"megatron_config", nullptr}, {"megatron_core", "megatron.core"},
                        {"modules_to_save", nullptr}, {"peft_type", "LORA"}, {"r", r},
                        {"rank_pattern", nlohmann::json::object()}, {"revision", nullptr},
                        {"target_modules", {"q_proj"}}, {"task_type", "CAUSAL_LM"}, {"use_dora", false},
                        {"use_rslora", false}};
  fs::create_directories(dir.path() + "/a");
  io::write_json(dir.path() + "/a/adapter_config.json", cfg);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::map<int, std::pair<torch::Tensor, torch::Tensor>> ab;
  for (int layer = 0; layer < 2; ++layer) {
    auto a = torch::randn({r, in}), b = torch::randn({out_q, r});
    ab[layer] = {a, b};
    const std::string k = "base_model.model.model.layers." + std::to_string(layer) + ".self_attn.q_proj.";
    tensors.emplace_back(k + "lora_A.weight", a);
    tensors.emplace_back(k + "lora_B.weight", b);
  }
  io::save_safetensors(dir.path() + "/a/adapter_model.safetensors", tensors, {{"format", "pt"}});

  auto* q = m->named_modules()["model.layers.0.self_attn.q_proj"]->as<nn::LinearImpl>();
  const auto x = torch::randn({3, in});
  const auto y_base = q->forward(x);
  peft::load_adapter(*m, dir.path() + "/a");
  const auto expected = y_base + (6.0 / 2.0) * x.matmul(ab[0].first.t()).matmul(ab[0].second.t());
  EXPECT_LT(test::max_abs_diff(q->forward(x), expected), 1e-5);
}

TEST(Lora, GradientsReachTheAdaptersUnderCheckpointingWithAFrozenEmbedding) {
  torch::manual_seed(5);
  CausalLM m(tiny_llama());
  peft::LoraConfig cfg;
  cfg.target_modules = {"q_proj", "v_proj", "down_proj"};
  peft::inject_lora(*m, cfg);
  perturb_adapters(*m);
  m->train();
  const auto ids = some_ids(65);
  auto grads = [&](bool checkpointing) {
    m->set_activation_checkpointing(checkpointing);
    m->zero_grad();
    causal_lm_loss(m(ids), ids).backward();
    std::map<std::string, torch::Tensor> g;
    for (auto& kv : m->named_parameters()) {
      if (kv.value().requires_grad()) {
        EXPECT_TRUE(kv.value().grad().defined()) << kv.key() << (checkpointing ? " (checkpointing)" : "");
        if (kv.value().grad().defined()) g[kv.key()] = kv.value().grad().clone();
      } else {
        EXPECT_FALSE(kv.value().grad().defined()) << kv.key();
      }
    }
    return g;
  };
  const auto plain = grads(false), ckpt = grads(true);
  ASSERT_EQ(plain.size(), ckpt.size());
  EXPECT_EQ(plain.size(), 2u * 3 * 2);
  for (auto& [k, g] : plain) {
    EXPECT_GT(g.abs().max().item<double>(), 0.0) << k;
    EXPECT_LT(test::max_abs_diff(g, ckpt.at(k)), 1e-6) << k;
  }
}

TEST(Lora, TrainingLowersTheLossAndLeavesTheBaseUntouched) {
  torch::manual_seed(6);
  CausalLM m(tiny_llama());
  const auto base = test::snapshot(*m);
  peft::LoraConfig cfg;
  cfg.r = 8, cfg.alpha = 16;
  cfg.target_modules = {"all-linear"};
  peft::inject_lora(*m, cfg);
  m->train();
  AdamWOptions o;
  o.lr = 1e-2;
  AdamW opt(weight_decay_groups(*m, 0.0), o);
  const auto ids = some_ids(65, 4, 32);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    auto loss = causal_lm_loss(m(ids), ids);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, first * 0.8);
  for (auto& [name, t] : base) EXPECT_TRUE(torch::equal(m->named_parameters()[name], t)) << name;
}

TEST(Lora, BadTargetsAndAdaptersAreClearErrors) {
  test::ScopedTempDir dir;
  CausalLM m(tiny_llama());
  peft::LoraConfig cfg;
  cfg.target_modules = {"c_attn"};
  EXPECT_NE(test::error_of([&] { peft::inject_lora(*m, cfg); })
                .find("target module 'c_attn' matches no Linear layer of the model (there are: down_proj, "
                      "gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj, or all-linear)"),
            std::string::npos);
  cfg.r = 0;
  EXPECT_NE(test::error_of([&] { peft::inject_lora(*m, cfg); }).find("r must be a positive rank, got 0"),
            std::string::npos);
  // An adapter whose rank disagrees with its config.
  cfg = peft::LoraConfig();
  CausalLM other(tiny_llama());
  peft::inject_lora(*other, cfg);
  peft::save_adapter(*other, cfg, dir.path());
  auto j = io::read_json(dir.path() + "/adapter_config.json");
  j["r"] = 4;
  io::write_json(dir.path() + "/adapter_config.json", j);
  CausalLM fresh(tiny_llama());
  EXPECT_NE(test::error_of([&] { peft::load_adapter(*fresh, dir.path()); })
                .find("adapter_model.safetensors: tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A."
                      "weight' has shape [8, 64], the model's adapter expects [4, 64]"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { peft::read_adapter_config(dir.path() + "/nowhere"); })
                .find("no adapter_config.json"),
            std::string::npos);
}

}  // namespace
}  // namespace volt

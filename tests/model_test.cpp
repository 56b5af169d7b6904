// CausalLM: shapes, initial loss, weight tying, KV-cache decoding, Hugging Face round trips and
// the real HF tiny GPT-2 (checked against an independent GPT-2 forward written here), loader
// errors, generation and parameter counting.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_helpers.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/causal_lm.h"
#include "volt/models/generate.h"
#include "volt/models/model_config.h"
#include "volt/models/pretrained.h"
#include "volt/models/score.h"

namespace volt {
namespace {

using test::ScopedTempDir;
namespace fs = std::filesystem;

ModelConfig tiny(int64_t vocab = 65) {
  auto c = ModelConfig::preset("babygpt-tiny");
  c.vocab_size = vocab;
  return c;
}

CausalLM make_model(const ModelConfig& c, uint64_t seed = 0) {
  torch::manual_seed(seed);
  CausalLM m(c);
  m->eval();
  return m;
}

torch::Tensor random_ids(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(0, vocab, {b, t}, gen, torch::kLong);
}

using test::error_of;

TEST(CausalLM, PresetAndOutputShapes) {
  const auto c = tiny();
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.block_size, 64);
  EXPECT_FALSE(c.qkv_bias || c.norm_bias || c.mlp_bias);
  auto m = make_model(c);
  torch::NoGradGuard ng;
  EXPECT_EQ(m->forward(random_ids(3, 10, 65, 1)).sizes(), (std::vector<int64_t>{3, 10, 65}));
  EXPECT_EQ(m->forward(random_ids(1, 64, 65, 1)).sizes(), (std::vector<int64_t>{1, 64, 65}));
  EXPECT_NE(
      error_of([&] { m->forward(random_ids(1, 65, 65, 1)); }).find("exceeds the model's context"),
      std::string::npos);
  EXPECT_NE(error_of([&] { m->forward(torch::zeros({5}, torch::kLong)); }).find("(B, T)"),
            std::string::npos);
}

TEST(CausalLM, LossAtInitIsNearLogVocab) {
  auto m = make_model(tiny(65));
  auto ids = random_ids(4, 32, 65, 2);
  auto labels = random_ids(4, 32, 65, 3);
  torch::NoGradGuard ng;
  const double loss = causal_lm_loss(m->forward(ids), labels).item<double>();
  EXPECT_NEAR(loss, std::log(65.0), 0.1);
}

TEST(CausalLM, LossIgnoresMinus100AndIsTheMeanCrossEntropy) {
  auto logits = torch::tensor({{{2.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}, {5.0f, 5.0f, 5.0f}}});
  auto labels = torch::tensor({{0, 1, -100}}, torch::kLong);
  // -log softmax: position 0: -(2 - log(e^2 + 2)), position 1: -(1 - log(e + 2)).
  const double want = ((std::log(std::exp(2.0) + 2) - 2) + (std::log(std::exp(1.0) + 2) - 1)) / 2;
  EXPECT_NEAR(causal_lm_loss(logits, labels).item<double>(), want, 1e-6);
}

TEST(CausalLM, TiedOutputProjectionUsesTheEmbedding) {
  auto m = make_model(tiny(65));
  EXPECT_TRUE(m->lm_head.is_empty());
  for (const auto& kv : m->named_parameters())
    EXPECT_EQ(kv.key().find("lm_head"), std::string::npos);
  // logits = ln_f(h) W_e^T: token 7 never appears in the input, so its embedding row gets a
  // gradient from its logit only when the output projection is the embedding.
  auto ids = torch::zeros({1, 4}, torch::kLong);
  m->forward(ids).select(2, 7).sum().backward();
  EXPECT_GT(m->embedding_weight().grad()[7].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(m->embedding_weight().grad()[8].abs().sum().item<double>(), 0.0);

  auto untied_cfg = tiny(65);
  untied_cfg.tie_word_embeddings = false;
  auto u = make_model(untied_cfg);
  ASSERT_FALSE(u->lm_head.is_empty());
  EXPECT_EQ(u->named_parameters().find("lm_head.weight")->sizes(), (std::vector<int64_t>{65, 64}));
  u->forward(ids).select(2, 7).sum().backward();
  EXPECT_EQ(u->embedding_weight().grad()[7].abs().sum().item<double>(), 0.0);
}

int64_t unique_numel(torch::nn::Module& m) {
  std::set<const void*> seen;
  int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (seen.insert(p.unsafeGetTensorImpl()).second) n += p.numel();
  }
  return n;
}

TEST(CausalLM, CountParametersEqualsTheUniqueParameterNumels) {
  for (bool bias : {false, true}) {
    for (bool tie : {true, false}) {
      auto c = tiny(50);
      c.set_bias(bias);
      c.tie_word_embeddings = tie;
      c.n_inner = bias ? 100 : 0;
      auto m = make_model(c);
      EXPECT_EQ(count_parameters(c), unique_numel(*m)) << "bias " << bias << " tie " << tie;
    }
  }
  // GPT-2 124M, the well-known number (tied).
  EXPECT_EQ(count_parameters(ModelConfig::preset("gpt2")), 124439808);
}

TEST(CausalLM, KVCacheDecodingMatchesTheFullForward) {
  auto m = make_model(tiny(65), 3);
  auto ids = random_ids(2, 20, 65, 4);
  torch::NoGradGuard ng;
  auto full = m->forward(ids);
  auto cache = m->make_cache(2, 64);
  // Prefill 5 tokens, then one at a time, then a chunk of 4, then the rest one by one.
  std::vector<torch::Tensor> parts;
  int64_t pos = 0;
  for (int64_t len : {5, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1, 1, 1}) {
    parts.push_back(m->forward(ids.narrow(1, pos, len), {}, &cache));
    pos += len;
  }
  ASSERT_EQ(pos, 20);
  EXPECT_EQ(cache.length, 20);
  auto incremental = torch::cat(parts, 1);
  EXPECT_LE(test::max_abs_diff(incremental, full), 1e-5);
  // Overflowing the cache is an error.
  auto small = m->make_cache(1, 4);
  m->forward(ids.narrow(0, 0, 1).narrow(1, 0, 3), {}, &small);
  EXPECT_NE(error_of([&] {
              m->forward(ids.narrow(0, 0, 1).narrow(1, 0, 2), {}, &small);
            }).find("capacity"),
            std::string::npos);
}

TEST(Pretrained, HfStateDictUsesHfNamesAndConv1DLayout) {
  auto m = make_model(tiny(65));
  const auto sd = to_hf_state_dict(*m);
  std::map<std::string, torch::Tensor> by_name(sd.begin(), sd.end());
  EXPECT_EQ(by_name.count("lm_head.weight"), 0u);  // tied
  EXPECT_EQ(by_name.size(), 2u + 2 * 12 + 2);      // wte, wpe, 12 per layer, ln_f weight + bias
  EXPECT_TRUE(torch::equal(by_name.at("transformer.wte.weight"), m->embedding_weight()));
  auto* block = (&m->block(0));
  // Conv1D: stored (in, out), the transpose of our Linear's (out, in).
  EXPECT_EQ(by_name.at("transformer.h.0.attn.c_attn.weight").sizes(),
            (std::vector<int64_t>{64, 192}));
  EXPECT_TRUE(
      torch::equal(by_name.at("transformer.h.0.attn.c_attn.weight"), block->attn->qkv->weight.t()));
  EXPECT_TRUE(
      torch::equal(by_name.at("transformer.h.0.mlp.c_fc.weight"), block->mlp->fc->weight.t()));
  // A bias-free model still shows transformers the zero biases it expects.
  EXPECT_EQ(by_name.at("transformer.h.0.attn.c_attn.bias").sizes(), (std::vector<int64_t>{192}));
  EXPECT_EQ(by_name.at("transformer.h.1.mlp.c_fc.bias").abs().sum().item<double>(), 0.0);
  EXPECT_EQ(by_name.at("transformer.ln_f.bias").sizes(), (std::vector<int64_t>{64}));
  for (const auto& [k, t] : sd) EXPECT_TRUE(t.is_contiguous()) << k;
}

TEST(Pretrained, SavePretrainedFromPretrainedRoundTripGivesIdenticalLogits) {
  ScopedTempDir dir;
  for (bool bias : {false, true}) {
    auto c = tiny(40);
    c.set_bias(bias);
    c.activation = bias ? "gelu_new" : "gelu";
    c.tie_word_embeddings = !bias;
    auto m = make_model(c, 5);
    {
      // Make every tensor (biases and norms included) non-trivial.
      torch::NoGradGuard ng;
      auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
      for (auto& p : m->parameters()) p.add_(torch::randn(p.sizes(), gen) * 0.05);
    }
    const std::string path = dir / (bias ? "with_bias" : "no_bias");
    save_pretrained(*m, path);
    const auto j = io::read_json(path + "/config.json");
    EXPECT_EQ(j.at("n_positions").get<int64_t>(), 64);
    EXPECT_EQ(j.at("vocab_size").get<int64_t>(), 40);
    EXPECT_EQ(j.at("activation_function").get<std::string>(), c.activation);
    EXPECT_EQ(j.at("tie_word_embeddings").get<bool>(), c.tie_word_embeddings);
    EXPECT_EQ(j.at("model_type").get<std::string>(), "gpt2");
    auto loaded = from_pretrained(path);
    loaded->eval();
    EXPECT_EQ(loaded->config().qkv_bias, bias);
    EXPECT_EQ(loaded->config().activation, c.activation);
    EXPECT_EQ(loaded->config().tie_word_embeddings, c.tie_word_embeddings);
    auto ids = random_ids(2, 12, 40, 7);
    torch::NoGradGuard ng;
    EXPECT_TRUE(torch::equal(loaded->forward(ids), m->forward(ids))) << path;
  }
}

// An independent GPT-2 forward (transformers' GPT2Model math) straight from the safetensors
// tensors: Conv1D is x @ W + b, gelu_new is the tanh approximation, logits use wte.
torch::Tensor reference_gpt2_logits(const io::SafetensorsFile& f, const nlohmann::json& cfg,
                                    const torch::Tensor& ids) {
  auto w = [&](const std::string& n) { return f.load(n).to(torch::kFloat64); };
  const int64_t nh = cfg.at("n_head").get<int64_t>(), nl = cfg.at("n_layer").get<int64_t>();
  const double eps = cfg.at("layer_norm_epsilon").get<double>();
  const int64_t t = ids.size(1);
  auto ln = [&](const torch::Tensor& x, const std::string& p) {
    auto mu = x.mean(-1, true);
    auto var = (x - mu).square().mean(-1, true);
    return (x - mu) / (var + eps).sqrt() * w(p + ".weight") + w(p + ".bias");
  };
  auto gelu_new = [](const torch::Tensor& x) {
    return 0.5 * x * (1.0 + torch::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
  };
  auto x = w("wte.weight").index({ids}) + w("wpe.weight").narrow(0, 0, t);
  for (int64_t l = 0; l < nl; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    auto h = ln(x, p + "ln_1");
    auto qkv = h.matmul(w(p + "attn.c_attn.weight")) + w(p + "attn.c_attn.bias");
    const int64_t c = x.size(-1), hs = c / nh, b = x.size(0);
    auto split = qkv.split(c, -1);
    auto heads = [&](const torch::Tensor& z) {
      return z.reshape({b, t, nh, hs}).permute({0, 2, 1, 3});
    };
    auto q = heads(split[0]), k = heads(split[1]), v = heads(split[2]);
    auto att = q.matmul(k.transpose(-1, -2)) / std::sqrt(static_cast<double>(hs));
    auto mask = torch::ones({t, t}, torch::kBool).triu(1);
    att = att.masked_fill(mask, -INFINITY).softmax(-1);
    auto y = att.matmul(v).permute({0, 2, 1, 3}).reshape({b, t, c});
    x = x + y.matmul(w(p + "attn.c_proj.weight")) + w(p + "attn.c_proj.bias");
    auto h2 = ln(x, p + "ln_2");
    auto ff = gelu_new(h2.matmul(w(p + "mlp.c_fc.weight")) + w(p + "mlp.c_fc.bias"));
    x = x + ff.matmul(w(p + "mlp.c_proj.weight")) + w(p + "mlp.c_proj.bias");
  }
  return ln(x, "ln_f").matmul(w("wte.weight").t());
}

TEST(Pretrained, LoadsTheRealHfTinyGpt2AndMatchesAnIndependentForward) {
  const std::string dir = volt_test_data("models/hf-tiny-gpt2");
  auto m = from_pretrained(dir);
  const auto& c = m->config();
  EXPECT_EQ(c.n_layer, 1);
  EXPECT_EQ(c.n_head, 1);
  EXPECT_EQ(c.n_embd, 2);
  EXPECT_EQ(c.vocab_size, 21);
  EXPECT_EQ(c.block_size, 1024);
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_TRUE(c.qkv_bias && c.mlp_bias && c.norm_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.mlp_width(), 8);
  io::SafetensorsFile f(dir + "/model.safetensors");
  EXPECT_TRUE(torch::equal(m->embedding_weight(), f.load("wte.weight")));
  auto* block = (&m->block(0));
  EXPECT_TRUE(torch::equal(block->attn->qkv->weight, f.load("h.0.attn.c_attn.weight").t()));
  EXPECT_TRUE(torch::equal(block->mlp->fc->bias, f.load("h.0.mlp.c_fc.bias")));

  m->eval();  // the HF config has dropout 0.1
  auto ids = torch::tensor({{3, 14, 1, 5, 9, 20, 0, 6}, {2, 7, 18, 2, 8, 1, 8, 2}}, torch::kLong);
  torch::NoGradGuard ng;
  auto ours = m->forward(ids);
  auto ref = reference_gpt2_logits(f, io::read_json(dir + "/config.json"), ids);
  EXPECT_EQ(ours.sizes(), (std::vector<int64_t>{2, 8, 21}));
  EXPECT_LE(test::max_abs_diff(ours, ref), 1e-5);
  EXPECT_GT(ref.abs().max().item<double>(), 1e-4);  // not trivially zero
}

TEST(Pretrained, LoaderErrorsNameTheTensor) {
  ScopedTempDir dir;
  auto m = make_model(tiny(30));
  auto sd = to_hf_state_dict(*m);
  auto write_without = [&](const std::string& drop, const std::string& path) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [k, t] : sd) {
      if (k != drop) out.emplace_back(k, t);
    }
    io::save_safetensors(path, out);
  };
  write_without("transformer.h.1.attn.c_proj.weight", dir / "missing.safetensors");
  EXPECT_NE(error_of([&] {
              load_hf_safetensors(*m, dir / "missing.safetensors");
            }).find("missing tensor 'transformer.h.1.attn.c_proj.weight'"),
            std::string::npos);

  auto shaped = sd;
  for (auto& [k, t] : shaped) {
    if (k == "transformer.wpe.weight") t = torch::zeros({32, 64});
  }
  io::save_safetensors(dir / "shape.safetensors", shaped);
  const auto shape_err = error_of([&] { load_hf_safetensors(*m, dir / "shape.safetensors"); });
  EXPECT_NE(
      shape_err.find("'transformer.wpe.weight' has shape [32, 64], the model expects [64, 64]"),
      std::string::npos)
      << shape_err;

  auto extra = sd;
  extra.emplace_back("transformer.h.0.attn.rotary", torch::zeros({2}));
  io::save_safetensors(dir / "extra.safetensors", extra);
  EXPECT_NE(error_of([&] {
              load_hf_safetensors(*m, dir / "extra.safetensors");
            }).find("unexpected tensor 'transformer.h.0.attn.rotary'"),
            std::string::npos);

  auto nonzero = sd;
  for (auto& [k, t] : nonzero) {
    if (k == "transformer.h.0.ln_1.bias") t = torch::ones({64});
  }
  io::save_safetensors(dir / "bias.safetensors", nonzero);
  EXPECT_NE(error_of([&] {
              load_hf_safetensors(*m, dir / "bias.safetensors");
            }).find("'transformer.h.0.ln_1.bias' is not zero"),
            std::string::npos);

  // A redundant lm_head next to tied embeddings carries no information and is accepted, as is
  // the masked_bias buffer of old transformers versions.
  auto tied = sd;
  tied.emplace_back("lm_head.weight", m->embedding_weight().detach().clone());
  tied.emplace_back("transformer.h.0.attn.masked_bias", torch::tensor(-1e4f));
  io::save_safetensors(dir / "tied.safetensors", tied);
  EXPECT_NO_THROW(load_hf_safetensors(*m, dir / "tied.safetensors"));

  EXPECT_NE(error_of([&] { from_pretrained(dir / "nowhere"); }).find("no config.json"),
            std::string::npos);
}

// BUG (src/models/pretrained.cpp:109, load_hf_safetensors): the check meant to skip GPT-2's
// stored causal-mask buffers `h.N.attn.bias` compares the last 9 characters of the name with the
// 10-character string ".attn.bias", which never matches, so every checkpoint that stores these
// buffers (e.g. openai-community/gpt2's model.safetensors, shape [1, 1, 1024, 1024] per layer)
// fails with "unexpected tensor 'h.0.attn.bias'". Fix: compare 10 characters (an ends_with).
TEST(Pretrained, AcceptsGpt2CausalMaskBuffers) {
  ScopedTempDir dir;
  auto m = make_model(tiny(30));
  auto sd = to_hf_state_dict(*m);
  sd.emplace_back("transformer.h.0.attn.bias", torch::ones({1, 1, 64, 64}));
  sd.emplace_back("transformer.h.1.attn.bias", torch::ones({1, 1, 64, 64}));
  io::save_safetensors(dir / "buffers.safetensors", sd);
  EXPECT_EQ(error_of([&] { load_hf_safetensors(*m, dir / "buffers.safetensors"); }), "<no error>");
  // The GPT2Model layout (no "transformer." prefix) as transformers writes it.
  std::vector<std::pair<std::string, torch::Tensor>> bare;
  for (auto& [k, t] : sd) bare.emplace_back(k.substr(std::string("transformer.").size()), t);
  io::save_safetensors(dir / "bare.safetensors", bare);
  EXPECT_EQ(error_of([&] { load_hf_safetensors(*m, dir / "bare.safetensors"); }), "<no error>");
}

TEST(ModelConfig, HfJsonRoundTripAndErrors) {
  auto c = tiny(77);
  c.n_inner = 99;
  c.dropout = 0.2;
  c.layer_norm_eps = 1e-6;
  const auto back = ModelConfig::from_hf_json(c.to_hf_json(), "x");
  EXPECT_EQ(back.n_layer, c.n_layer);
  EXPECT_EQ(back.n_head, c.n_head);
  EXPECT_EQ(back.n_embd, c.n_embd);
  EXPECT_EQ(back.block_size, c.block_size);
  EXPECT_EQ(back.vocab_size, 77);
  EXPECT_EQ(back.n_inner, 99);
  EXPECT_EQ(back.qkv_bias, c.qkv_bias);
  EXPECT_EQ(back.norm_bias, c.norm_bias);
  EXPECT_EQ(back.dropout, 0.2);
  EXPECT_EQ(back.layer_norm_eps, 1e-6);
  EXPECT_EQ(back.activation, c.activation);
  EXPECT_NE(error_of([] { ModelConfig::preset("gpt5"); }).find("unknown preset 'gpt5'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ModelConfig::from_hf_json({{"n_layer", "two"}}, "cfg.json");
            }).find("'n_layer'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ModelConfig::from_hf_json({{"n_embd", 10}, {"n_head", 3}}, "cfg.json");
            }).find("multiple of n_head"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ModelConfig::from_hf_json({{"model_type", "falcon"}}, "cfg.json");
            })
                .find("'falcon' is not supported (gpt2, gemma2, gemma3_text, llama, mistral, "
                      "mixtral, phi3, qwen2, qwen3, qwen3_moe)"),
            std::string::npos);
}

TEST(ModelConfig, PresetParameterCountsMatchThePublishedOnes) {
  // Counted by arithmetic, nothing allocated: the figures the model cards publish.
  EXPECT_EQ(count_parameters(ModelConfig::preset("gpt2")), 124439808);
  EXPECT_EQ(count_parameters(ModelConfig::preset("tinyllama-1.1b")), 1100048384);
  EXPECT_EQ(count_parameters(ModelConfig::preset("llama-2-7b")), 6738415616);
  EXPECT_EQ(count_parameters(ModelConfig::preset("llama-3-8b")), 8030261248);
  EXPECT_EQ(count_parameters(ModelConfig::preset("llama-3.1-8b")), 8030261248);
  EXPECT_EQ(count_parameters(ModelConfig::preset("mistral-7b-v0.1")), 7241732096);
  // The families of the config-driven decoder: the totals Hugging Face's pages count in the
  // safetensors (tied embeddings once; Gemma 3's text model without its vision tower).
  EXPECT_EQ(count_parameters(ModelConfig::preset("llama-3.2-1b")), 1235814400);
  EXPECT_EQ(count_parameters(ModelConfig::preset("llama-3.2-3b")), 3212749824);
  EXPECT_EQ(count_parameters(ModelConfig::preset("qwen2.5-0.5b")), 494032768);
  EXPECT_EQ(count_parameters(ModelConfig::preset("qwen2.5-7b")), 7615616512);
  EXPECT_EQ(count_parameters(ModelConfig::preset("qwen3-8b")), 8190735360);
  EXPECT_EQ(count_parameters(ModelConfig::preset("gemma-2-2b")), 2614341888);
  EXPECT_EQ(count_parameters(ModelConfig::preset("gemma-2-9b")), 9241705984);
  EXPECT_EQ(count_parameters(ModelConfig::preset("gemma-3-1b")), 999885952);
  EXPECT_EQ(count_parameters(ModelConfig::preset("phi-3-mini")), 3821079552);
  EXPECT_EQ(count_parameters(ModelConfig::preset("mixtral-8x7b")), 46702792704);
  EXPECT_EQ(count_parameters(ModelConfig::preset("qwen3-30b-a3b")), 30532122624);
  // Active per token: k of E experts (Mixtral 2 of 8: the card's 12.9B; Qwen3-30B-A3B 8 of
  // 128: 3.3B).
  EXPECT_NEAR(count_model_parameters(ModelConfig::preset("mixtral-8x7b")).active / 1e9, 12.9, 0.05);
  // (The Qwen card's 3.3B rounds down: both 0.31B embedding tables count here, as in the total.)
  EXPECT_NEAR(count_model_parameters(ModelConfig::preset("qwen3-30b-a3b")).active / 1e9, 3.3, 0.06);
  for (const auto& name : ModelConfig::preset_names()) ModelConfig::preset(name).validate();
}

TEST(ModelConfig, LlamaAndMistralConfigJsonRoundTrip) {
  // Llama 3.1 8B's config.json as transformers writes it (the keys volt reads).
  const auto hf = nlohmann::json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256,
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "hidden_act": "silu", "attention_bias": false,
    "mlp_bias": false, "tie_word_embeddings": false, "bos_token_id": 128000, "eos_token_id": 128001,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"}})");
  const auto c = ModelConfig::from_hf_json(hf, "llama31.json");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.kv_heads(), 8);
  EXPECT_EQ(c.head_dim(), 128);
  EXPECT_EQ(c.block_size, 131072);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(count_parameters(c), 8030261248);
  const auto again = ModelConfig::from_hf_json(c.to_hf_json(), "round-trip");
  EXPECT_EQ(again.to_hf_json(), c.to_hf_json());
  EXPECT_EQ(c.to_hf_json().at("architectures")[0], "LlamaForCausalLM");

  const auto m = ModelConfig::preset("mistral-7b-v0.1");
  const auto mj = m.to_hf_json();
  EXPECT_EQ(mj.at("architectures")[0], "MistralForCausalLM");
  EXPECT_EQ(mj.at("sliding_window"), 4096);
  const auto mb = ModelConfig::from_hf_json(mj, "mistral.json");
  EXPECT_EQ(mb.sliding_window, 4096);
  EXPECT_EQ(count_parameters(mb), 7241732096);

  // Errors name the file and the problem.
  auto bad = hf;
  bad["num_key_value_heads"] = 5;
  EXPECT_NE(
      error_of([&] { ModelConfig::from_hf_json(bad, "b.json"); }).find("multiple of n_kv_head (5)"),
      std::string::npos);
  bad = hf;
  bad["rope_scaling"]["rope_type"] = "yarn";
  EXPECT_NE(
      error_of([&] { ModelConfig::from_hf_json(bad, "b.json"); }).find("rope_scaling type 'yarn'"),
      std::string::npos);
  bad = hf;
  bad["mlp_bias"] = true;  // Llama reads attention_bias and mlp_bias separately
  const auto mlp_bias = ModelConfig::from_hf_json(bad, "b.json");
  EXPECT_TRUE(mlp_bias.mlp_bias);
  EXPECT_FALSE(mlp_bias.qkv_bias);
  bad = hf;
  bad["num_hidden_layers"] = 1.5;
  EXPECT_NE(error_of([&] { ModelConfig::from_hf_json(bad, "b.json"); }).find("b.json"),
            std::string::npos);
}

// A tiny Llama / Mistral: 2 layers, 4 query heads sharing 2 key/value heads, head_dim 8.
ModelConfig tiny_llama(const std::string& type = "llama") {
  auto c = ModelConfig::preset(type == "mistral" ? "mistral-7b-v0.1" : "llama-3.1-8b");
  c.n_layer = 2, c.n_embd = 32, c.n_head = 4, c.n_kv_head = 2, c.n_inner = 48, c.vocab_size = 97;
  c.block_size = 64;
  c.rope_scaling.original_max_position_embeddings = 16;  // so the scaling bands matter at T = 64
  if (type == "mistral") c.sliding_window = 5;
  return c;
}

TEST(CausalLMLlama, HfParameterNamesShapesAndCount) {
  const auto c = tiny_llama();
  auto m = make_model(c);
  std::set<std::string> names;
  int64_t n = 0;
  for (const auto& kv : m->named_parameters()) names.insert(kv.key()), n += kv.value().numel();
  for (const char* want :
       {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight", "lm_head.weight"}) {
    EXPECT_EQ(names.count(want), 1u) << want;
  }
  EXPECT_EQ(n, count_parameters(c));
  EXPECT_EQ(m->block(0).attn->k->weight.sizes(), (std::vector<int64_t>{16, 32}));  // 2 kv heads x 8
}

TEST(CausalLMLlama, KVCacheDecodingAndPackingMatchTheFullForward) {
  for (const std::string type : {"llama", "mistral"}) {
    SCOPED_TRACE(type);
    auto m = make_model(tiny_llama(type), 3);
    torch::NoGradGuard ng;
    auto ids = random_ids(2, 20, 97, 4);
    auto full = m->forward(ids);
    auto cache = m->make_cache(2, 20);
    auto first = m->forward(ids.narrow(1, 0, 12), torch::Tensor(), &cache);
    auto rest = m->forward(ids.narrow(1, 12, 8), torch::Tensor(), &cache);
    EXPECT_LE((torch::cat({first, rest}, 1) - full).abs().max().item<double>(), 1e-4);
    // Two documents packed in one row: each equals its own forward (positions restart).
    auto a = ids.narrow(1, 0, 7).narrow(0, 0, 1), b = ids.narrow(1, 7, 13).narrow(0, 0, 1);
    auto pos = torch::cat({torch::arange(7), torch::arange(13)}).view({1, 20});
    auto doc = torch::cat({torch::zeros({7}, torch::kLong), torch::ones({13}, torch::kLong)})
                   .view({1, 20});
    auto packed = m->forward(ids.narrow(0, 0, 1), pos, nullptr, doc);
    EXPECT_LE((packed.narrow(1, 0, 7) - m->forward(a)).abs().max().item<double>(), 1e-4);
    EXPECT_LE((packed.narrow(1, 7, 13) - m->forward(b)).abs().max().item<double>(), 1e-4);
  }
}

TEST(CausalLMLlama, SaveAndLoadPretrainedIsBitIdentical) {
  ScopedTempDir dir;
  auto m = make_model(tiny_llama("mistral"), 5);
  save_pretrained(*m, dir.path());
  const auto cfg = io::read_json(dir / "config.json");
  EXPECT_EQ(cfg.at("architectures")[0], "MistralForCausalLM");
  io::SafetensorsFile f(dir / "model.safetensors");
  EXPECT_TRUE(f.contains("model.layers.1.self_attn.v_proj.weight"));
  EXPECT_FALSE(f.contains("rope_inv_freq"));
  auto back = from_pretrained(dir.path());
  for (const auto& kv : m->named_parameters()) {
    EXPECT_TRUE(torch::equal(kv.value(), back->named_parameters()[kv.key()])) << kv.key();
  }
  torch::NoGradGuard ng;
  auto ids = random_ids(1, 9, 97, 6);
  back->eval();
  EXPECT_TRUE(torch::equal(m->forward(ids), back->forward(ids)));
}

// ---------------------------------------------------------------------------------------------
// generate()

std::vector<int64_t> reference_greedy(CausalLMImpl& m, std::vector<int64_t> ctx, int64_t n) {
  torch::NoGradGuard ng;
  std::vector<int64_t> out;
  const auto block = static_cast<size_t>(m.config().block_size);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> window(
        ctx.size() > block ? ctx.end() - static_cast<std::ptrdiff_t>(block) : ctx.begin(),
        ctx.end());
    auto logits = m.forward(torch::tensor(window, torch::kLong).unsqueeze(0));
    const int64_t next = logits[0][-1].argmax().item<int64_t>();
    out.push_back(next);
    ctx.push_back(next);
  }
  return out;
}

TEST(Generate, GreedyIsDeterministicAndMatchesArgmaxDecoding) {
  auto m = make_model(tiny(65), 11);
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = 30;
  o.seed = 1;
  const std::vector<int64_t> prompt{1, 2, 3};
  const auto a = generate(*m, prompt, o);
  o.seed = 2;  // greedy ignores the seed
  const auto b = generate(*m, prompt, o);
  ASSERT_EQ(a.size(), 30u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, reference_greedy(*m, prompt, 30));
}

TEST(Generate, WithoutTheCacheGivesTheSameGreedyTokens) {
  for (const auto& c : {tiny(), tiny_llama("mistral")}) {
    auto m = make_model(c, 11);
    GenerationOptions o;
    o.temperature = 0;
    o.max_new_tokens = 80;  // past the context (64): the window slides both ways
    const std::vector<int64_t> prompt = {1, 2, 3};
    const auto cached = generate(*m, prompt, o);
    o.use_cache = false;
    EXPECT_EQ(generate(*m, prompt, o), cached) << c.model_type;
  }
}

TEST(Generate, TopKOneEqualsGreedy) {
  auto m = make_model(tiny(65), 12);
  GenerationOptions greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 25;
  GenerationOptions top1;
  top1.temperature = 1.0;
  top1.top_k = 1;
  top1.max_new_tokens = 25;
  top1.seed = 99;
  EXPECT_EQ(generate(*m, {5}, top1), generate(*m, {5}, greedy));
}

TEST(Generate, SamplingIsReproducibleFromTheSeed) {
  auto m = make_model(tiny(65), 13);
  GenerationOptions o;
  o.temperature = 1.0;
  o.max_new_tokens = 40;
  o.seed = 7;
  const auto a = generate(*m, {1}, o);
  EXPECT_EQ(a, generate(*m, {1}, o));
  o.seed = 8;
  EXPECT_NE(a, generate(*m, {1}, o));  // 40 draws from a near-uniform 65-way distribution
  for (auto id : a) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 65);
  }
}

TEST(Generate, SlidesTheWindowPastTheContextLength) {
  auto c = tiny(30);
  c.block_size = 8;
  auto m = make_model(c, 14);
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = 20;
  const std::vector<int64_t> prompt{3, 1, 4, 1, 5, 9, 2, 6, 5, 3};  // longer than the context
  EXPECT_EQ(generate(*m, prompt, o), reference_greedy(*m, prompt, 20));
}

TEST(Generate, StopsAtEosAndRejectsBadPrompts) {
  auto m = make_model(tiny(65), 15);
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = 20;
  const auto free_run = generate(*m, {1, 2}, o);
  o.eos_id = free_run[3];
  const auto stopped = generate(*m, {1, 2}, o);
  // Stops at the first occurrence of the eos id, which is included.
  size_t first = 0;
  while (free_run[first] != *o.eos_id) ++first;
  EXPECT_EQ(stopped,
            std::vector<int64_t>(free_run.begin(),
                                 free_run.begin() + static_cast<std::ptrdiff_t>(first) + 1));
  EXPECT_NE(error_of([&] { generate(*m, {}, o); }).find("prompt is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { generate(*m, {65}, o); }).find("token id 65 is out of range"),
            std::string::npos);
  // generate() leaves a training-mode model in training mode.
  m->train();
  generate(*m, {1}, o);
  EXPECT_TRUE(m->is_training());
}

TEST(Generate, SampleNextHonoursTopKAndTopP) {
  auto logits = torch::tensor({0.0f, 3.0f, 2.9f, -1.0f, 2.8f});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  GenerationOptions o;
  o.temperature = 1.0;
  o.top_k = 2;
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(sample_next(logits, o, gen));
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2}));
  o.top_k = 0;
  o.top_p = 0.01;  // only the most likely token
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample_next(logits, o, gen), 1);
  o.temperature = 0;
  o.top_p = 1.0;
  EXPECT_EQ(sample_next(logits, o, gen), 1);
}

TEST(CausalLMLlama, ShardedCheckpointsAndHalfPrecisionFilesLoad) {
  ScopedTempDir dir;
  auto m = make_model(tiny_llama(), 9);
  save_pretrained(*m, dir / "sharded", 20000);  // ~60 KB of weights: several shards
  EXPECT_FALSE(fs::exists(dir / "sharded/model.safetensors"));
  const auto index = io::read_json(dir / "sharded/model.safetensors.index.json");
  std::set<std::string> shard_files;
  for (const auto& [tensor, file] : index.at("weight_map").items())
    shard_files.insert(file.get<std::string>());
  EXPECT_GE(shard_files.size(), 3u);
  EXPECT_EQ(shard_files.count("model-00001-of-0000" + std::to_string(shard_files.size()) +
                              ".safetensors"),
            1u);
  auto back = from_pretrained(dir / "sharded");
  for (const auto& kv : m->named_parameters()) {
    EXPECT_TRUE(torch::equal(kv.value(), back->named_parameters()[kv.key()])) << kv.key();
  }
  // Saving unsharded into the same directory replaces the index: one layout per directory.
  save_pretrained(*m, dir / "sharded", 0);
  EXPECT_FALSE(fs::exists(dir / "sharded/model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(dir / "sharded/model.safetensors"));

  // A bf16 file loads into float32 parameters, converted on the way (values exactly bf16's).
  fs::create_directories(dir / "bf16");
  io::write_json(dir / "bf16/config.json", m->config().to_hf_json());
  auto sd = to_hf_state_dict(*m);
  for (auto& [name, t] : sd) t = t.to(torch::kBFloat16);
  io::save_safetensors(dir / "bf16/model.safetensors", sd);
  auto half = from_pretrained(dir / "bf16");
  const auto w = m->named_parameters()["model.layers.0.mlp.up_proj.weight"];
  EXPECT_TRUE(torch::equal(half->named_parameters()["model.layers.0.mlp.up_proj.weight"],
                           w.to(torch::kBFloat16).to(torch::kFloat32)));

  // Broken indexes name the problem.
  save_pretrained(*m, dir / "broken", 20000);
  auto j = io::read_json(dir / "broken/model.safetensors.index.json");
  j["weight_map"]["model.norm.weight"] = "model-00099-of-00099.safetensors";
  io::write_json(dir / "broken/model.safetensors.index.json", j);
  EXPECT_NE(
      error_of([&] { from_pretrained(dir / "broken"); }).find("model-00099-of-00099.safetensors"),
      std::string::npos);
  j["weight_map"]["model.norm.weight"] = j["weight_map"]["model.embed_tokens.weight"];
  io::write_json(dir / "broken/model.safetensors.index.json", j);
  EXPECT_NE(error_of([&] {
              from_pretrained(dir / "broken");
            }).find("tensor 'model.norm.weight' is not in"),
            std::string::npos);
  fs::remove_all(dir / "empty");
  fs::create_directories(dir / "empty");
  io::write_json(dir / "empty/config.json", m->config().to_hf_json());
  EXPECT_NE(error_of([&] { from_pretrained(dir / "empty"); }).find("no model.safetensors"),
            std::string::npos);
}

TEST(Score, IsTheMeanNextTokenCrossEntropyAndWindowsScoreEveryTokenOnce) {
  auto m = make_model(tiny(), 7);  // block_size 64
  std::vector<int64_t> ids;
  auto r = random_ids(1, 150, 65, 8);
  for (int64_t i = 0; i < 150; ++i) ids.push_back(r[0][i].item<int64_t>());
  torch::NoGradGuard ng;
  // Within the context: exactly causal_lm_loss on the shifted sequence.
  std::vector<int64_t> head(ids.begin(), ids.begin() + 30);
  const auto s30 = score_tokens(*m, head);
  auto x = torch::tensor(head, torch::kLong).unsqueeze(0);
  const double want =
      causal_lm_loss(m->forward(x.narrow(1, 0, 29)), x.narrow(1, 1, 29)).item<double>();
  EXPECT_NEAR(s30.mean_nll, want, 1e-6);
  EXPECT_EQ(s30.tokens, 29);
  EXPECT_NEAR(s30.perplexity, std::exp(want), 1e-6 * std::exp(want));
  // Longer than the context: windows of 64 advancing by 32; every token is scored exactly once.
  const auto sw = score_tokens(*m, ids, 32);
  EXPECT_EQ(sw.tokens, 149);
  // By hand with the same windows (begin 0, 32, 64, 96; each scores tokens not yet scored).
  double nll = 0;
  int64_t scored_until = 1;
  auto all = torch::tensor(ids, torch::kLong);
  for (int64_t begin = 0;; begin += 32) {
    const int64_t end = std::min<int64_t>(begin + 64, 150);
    auto logp = torch::log_softmax(
        m->forward(all.slice(0, begin, end).unsqueeze(0))[0].to(torch::kFloat64), -1);
    for (int64_t j = std::max(scored_until, begin + 1); j < end; ++j)
      nll -= logp[j - 1 - begin][ids[j]].item<double>();
    scored_until = end;
    if (end == 150) break;
  }
  EXPECT_NEAR(sw.mean_nll, nll / 149.0, 1e-9);
  EXPECT_NE(error_of([&] { score_tokens(*m, {3}); }).find("at least 2 tokens"), std::string::npos);
  EXPECT_NE(error_of([&] { score_tokens(*m, ids, 64); }).find("windows overlap"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              score_tokens(*m, {3, 65});
            }).find("token id 65 at position 1"),
            std::string::npos);
}

}  // namespace
}  // namespace volt

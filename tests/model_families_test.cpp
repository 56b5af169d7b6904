// Every decoder family volt builds from config values, against transformers itself: tiny random
// models that transformers 5.12 wrote with save_pretrained (tests/goldens/models/<family>/, made
// by scripts/hf-reference/make_tiny_models.py in the Debian sid root), each exercising its
// family's features (sliding windows shorter than the sequence, soft-caps that bite, QK-norm,
// local/global RoPE bases, fused projections, partial rotary, mixtures of experts), with the
// reference mean NLL, last logits, greedy tokens, parameter count and MoE auxiliary loss.
// The committed goldens need no reference root to run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_helpers.h"
#include "volt/core/csv_logger.h"
#include "volt/data/text_datamodule.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/causal_lm.h"
#include "volt/models/generate.h"
#include "volt/models/pretrained.h"
#include "volt/peft/lora.h"
#include "volt/train/lm_module.h"
#include "volt/train/trainer.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;

// tests/goldens/models/<family>: env VOLT_GOLDENS_DIR, else beside this source file.
std::string golden_dir(const std::string& family) {
  const char* env = std::getenv("VOLT_GOLDENS_DIR");
  const fs::path root =
      env != nullptr && *env != '\0' ? fs::path(env) : fs::path(__FILE__).parent_path() / "goldens";
  return (root / "models" / family).string();
}

const std::vector<std::string>& families() {
  static const std::vector<std::string> f = {"gpt2",   "llama",       "llama32",   "mistral",
                                             "qwen2",  "qwen3",       "qwen3_moe", "mixtral",
                                             "gemma2", "gemma3_text", "phi3"};
  return f;
}

// Mean next-token NLL per row and overall, float64 log-softmax of the float32 logits (the goldens'
// definition).
std::pair<std::vector<double>, double> mean_nll(CausalLMImpl& m, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  const auto logits = m.forward(ids).to(torch::kFloat64);  // (B, T, V)
  const int64_t t = ids.size(1);
  const auto logp = torch::log_softmax(logits.narrow(1, 0, t - 1), -1);
  const auto nll = -logp.gather(-1, ids.narrow(1, 1, t - 1).unsqueeze(-1)).squeeze(-1);  // (B, T-1)
  std::vector<double> rows;
  for (int64_t b = 0; b < ids.size(0); ++b) rows.push_back(nll[b].mean().item<double>());
  return {rows, nll.mean().item<double>()};
}

torch::Tensor ids_of(const nlohmann::json& j) {
  std::vector<torch::Tensor> rows;
  for (const auto& r : j)
    rows.push_back(torch::tensor(r.get<std::vector<int64_t>>(), torch::kLong));
  return torch::stack(rows);
}

class Family : public ::testing::TestWithParam<std::string> {};

TEST_P(Family, ScoresAsTransformersDoes) {
  const std::string dir = golden_dir(GetParam());
  const auto ref = io::read_json(dir + "/reference.json");
  auto m = from_pretrained(dir);
  const auto ids = ids_of(ref.at("input_ids"));
  const auto [rows, overall] = mean_nll(*m, ids);
  EXPECT_NEAR(overall, ref.at("nll").at("mean_nll").get<double>(), 2e-5) << GetParam();
  const auto ref_rows = ref.at("nll").at("mean_nll_per_row").get<std::vector<double>>();
  for (size_t r = 0; r < rows.size(); ++r)
    EXPECT_NEAR(rows[r], ref_rows[r], 2e-5) << GetParam() << " row " << r;
  // The last positions' logits, value by value.
  torch::NoGradGuard no_grad;
  const auto logits = m->forward(ids);
  const auto& last = ref.at("last_logits");
  const auto positions = last.at("positions").get<std::vector<int64_t>>();
  const auto& values = last.at("values");  // [row][position][vocab]
  for (size_t r = 0; r < values.size(); ++r) {
    for (size_t p = 0; p < positions.size(); ++p) {
      const auto want = torch::tensor(values[r][p].get<std::vector<float>>());
      const auto got = logits[static_cast<int64_t>(r)][positions[p]];
      EXPECT_LT((got - want).abs().max().item<double>(), 2e-4)
          << GetParam() << " row " << r << " position " << positions[p];
    }
  }
  // The parameter count transformers reports, read off volt's built module.
  EXPECT_EQ(count_parameters(m->config()), ref.at("num_parameters").get<int64_t>()) << GetParam();
}

TEST_P(Family, GreedyGenerationWithTheKVCacheEqualsTransformers) {
  const std::string dir = golden_dir(GetParam());
  const auto ref = io::read_json(dir + "/reference.json");
  const auto& g = ref.at("generate");
  auto m = from_pretrained(dir);
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = g.at("max_new_tokens").get<int64_t>();
  const auto prompt = g.at("prompt_ids").get<std::vector<int64_t>>();
  EXPECT_EQ(generate(*m, prompt, o), g.at("new_ids").get<std::vector<int64_t>>()) << GetParam();
  o.use_cache = false;
  EXPECT_EQ(generate(*m, prompt, o), g.at("new_ids").get<std::vector<int64_t>>())
      << GetParam() << " (no cache)";
}

TEST_P(Family, SaveThenLoadIsBitExactAndTransformersNamesAreKept) {
  const std::string dir = golden_dir(GetParam());
  auto m = from_pretrained(dir);
  ScopedTempDir tmp;
  save_pretrained(*m, tmp / "saved");
  // The same tensors under the same names as transformers wrote (a tied head saved once).
  std::map<std::string, torch::Tensor> theirs, ours;
  for (const auto& f : pretrained_weight_files(dir)) {
    io::SafetensorsFile file(f);
    for (const auto& n : file.names()) theirs[n] = file.load(n);
  }
  for (const auto& f : pretrained_weight_files(tmp / "saved")) {
    io::SafetensorsFile file(f);
    for (const auto& n : file.names()) ours[n] = file.load(n);
  }
  ASSERT_EQ(theirs.size(), ours.size()) << GetParam();
  for (const auto& [name, t] : theirs) {
    ASSERT_TRUE(ours.count(name)) << GetParam() << ": " << name;
    EXPECT_TRUE(torch::equal(ours[name], t)) << GetParam() << ": " << name;
  }
  // config.json round trip: the same model again.
  const auto again = load_model_config(tmp / "saved");
  EXPECT_EQ(again.to_hf_json(), m->config().to_hf_json()) << GetParam();
  auto back = from_pretrained(tmp / "saved");
  const auto ids = ids_of(io::read_json(dir + "/reference.json").at("input_ids"));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(back->forward(ids), m->forward(ids))) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Hf, Family, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(ModelFamilies, TheRouterAuxiliaryLossIsTransformers) {
  for (const std::string family : {"qwen3_moe", "mixtral"}) {
    const std::string dir = golden_dir(family);
    const auto ref = io::read_json(dir + "/reference.json");
    auto m = from_pretrained(dir);
    const auto ids = ids_of(ref.at("input_ids"));
    torch::NoGradGuard no_grad;
    const auto logits = m->forward(ids);
    const auto& moe = ref.at("moe");
    EXPECT_NEAR(m->router_aux_loss().item<double>(), moe.at("router_aux_loss").get<double>(), 1e-5)
        << family;
    // HF's training loss: the shifted cross-entropy plus coef times the auxiliary loss.
    const auto lm =
        causal_lm_loss(logits.narrow(1, 0, ids.size(1) - 1), ids.narrow(1, 1, ids.size(1) - 1));
    EXPECT_NEAR(lm.item<double>(), moe.at("lm_loss").get<double>(), 2e-5) << family;
    EXPECT_NEAR(m->config().router_aux_loss_coef, moe.at("router_aux_loss_coef").get<double>(),
                1e-12)
        << family;
  }
}

TEST(ModelFamilies, EveryAblatedFeatureChangesTheScore) {
  // The goldens' ablations show each feature bites in transformers (switching it off moves the
  // NLL); volt must follow the same switch: built with the ablated config, the score moves the
  // same.
  for (const auto& family : families()) {
    const std::string dir = golden_dir(family);
    const auto ref = io::read_json(dir + "/reference.json");
    if (!ref.contains("ablations")) continue;
    const auto base_json = io::read_json(dir + "/config.json");
    const auto ids = ids_of(ref.at("input_ids"));
    for (const auto& [what, a] : ref.at("ablations").items()) {
      if (!a.contains("config_change") || !a.contains("mean_nll")) continue;
      auto changed = base_json;
      // Key by key: JSON merge-patch would delete a key set to null, and null is the ablation.
      for (const auto& [key, value] : a.at("config_change").items()) changed[key] = value;
      ModelConfig c;
      try {
        c = ModelConfig::from_hf_json(changed, family + " ablation '" + what + "'");
      } catch (const Error& e) {
        ADD_FAILURE() << family << ": ablation '" << what << "' is not readable: " << e.what();
        continue;
      }
      CausalLM m(c);
      load_hf_safetensors(*m, pretrained_weight_files(dir));
      m->eval();
      EXPECT_NEAR(mean_nll(*m, ids).second, a.at("mean_nll").get<double>(), 2e-5)
          << family << ": " << what;
    }
  }
}

TEST(ModelFamilies, TransformersFourStyleConfigsReadTheSame) {
  // transformers 5 writes rope_parameters; the Hub's files (4.x) have rope_theta / rope_scaling.
  for (const auto& family : families()) {
    const auto ref = io::read_json(golden_dir(family) + "/reference.json");
    if (!ref.contains("config_v4_style")) continue;
    const auto v5 = load_model_config(golden_dir(family));
    const auto v4 =
        ModelConfig::from_hf_json(ref.at("config_v4_style").at("config"), family + " (4.x keys)");
    EXPECT_EQ(v4.to_hf_json(), v5.to_hf_json()) << family;
  }
}

}  // namespace
}  // namespace volt

namespace volt {
namespace {

// The must-show: a Qwen3-MoE-shaped tiny model trains with LoRA for 50 steps through the
// Trainer; the router's auxiliary loss is logged beside the loss, and the loss falls.
TEST(ModelFamilies, AQwen3MoeTrainsWithLoraLoggingTheAuxiliaryLoss) {
  ScopedTempDir dir;
  const std::string text =
      io::read_file(volt_test_data("corpora/tinyshakespeare/input.txt")).substr(0, 40000);
  test::write_text(dir / "input.txt", text);
  TextDataOptions d;
  d.path = dir / "input.txt";
  d.block_size = 32, d.batch_size = 8, d.val_batches = 2;
  auto data = std::make_shared<TextDataModule>(d);
  data->prepare_data();
  data->setup("fit");
  auto c = ModelConfig::preset("qwen3-moe-tiny");
  c.vocab_size = data->tokenizer()->vocab_size();
  ASSERT_GT(c.router_aux_loss_coef, 0);
  torch::manual_seed(0);
  AdamWOptions adamw;
  adamw.lr = 1e-2;
  LMModule module(c, adamw, nullptr, data->tokenizer());
  peft::LoraConfig lora;
  lora.r = 8, lora.alpha = 16,
  lora.target_modules = {"q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"};
  module.enable_lora(lora);
  Trainer trainer(TrainerOptions()
                      .max_steps(50)
                      .val_check_interval(50)
                      .limit_val_batches(1.0)
                      .log_every_n_steps(1)
                      .enable_progress_bar(false)
                      .enable_checkpointing(false)
                      .num_threads(1)
                      .default_root_dir(dir / "run"));
  trainer.fit(module, *data);
  const auto rows = CSVLogger::read(dir / "run/metrics.csv");
  ASSERT_EQ(rows.size(), 50u);
  double first = 0, last = 0;
  for (size_t i = 0; i < 10; ++i) {
    first += rows[i].at("train_loss") / 10, last += rows[rows.size() - 1 - i].at("train_loss") / 10;
    ASSERT_EQ(rows[i].count("router_aux_loss"), 1u) << "row " << i;
    EXPECT_GT(rows[i].at("router_aux_loss"), 0.5);  // E * sum f_e P_e: about k when balanced
  }
  // Only the adapters learn, on a random base: 50 steps take about 0.15 nats off (3.90 -> 3.74).
  EXPECT_LT(last, first - 0.1) << "first 10 steps " << first << ", last 10 " << last;
  // The experts' adapters trained (each expert's projections were targets by name).
  int64_t expert_adapters = 0;
  for (const auto& kv : module.named_parameters()) {
    if (kv.key().find(".experts.") != std::string::npos &&
        kv.key().find("lora_B") != std::string::npos) {
      expert_adapters += kv.value().abs().sum().item<double>() > 0 ? 1 : 0;
    }
  }
  EXPECT_GT(expert_adapters, 0);
}

}  // namespace
}  // namespace volt

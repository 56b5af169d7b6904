#include "volt/models/model_config.h"

#include <map>

#include "volt/core/check.h"

namespace volt {

void ModelConfig::validate() const {
  VOLT_CHECK(model_type == "gpt2", "[model] model_type '", model_type,
             "' is not supported yet (supported: gpt2)");
  VOLT_CHECK(n_layer > 0, "[model] n_layer must be positive, got ", n_layer);
  VOLT_CHECK(n_head > 0, "[model] n_head must be positive, got ", n_head);
  VOLT_CHECK(n_embd > 0 && n_embd % n_head == 0, "[model] n_embd (", n_embd,
             ") must be a positive multiple of n_head (", n_head, ")");
  VOLT_CHECK(block_size > 0, "[model] block_size must be positive, got ", block_size);
  VOLT_CHECK(vocab_size > 0, "[model] vocab_size must be positive, got ", vocab_size);
  VOLT_CHECK(dropout >= 0.0 && dropout < 1.0, "[model] dropout must be in [0, 1), got ", dropout);
  VOLT_CHECK(activation == "gelu" || activation == "gelu_new", "[model] activation '", activation,
             "' is not supported (gelu, gelu_new)");
}

namespace {
// Presets list only what differs from the defaults above. Each mirrors a known configuration.
std::map<std::string, ModelConfig> make_presets() {
  std::map<std::string, ModelConfig> p;
  auto baby = [](int64_t l, int64_t h, int64_t e, int64_t t) {
    ModelConfig c;
    c.n_layer = l, c.n_head = h, c.n_embd = e, c.block_size = t;
    c.bias = false;  // nanoGPT's default: slightly better and faster
    c.vocab_size = 65;
    return c;
  };
  p["babygpt-tiny"] = baby(2, 2, 64, 64);           // unit tests and examples
  p["babygpt-shakespeare"] = baby(4, 4, 128, 64);   // nanoGPT's CPU Shakespeare run
  p["babygpt-small"] = baby(6, 6, 384, 256);        // nanoGPT's GPU Shakespeare run
  auto gpt2 = [](int64_t l, int64_t h, int64_t e) {  // openai-community/gpt2* config.json
    ModelConfig c;
    c.n_layer = l, c.n_head = h, c.n_embd = e;
    c.activation = "gelu_new";
    return c;
  };
  p["gpt2"] = gpt2(12, 12, 768);
  p["gpt2-medium"] = gpt2(24, 16, 1024);
  p["gpt2-large"] = gpt2(36, 20, 1280);
  p["gpt2-xl"] = gpt2(48, 25, 1600);
  return p;
}
const std::map<std::string, ModelConfig>& presets() {
  static const auto p = make_presets();
  return p;
}
}  // namespace

ModelConfig ModelConfig::preset(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string all;
    for (const auto& n : preset_names()) all += (all.empty() ? "" : ", ") + n;
    VOLT_FAIL("[model] unknown preset '", name, "' (known: ", all, ")");
  }
  return it->second;
}

std::vector<std::string> ModelConfig::preset_names() {
  std::vector<std::string> names;
  for (const auto& kv : presets()) names.push_back(kv.first);
  return names;
}

nlohmann::json ModelConfig::to_hf_json() const {
  nlohmann::json j;
  j["architectures"] = {"GPT2LMHeadModel"};
  j["model_type"] = model_type;
  j["n_layer"] = n_layer;
  j["n_head"] = n_head;
  j["n_embd"] = n_embd;
  j["n_positions"] = block_size;
  j["n_ctx"] = block_size;
  j["vocab_size"] = vocab_size;
  j["n_inner"] = n_inner > 0 ? nlohmann::json(n_inner) : nlohmann::json(nullptr);
  j["activation_function"] = activation;
  j["layer_norm_epsilon"] = layer_norm_eps;
  j["resid_pdrop"] = dropout;
  j["embd_pdrop"] = dropout;
  j["attn_pdrop"] = dropout;
  j["initializer_range"] = initializer_range;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = "float32";
  j["bias"] = bias;  // volt: false means the exported biases are zeros (same function in HF)
  return j;
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& source) {
  VOLT_CHECK(j.is_object(), "[config.json] ", source, ": expected a JSON object");
  ModelConfig c;
  auto get = [&](const char* key, auto& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    try {
      out = j[key].get<std::decay_t<decltype(out)>>();
    } catch (const nlohmann::json::exception&) {
      VOLT_FAIL("[config.json] ", source, ": key '", key, "' has the wrong type (", j[key].dump(),
                ")");
    }
  };
  get("model_type", c.model_type);
  get("n_layer", c.n_layer);
  get("n_head", c.n_head);
  get("n_embd", c.n_embd);
  get("n_positions", c.block_size);
  get("vocab_size", c.vocab_size);
  get("n_inner", c.n_inner);
  get("activation_function", c.activation);
  get("layer_norm_epsilon", c.layer_norm_eps);
  get("resid_pdrop", c.dropout);
  get("initializer_range", c.initializer_range);
  get("tie_word_embeddings", c.tie_word_embeddings);
  get("bias", c.bias);
  try {
    c.validate();
  } catch (const Error& e) {
    VOLT_FAIL("[config.json] ", source, ": ", e.what());
  }
  return c;
}

int64_t count_parameters(const ModelConfig& c) {
  const int64_t e = c.n_embd, f = c.mlp_width(), b = c.bias ? 1 : 0;
  const int64_t per_layer = 2 * (e + b * e)          // ln_1, ln_2
                            + e * 3 * e + b * 3 * e  // c_attn
                            + e * e + b * e          // attn.c_proj
                            + e * f + b * f          // mlp.c_fc
                            + f * e + b * e;         // mlp.c_proj
  int64_t n = c.vocab_size * e + c.block_size * e + c.n_layer * per_layer + (e + b * e);
  if (!c.tie_word_embeddings) n += c.vocab_size * e;
  return n;
}

}  // namespace volt

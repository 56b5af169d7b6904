#include "volt/models/model_config.h"

#include <algorithm>
#include <cstdint>
#include <map>

#include "volt/core/check.h"
#include "volt/core/config.h"

namespace volt {

void ModelConfig::validate() const {
  VOLT_CHECK(model_type == "gpt2" || is_llama_family(), "[model] model_type '", model_type,
             "' is not supported (gpt2, llama, mistral)");
  VOLT_CHECK(n_layer > 0, "[model] n_layer must be positive, got ", n_layer);
  VOLT_CHECK(n_head > 0, "[model] n_head must be positive, got ", n_head);
  VOLT_CHECK(n_embd > 0 && (head_dim_override > 0 || n_embd % n_head == 0), "[model] n_embd (",
             n_embd, ") must be a positive multiple of n_head (", n_head, ")");
  VOLT_CHECK(block_size > 0, "[model] block_size must be positive, got ", block_size);
  VOLT_CHECK(vocab_size > 0, "[model] vocab_size must be positive, got ", vocab_size);
  VOLT_CHECK(dropout >= 0.0 && dropout < 1.0, "[model] dropout must be in [0, 1), got ", dropout);
  // Far beyond any real model (Llama-3-405B: 16384 wide, MLP 53248, 126 layers), and small enough
  // that every parameter count and tensor size below is exact in 64 bits.
  constexpr int64_t kMaxWidth = int64_t{1} << 20, kMaxLength = int64_t{1} << 24, kMaxLayers = 4096;
  VOLT_CHECK(n_layer <= kMaxLayers, "[model] n_layer ", n_layer, " exceeds ", kMaxLayers);
  VOLT_CHECK(n_embd <= kMaxWidth && mlp_width() > 0 && mlp_width() <= kMaxWidth &&
                 n_head <= kMaxWidth && head_dim() > 0 && head_dim() <= kMaxWidth &&
                 n_head * head_dim() <= kMaxWidth,
             "[model] widths beyond ", kMaxWidth, ": n_embd ", n_embd, ", MLP ", mlp_width(),
             ", n_head ", n_head, ", head_dim ", head_dim());
  auto check_id = [&](const char* what, int64_t id) {
    VOLT_CHECK(id >= 0 && id < vocab_size, "[model] ", what, " ", id,
               " is outside the vocabulary (size ", vocab_size, ")");
  };
  if (bos_token_id) check_id("bos_token_id", *bos_token_id);
  if (pad_token_id) check_id("pad_token_id", *pad_token_id);
  for (auto e : eos_token_ids) check_id("eos_token_id", e);
  VOLT_CHECK(vocab_size <= kMaxLength && block_size <= kMaxLength, "[model] vocab_size ",
             vocab_size, " or block_size ", block_size, " exceeds ", kMaxLength);
  if (model_type == "gpt2") {
    VOLT_CHECK(activation == "gelu" || activation == "gelu_new", "[model] activation '", activation,
               "' is not supported for gpt2 (gelu, gelu_new)");
    VOLT_CHECK(kv_heads() == n_head, "[model] gpt2 has no grouped-query attention (n_kv_head ",
               n_kv_head, " != n_head ", n_head, ")");
    return;
  }
  VOLT_CHECK(activation == "silu", "[model] activation '", activation, "' is not supported for ",
             model_type, " (silu: the SwiGLU MLP)");
  VOLT_CHECK(kv_heads() > 0 && n_head % kv_heads() == 0, "[model] n_head (", n_head,
             ") must be a multiple of n_kv_head (", kv_heads(), ")");
  VOLT_CHECK(head_dim() % 2 == 0, "[model] RoPE needs an even head_dim, got ", head_dim());
  VOLT_CHECK(rope_theta > 0, "[model] rope_theta must be positive, got ", rope_theta);
  VOLT_CHECK(rope_scaling.type.empty() || rope_scaling.type == "llama3",
             "[model] rope_scaling type '", rope_scaling.type,
             "' is not supported (llama3, or none)");
  if (rope_scaling.type == "llama3") {
    VOLT_CHECK(
        rope_scaling.factor >= 1 && rope_scaling.high_freq_factor > rope_scaling.low_freq_factor &&
            rope_scaling.original_max_position_embeddings > 0,
        "[model] rope_scaling (llama3) needs factor >= 1, high_freq_factor > low_freq_factor "
        "and original_max_position_embeddings > 0");
  }
  VOLT_CHECK(sliding_window >= 0, "[model] sliding_window must be >= 0, got ", sliding_window);
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
  p["babygpt-tiny"] = baby(2, 2, 64, 64);            // unit tests and examples
  p["babygpt-shakespeare"] = baby(4, 4, 128, 64);    // nanoGPT's CPU Shakespeare run
  p["babygpt-small"] = baby(6, 6, 384, 256);         // nanoGPT's GPU Shakespeare run
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
  // The Hugging Face config.json of each model.
  auto llama = [](int64_t v, int64_t l, int64_t h, int64_t kv, int64_t e, int64_t f, int64_t ctx) {
    ModelConfig c;
    c.model_type = "llama";
    c.vocab_size = v, c.n_layer = l, c.n_head = h, c.n_kv_head = kv, c.n_embd = e, c.n_inner = f;
    c.block_size = ctx;
    c.bias = false;
    c.tie_word_embeddings = false;
    c.activation = "silu";
    return c;
  };
  // Random-weight Llamas for tests, examples (tiny) and the CPU LoRA/QLoRA benchmark (~100M).
  p["llama-tiny"] = llama(65, 2, 4, 2, 64, 176, 128);
  p["llama-100m"] = llama(32000, 8, 12, 4, 768, 2048, 1024);        // 99.5M parameters
  p["tinyllama-1.1b"] = llama(32000, 22, 32, 4, 2048, 5632, 2048);  // TinyLlama-1.1B-Chat-v1.0
  p["llama-2-7b"] = llama(32000, 32, 32, 32, 4096, 11008, 4096);    // meta-llama/Llama-2-7b-hf
  p["llama-2-7b"].layer_norm_eps = 1e-5;
  p["llama-3-8b"] = llama(128256, 32, 32, 8, 4096, 14336, 8192);  // Meta-Llama-3-8B
  p["llama-3-8b"].rope_theta = 500000.0;
  p["llama-3.1-8b"] = p["llama-3-8b"];  // Llama-3.1-8B
  p["llama-3.1-8b"].block_size = 131072;
  p["llama-3.1-8b"].rope_scaling.type = "llama3";
  p["llama-2-70b"] = llama(32000, 80, 64, 8, 8192, 28672, 4096);  // meta-llama/Llama-2-70b-hf
  p["llama-2-70b"].layer_norm_eps = 1e-5;
  p["mistral-7b-v0.1"] = llama(32000, 32, 32, 8, 4096, 14336, 32768);  // Mistral-7B-v0.1
  p["mistral-7b-v0.1"].model_type = "mistral";
  p["mistral-7b-v0.1"].sliding_window = 4096;
  return p;
}
const std::map<std::string, ModelConfig>& presets() {
  static const auto p = make_presets();
  return p;
}
}  // namespace

ModelConfig ModelConfig::preset(const std::string& name_or_alias) {
  // The short names people type for the model a preset mirrors.
  static const std::map<std::string, std::string> aliases = {{"mistral", "mistral-7b-v0.1"},
                                                             {"mistral-7b", "mistral-7b-v0.1"},
                                                             {"llama-2-7b-hf", "llama-2-7b"},
                                                             {"tinyllama", "tinyllama-1.1b"},
                                                             {"gpt2-small", "gpt2"}};
  const auto alias = aliases.find(name_or_alias);
  const std::string& name = alias != aliases.end() ? alias->second : name_or_alias;
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string all;
    for (const auto& n : preset_names()) all += (all.empty() ? "" : ", ") + n;
    const std::string near = nearest_key(name, preset_names());
    VOLT_FAIL("[model] unknown preset '", name, "'",
              near.empty() ? "" : " (did you mean '" + near + "'?)", "; known: ", all);
  }
  return it->second;
}

std::vector<std::string> ModelConfig::preset_names() {
  std::vector<std::string> names;
  for (const auto& kv : presets()) names.push_back(kv.first);
  return names;
}

namespace {

// bos / eos / pad as config.json has them: an id, null, or (eos) a list of ids.
void put_special_ids(const ModelConfig& c, nlohmann::json& j) {
  j["bos_token_id"] = c.bos_token_id ? nlohmann::json(*c.bos_token_id) : nlohmann::json(nullptr);
  if (c.eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else {
    j["eos_token_id"] = c.eos_token_ids.size() == 1 ? nlohmann::json(c.eos_token_ids[0])
                                                    : nlohmann::json(c.eos_token_ids);
  }
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
}

void read_special_ids(const nlohmann::json& j, const std::string& source, ModelConfig& c) {
  auto id = [&](const char* key) -> std::optional<int64_t> {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    VOLT_CHECK(j[key].is_number_integer(), "[config.json] ", source, ": key '", key,
               "' must be an integer id, got ", j[key].dump());
    return j[key].get<int64_t>();
  };
  c.bos_token_id = id("bos_token_id");
  c.pad_token_id = id("pad_token_id");
  c.eos_token_ids.clear();
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array()) {
    for (const auto& e : j["eos_token_id"]) {
      VOLT_CHECK(e.is_number_integer(), "[config.json] ", source,
                 ": eos_token_id must hold integer ids, got ", j["eos_token_id"].dump());
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
  } else if (auto e = id("eos_token_id")) {
    c.eos_token_ids.push_back(*e);
  }
}

nlohmann::json llama_hf_json(const ModelConfig& c) {
  nlohmann::json j;
  j["architectures"] = {c.model_type == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.n_embd;
  j["intermediate_size"] = c.mlp_width();
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.kv_heads();
  if (c.head_dim_override > 0) j["head_dim"] = c.head_dim_override;
  j["max_position_embeddings"] = c.block_size;
  j["rms_norm_eps"] = c.layer_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {
        {"rope_type", c.rope_scaling.type},
        {"factor", c.rope_scaling.factor},
        {"low_freq_factor", c.rope_scaling.low_freq_factor},
        {"high_freq_factor", c.rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  if (c.model_type == "mistral") {
    j["sliding_window"] =
        c.sliding_window > 0 ? nlohmann::json(c.sliding_window) : nlohmann::json(nullptr);
  }
  j["hidden_act"] = c.activation;
  j["attention_bias"] = c.bias;
  j["mlp_bias"] = c.bias;
  j["attention_dropout"] = c.dropout;
  j["initializer_range"] = c.initializer_range;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["torch_dtype"] = c.torch_dtype;
  put_special_ids(c, j);
  return j;
}

}  // namespace

nlohmann::json ModelConfig::generation_config_json() const {
  nlohmann::json j;
  put_special_ids(*this, j);
  return j;
}

nlohmann::json ModelConfig::to_hf_json() const {
  if (is_llama_family()) return llama_hf_json(*this);
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
  j["torch_dtype"] = torch_dtype;
  j["bias"] = bias;  // volt: false means the exported biases are zeros (same function in HF)
  put_special_ids(*this, j);
  return j;
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& source) {
  VOLT_CHECK(j.is_object(), "[config.json] ", source, ": expected a JSON object");
  ModelConfig c;
  auto get = [&](const nlohmann::json& obj, const char* key, auto& out) {
    if (!obj.contains(key) || obj[key].is_null()) return;
    using T = std::decay_t<decltype(out)>;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // nlohmann would convert 3.7 to 3, and a huge float to an integer by undefined behaviour.
      const auto& v = obj[key];
      const bool fits =
          v.is_number_integer() &&
          (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
      VOLT_CHECK(fits, "[config.json] ", source, ": key '", key, "' must be an integer, got ",
                 v.dump());
    }
    try {
      out = obj[key].get<std::decay_t<decltype(out)>>();
    } catch (const nlohmann::json::exception&) {
      VOLT_FAIL("[config.json] ", source, ": key '", key, "' has the wrong type (", obj[key].dump(),
                ")");
    }
  };
  get(j, "model_type", c.model_type);
  if (c.model_type == "llama" || c.model_type == "mistral") {
    // LlamaConfig's defaults where a key is absent.
    c.bias = false;
    c.tie_word_embeddings = false;
    c.activation = "silu";
    c.layer_norm_eps = 1e-6;
    c.block_size = 2048;
    c.n_embd = 4096, c.n_layer = 32, c.n_head = 32, c.n_inner = 11008, c.vocab_size = 32000;
    if (c.model_type == "mistral")
      c.n_inner = 14336, c.n_kv_head = 8, c.block_size = 131072, c.sliding_window = 4096;
    get(j, "vocab_size", c.vocab_size);
    get(j, "hidden_size", c.n_embd);
    get(j, "intermediate_size", c.n_inner);
    get(j, "num_hidden_layers", c.n_layer);
    get(j, "num_attention_heads", c.n_head);
    get(j, "num_key_value_heads", c.n_kv_head);
    get(j, "head_dim", c.head_dim_override);
    if (c.head_dim_override == c.n_embd / std::max<int64_t>(c.n_head, 1)) c.head_dim_override = 0;
    get(j, "max_position_embeddings", c.block_size);
    get(j, "rms_norm_eps", c.layer_norm_eps);
    get(j, "rope_theta", c.rope_theta);
    get(j, "hidden_act", c.activation);
    get(j, "attention_bias", c.bias);
    bool mlp_bias = c.bias;
    get(j, "mlp_bias", mlp_bias);
    VOLT_CHECK(mlp_bias == c.bias, "[config.json] ", source,
               ": attention_bias and mlp_bias differ; "
               "volt has one bias switch");
    get(j, "attention_dropout", c.dropout);
    get(j, "initializer_range", c.initializer_range);
    get(j, "tie_word_embeddings", c.tie_word_embeddings);
    if (c.model_type == "mistral") {
      c.sliding_window = 0;
      get(j, "sliding_window", c.sliding_window);
    }
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
      const auto& rs = j["rope_scaling"];
      VOLT_CHECK(rs.is_object(), "[config.json] ", source,
                 ": rope_scaling must be an object or null");
      get(rs, "type", c.rope_scaling.type);       // older configs
      get(rs, "rope_type", c.rope_scaling.type);  // transformers >= 4.43
      get(rs, "factor", c.rope_scaling.factor);
      get(rs, "low_freq_factor", c.rope_scaling.low_freq_factor);
      get(rs, "high_freq_factor", c.rope_scaling.high_freq_factor);
      get(rs, "original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings);
      if (c.rope_scaling.type == "default") c.rope_scaling.type.clear();
    }
  } else {
    get(j, "n_layer", c.n_layer);
    get(j, "n_head", c.n_head);
    get(j, "n_embd", c.n_embd);
    get(j, "n_positions", c.block_size);
    get(j, "vocab_size", c.vocab_size);
    get(j, "n_inner", c.n_inner);
    get(j, "activation_function", c.activation);
    get(j, "layer_norm_epsilon", c.layer_norm_eps);
    get(j, "resid_pdrop", c.dropout);
    get(j, "initializer_range", c.initializer_range);
    get(j, "tie_word_embeddings", c.tie_word_embeddings);
    get(j, "bias", c.bias);
  }
  read_special_ids(j, source, c);
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string())
    c.torch_dtype = j["torch_dtype"].get<std::string>();
  try {
    c.validate();
  } catch (const Error& e) {
    VOLT_FAIL("[config.json] ", source, ": ", e.what());
  }
  return c;
}

int64_t count_parameters(const ModelConfig& c) {
  const int64_t e = c.n_embd, f = c.mlp_width(), b = c.bias ? 1 : 0;
  if (c.is_llama_family()) {
    const int64_t q = c.n_head * c.head_dim(), kv = c.kv_heads() * c.head_dim();
    const int64_t per_layer = 2 * e                            // input / post-attention RMSNorm
                              + e * q + b * q                  // q_proj
                              + 2 * (e * kv + b * kv)          // k_proj, v_proj
                              + q * e + b * e                  // o_proj
                              + 2 * (e * f + b * f)            // gate_proj, up_proj
                              + f * e + b * e;                 // down_proj
    int64_t n = c.vocab_size * e + c.n_layer * per_layer + e;  // embed_tokens, layers, final norm
    if (!c.tie_word_embeddings) n += c.vocab_size * e;         // lm_head
    return n;
  }
  const int64_t per_layer = 2 * (e + b * e)          // ln_1, ln_2
                            + e * 3 * e + b * 3 * e  // c_attn
                            + e * e + b * e          // attn.c_proj
                            + e * f + b * f          // mlp.c_fc
                            + f * e + b * e;         // mlp.c_proj
  int64_t n = c.vocab_size * e + c.block_size * e + c.n_layer * per_layer + (e + b * e);
  if (!c.tie_word_embeddings) n += c.vocab_size * e;
  return n;
}

std::vector<LinearShape> block_linears(const ModelConfig& c) {
  const int64_t e = c.n_embd, f = c.mlp_width();
  if (c.is_llama_family()) {
    const int64_t q = c.n_head * c.head_dim(), kv = c.kv_heads() * c.head_dim();
    return {{"self_attn.q_proj", e, q}, {"self_attn.k_proj", e, kv}, {"self_attn.v_proj", e, kv},
            {"self_attn.o_proj", q, e}, {"mlp.gate_proj", e, f},     {"mlp.up_proj", e, f},
            {"mlp.down_proj", f, e}};
  }
  return {
      {"attn.c_attn", e, 3 * e}, {"attn.c_proj", e, e}, {"mlp.c_fc", e, f}, {"mlp.c_proj", f, e}};
}

}  // namespace volt

// Hugging Face config.json <-> ModelConfig, family by family: the only place in volt that knows
// family names. Each family is its config keys (with transformers' defaults where a key is absent),
// its tensor names, and the values of the one decoder that reproduce it. Both the classic keys
// (rope_theta, rope_scaling: transformers 4.x and the Hub's files) and transformers 5's
// rope_parameters are read; the classic ones are written, which every version loads.
// What volt cannot compute is an error naming the key (e.g. rope_scaling type yarn).
#include <cmath>
#include <map>
#include <set>

#include "volt/core/check.h"
#include "volt/models/model_config.h"

namespace volt {

namespace {

using json = nlohmann::json;

// Typed reads of a config.json object; errors name the file and key.
class Keys {
 public:
  Keys(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const json& raw(const char* key) const { return j_.at(key); }

  template <typename T>
  void get(const char* key, T& out) const {
    if (!has(key)) return;
    out = as<T>(j_[key], key);
  }
  /// A key whose null means "none" (sliding_window, soft-caps): absent keeps out, null gives none.
  template <typename T>
  void get_or_none(const char* key, T& out, T none) const {
    if (!j_.contains(key)) return;
    out = j_[key].is_null() ? none : as<T>(j_[key], key);
  }
  template <typename T>
  T value(const char* key, T fallback) const {
    get(key, fallback);
    return fallback;
  }
  template <typename T>
  T as(const json& v, const std::string& key) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // nlohmann would turn 3.7 into 3, and a huge float into an integer by undefined behaviour.
      const bool fits =
          v.is_number_integer() &&
          (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
      VOLT_CHECK(fits, "[config.json] ", source_, ": key '", key, "' must be an integer, got ",
                 v.dump());
    }
    try {
      return v.get<T>();
    } catch (const json::exception&) {
      VOLT_FAIL("[config.json] ", source_, ": key '", key, "' has the wrong type (", v.dump(), ")");
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    VOLT_FAIL("[config.json] ", source_, ": ", what);
  }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string source_;
};

// The RoPE keys, classic or transformers 5's rope_parameters (for Gemma 3 nested per layer type).
void read_rope(const Keys& k, const json& params, const std::string& where, double& theta,
               RopeScaling& s, double& rotary_fraction) {
  Keys p(params, k.source());
  p.get("rope_theta", theta);
  p.get("partial_rotary_factor",
        rotary_fraction);  // transformers 5 keeps it here for every rope type
  std::string type = p.value<std::string>("type", "");  // older configs
  p.get("rope_type", type);
  if (type.empty() || type == "default") return;
  if (type == "su") type = "longrope";  // Phi-3's older name
  if (type == "llama3" || type == "linear" || type == "longrope") {
    s.type = type;
  } else {
    k.fail(
        str(where, " type '", type, "' is not supported (llama3, linear, longrope, or default)"));
  }
  p.get("factor", s.factor);
  p.get("low_freq_factor", s.low_freq_factor);
  p.get("high_freq_factor", s.high_freq_factor);
  p.get("original_max_position_embeddings", s.original_max_position_embeddings);
  p.get("short_factor", s.short_factor);
  p.get("long_factor", s.long_factor);
  p.get("attention_factor", s.attention_factor);
}

void read_special_ids(const Keys& k, ModelConfig& c) {
  auto id = [&](const char* key) -> std::optional<int64_t> {
    if (!k.has(key)) return std::nullopt;
    return k.as<int64_t>(k.raw(key), key);
  };
  c.bos_token_id = id("bos_token_id");
  c.pad_token_id = id("pad_token_id");
  c.eos_token_ids.clear();
  if (k.has("eos_token_id") && k.raw("eos_token_id").is_array()) {
    for (const auto& e : k.raw("eos_token_id"))
      c.eos_token_ids.push_back(k.as<int64_t>(e, "eos_token_id"));
  } else if (auto e = id("eos_token_id")) {
    c.eos_token_ids.push_back(*e);
  }
  k.get("torch_dtype", c.torch_dtype);
  k.get("dtype", c.torch_dtype);  // transformers 5's name
}

// ---- GPT-2 -------------------------------------------------------------------------------------

ModelConfig gpt2_values() {
  ModelConfig c;  // the defaults are GPT-2's
  c.model_type = "gpt2";
  auto& n = c.names;
  n.body = "transformer", n.embed = "wte", n.pos_embed = "wpe", n.layers = "h",
  n.final_norm = "ln_f";
  n.attn = "attn", n.norm_attn_in = "ln_1", n.norm_mlp_in = "ln_2", n.norm_attn_out.clear(),
  n.norm_mlp_out.clear();
  n.attention.qkv = "c_attn", n.attention.out = "c_proj";
  n.conv1d = true, n.zero_biases_on_disk = true;
  return c;
}

ModelConfig read_gpt2(const Keys& k) {
  ModelConfig c = gpt2_values();
  k.get("n_layer", c.n_layer);
  k.get("n_head", c.n_head);
  k.get("n_embd", c.n_embd);
  k.get("n_positions", c.block_size);
  k.get("vocab_size", c.vocab_size);
  k.get("n_inner", c.n_inner);
  k.get("activation_function", c.activation);
  k.get("layer_norm_epsilon", c.layer_norm_eps);
  k.get("resid_pdrop", c.dropout);
  k.get("initializer_range", c.initializer_range);
  k.get("tie_word_embeddings", c.tie_word_embeddings);
  bool bias =
      true;  // volt's own key: a bias-free GPT-2 (nanoGPT's option) exported with zero biases
  k.get("bias", bias);
  c.norm_bias = c.qkv_bias = c.attn_out_bias = c.mlp_bias = bias;
  for (const char* off :
       {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"}) {
    if (k.value<bool>(off, false)) k.fail(str("key '", off, "' true is not supported"));
  }
  if (!k.value<bool>("scale_attn_weights", true))
    k.fail("key 'scale_attn_weights' false is not supported");
  return c;
}

json write_gpt2(const ModelConfig& c) {
  json j;
  j["architectures"] = {"GPT2LMHeadModel"};
  j["model_type"] = "gpt2";
  j["n_layer"] = c.n_layer;
  j["n_head"] = c.n_head;
  j["n_embd"] = c.n_embd;
  j["n_positions"] = c.block_size;
  j["n_ctx"] = c.block_size;
  j["vocab_size"] = c.vocab_size;
  j["n_inner"] = c.n_inner > 0 ? json(c.n_inner) : json(nullptr);
  j["activation_function"] = c.activation;
  j["layer_norm_epsilon"] = c.layer_norm_eps;
  j["resid_pdrop"] = j["embd_pdrop"] = j["attn_pdrop"] = c.dropout;
  j["initializer_range"] = c.initializer_range;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bias"] =
      c.qkv_bias;  // volt: false means the exported biases are zeros (the same function in HF)
  return j;
}

// ---- the RoPE decoders (Llama and its descendants) ---------------------------------------------

// transformers' LlamaConfig defaults, and the names of LlamaForCausalLM.
ModelConfig llama_values(const std::string& model_type) {
  ModelConfig c;
  c.model_type = model_type;
  c.learned_positions = false;
  c.norm = "rmsnorm", c.norm_bias = false, c.layer_norm_eps = 1e-6;
  c.qkv_bias = c.attn_out_bias = c.mlp_bias = false;
  c.fused_qkv = false;
  c.gated_mlp = true, c.activation = "silu";
  c.tie_word_embeddings = false;
  c.scale_residual_init = false;
  c.block_size = 2048, c.n_embd = 4096, c.n_layer = 32, c.n_head = 32, c.n_inner = 11008,
  c.vocab_size = 32000;
  return c;  // names: ModuleNames' defaults are Llama's
}

void read_llama_keys(const Keys& k, ModelConfig& c) {
  k.get("vocab_size", c.vocab_size);
  k.get("hidden_size", c.n_embd);
  k.get("intermediate_size", c.n_inner);
  k.get("num_hidden_layers", c.n_layer);
  k.get("num_attention_heads", c.n_head);
  k.get("num_key_value_heads", c.n_kv_head);
  k.get("head_dim", c.head_dim_override);
  if (c.head_dim_override == c.n_embd / std::max<int64_t>(c.n_head, 1)) c.head_dim_override = 0;
  k.get("max_position_embeddings", c.block_size);
  k.get("rms_norm_eps", c.layer_norm_eps);
  k.get("hidden_act", c.activation);
  k.get("hidden_activation", c.activation);  // Gemma's name
  k.get("attention_bias", c.qkv_bias);
  c.attn_out_bias = c.qkv_bias;
  c.mlp_bias = c.qkv_bias;
  k.get("mlp_bias", c.mlp_bias);
  k.get("attention_dropout", c.dropout);
  k.get("initializer_range", c.initializer_range);
  k.get("tie_word_embeddings", c.tie_word_embeddings);
  k.get_or_none<int64_t>("sliding_window", c.sliding_window, 0);
  if (k.has("layer_types")) {
    c.layer_types = k.as<std::vector<std::string>>(k.raw("layer_types"), "layer_types");
  }
  k.get("partial_rotary_factor", c.rotary_fraction);
  if (k.has("rope_scaling")) {
    if (!k.raw("rope_scaling").is_object()) k.fail("rope_scaling must be an object or null");
    read_rope(k, k.raw("rope_scaling"), "rope_scaling", c.rope_theta, c.rope_scaling,
              c.rotary_fraction);
  }
  k.get("rope_theta", c.rope_theta);
  if (k.has("rope_parameters")) {
    const json& p = k.raw("rope_parameters");
    if (!p.is_object()) k.fail("rope_parameters must be an object");
    if (p.contains("full_attention")) {  // Gemma 3: one set per layer type
      double fraction = 1.0;
      read_rope(k, p["full_attention"], "rope_parameters.full_attention", c.rope_theta,
                c.rope_scaling, fraction);
      if (p.contains("sliding_attention")) {
        read_rope(k, p["sliding_attention"], "rope_parameters.sliding_attention",
                  c.rope_local_theta, c.rope_local_scaling, fraction);
        if (c.rope_local_scaling.type == "longrope") {
          k.fail(
              "rope_parameters.sliding_attention: longrope on sliding layers is not supported "
              "(llama3, linear)");
        }
      }
    } else {
      read_rope(k, p, "rope_parameters", c.rope_theta, c.rope_scaling, c.rotary_fraction);
    }
  }
}

json rope_scaling_json(const RopeScaling& s) {
  json r = {{"rope_type", s.type}, {"factor", s.factor}};
  if (s.type == "llama3") {
    r["low_freq_factor"] = s.low_freq_factor, r["high_freq_factor"] = s.high_freq_factor;
    r["original_max_position_embeddings"] = s.original_max_position_embeddings;
  }
  if (s.type == "longrope") {
    r["short_factor"] = s.short_factor, r["long_factor"] = s.long_factor;
    if (s.attention_factor > 0) r["attention_factor"] = s.attention_factor;
    r["original_max_position_embeddings"] = s.original_max_position_embeddings;
  }
  return r;
}

// transformers 5's per-layer-type RoPE (Gemma 3): the only form that can say sliding layers are
// scaled.
json rope_parameters_json(double theta, const RopeScaling& s) {
  json r = s.type.empty() ? json{{"rope_type", "default"}} : rope_scaling_json(s);
  r["rope_theta"] = theta;
  return r;
}

json write_llama_keys(const ModelConfig& c, const char* architecture) {
  json j;
  j["architectures"] = {architecture};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.n_embd;
  j["intermediate_size"] = c.mlp_width();
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.kv_heads();
  j["head_dim"] = c.head_dim();
  j["max_position_embeddings"] = c.block_size;
  j["rms_norm_eps"] = c.layer_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] =
      c.rope_scaling.type.empty() ? json(nullptr) : rope_scaling_json(c.rope_scaling);
  j["hidden_act"] = c.activation;
  j["attention_bias"] = c.qkv_bias;
  j["mlp_bias"] = c.mlp_bias;
  j["attention_dropout"] = c.dropout;
  j["initializer_range"] = c.initializer_range;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  return j;
}

// The families volt reads, each as differences from Llama's values.
ModelConfig read_llama_family(const Keys& k, const std::string& type) {
  ModelConfig c = llama_values(type);
  if (type == "mistral")
    c.n_inner = 14336, c.n_kv_head = 8, c.block_size = 131072, c.sliding_window = 4096;
  if (type == "qwen2" || type == "qwen3" || type == "qwen3_moe") {
    c.vocab_size = 151936, c.block_size = 32768, c.n_inner = 22016, c.rope_theta = 10000.0;
    if (type == "qwen2") c.qkv_bias = true;  // Qwen2's q, k, v have biases, its o_proj none
    if (type != "qwen2") c.qk_norm = true;
    if (type == "qwen3")
      c.head_dim_override = 128;  // Qwen3Config's default; Qwen3-MoE's is hidden / heads
  }
  if (type == "phi3") {
    c.vocab_size = 32064, c.n_embd = 3072, c.n_inner = 8192, c.block_size = 4096,
    c.layer_norm_eps = 1e-5;
    c.fused_qkv = true, c.fused_gate_up = true;
    c.names.attention.qkv = "qkv_proj";
  }
  if (type == "mixtral")
    c.n_inner = 14336, c.n_kv_head = 8, c.block_size = 131072, c.rope_theta = 1e6;
  if (type == "gemma2" || type == "gemma3_text") {
    c.norm_unit_offset = true, c.post_attention_norm = true, c.post_mlp_norm = true;
    c.names.norm_mlp_in = "pre_feedforward_layernorm";
    c.activation = "gelu_pytorch_tanh";
    c.tie_word_embeddings = true;
    c.vocab_size = 256000, c.n_embd = 2304, c.n_inner = 9216, c.n_layer = 26, c.n_head = 8,
    c.n_kv_head = 4;
    c.head_dim_override = 256, c.query_pre_attn_scalar = 256, c.block_size = 8192,
    c.sliding_window = 4096;
    if (type == "gemma2") c.attn_softcap = 50.0, c.final_softcap = 30.0;
    if (type == "gemma3_text") {
      c.qk_norm = true, c.rope_theta = 1e6, c.rope_local_theta = 1e4, c.vocab_size = 262208;
      c.block_size = 131072, c.sliding_window = 4096;
    }
  }
  read_llama_keys(k, c);
  // Which projections have biases is hard-wired per family in transformers; only Llama reads both
  // attention_bias and mlp_bias.
  if (type == "mistral" || type == "mixtral" || type == "phi3")
    c.qkv_bias = c.attn_out_bias = c.mlp_bias = false;
  if (type == "qwen2") c.qkv_bias = true, c.attn_out_bias = false, c.mlp_bias = false;
  if (type == "qwen3" || type == "qwen3_moe" || type == "gemma2" || type == "gemma3_text")
    c.mlp_bias = false;
  if (type == "qwen2" || type == "qwen3" || type == "qwen3_moe") {
    if (!k.value<bool>("use_sliding_window", false)) {
      c.sliding_window = 0;
      c.layer_types.clear();
    } else if (c.layer_types.empty()) {
      const int64_t from = k.value<int64_t>("max_window_layers", 28);
      for (int64_t i = 0; i < c.n_layer; ++i)
        c.layer_types.push_back(i >= from ? "sliding_attention" : "full_attention");
    }
  }
  if (type == "phi3") {
    k.get("resid_pdrop", c.dropout);
    if (c.rope_scaling.type == "longrope" && k.has("original_max_position_embeddings")) {
      k.get("original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings);
    }
  }
  if (type == "mixtral" || type == "qwen3_moe") {
    c.n_experts = k.value<int64_t>("num_local_experts", 8);
    k.get("num_experts", c.n_experts);
    k.get("num_experts_per_tok", c.n_experts_per_tok);
    k.get("router_aux_loss_coef", c.router_aux_loss_coef);
    if (type == "mixtral") {
      c.names.mlp = "block_sparse_moe";
      c.names.expert.gate = "w1", c.names.expert.up = "w3", c.names.expert.down = "w2";
      c.norm_topk_prob = true;  // Mixtral always renormalises its top-k
    } else {
      c.moe_inner = 768;
      k.get("moe_intermediate_size", c.moe_inner);
      c.norm_topk_prob = k.value<bool>("norm_topk_prob", false);
      k.get("decoder_sparse_step", c.decoder_sparse_step);
      if (k.has("mlp_only_layers")) {
        c.mlp_only_layers = k.as<std::vector<int64_t>>(k.raw("mlp_only_layers"), "mlp_only_layers");
      }
    }
  }
  if (type == "gemma2" || type == "gemma3_text") {
    c.embedding_multiplier = std::sqrt(static_cast<double>(c.n_embd));
    k.get("query_pre_attn_scalar", c.query_pre_attn_scalar);
    k.get_or_none<double>("final_logit_softcapping", c.final_softcap, 0.0);
    if (type == "gemma2") k.get_or_none<double>("attn_logit_softcapping", c.attn_softcap, 0.0);
    // transformers 5.12's Gemma 3 attention never applies attn_logit_softcapping: neither do we.
    if (type == "gemma3_text") k.get("rope_local_base_freq", c.rope_local_theta);
    if (c.layer_types.empty()) {
      const int64_t pattern =
          type == "gemma2" ? 2
                           : k.value<int64_t>("sliding_window_pattern",
                                              k.value<int64_t>("_sliding_window_pattern", 6));
      if (pattern <= 0) k.fail("sliding_window_pattern must be positive");
      for (int64_t i = 0; i < c.n_layer; ++i) {
        c.layer_types.push_back((i + 1) % pattern != 0 ? "sliding_attention" : "full_attention");
      }
    }
  }
  if (type == "mistral" || type == "mixtral" || type == "phi3") {
    if (!c.layer_types.empty()) k.fail(str("layer_types is not part of a ", type, " config"));
  }
  return c;
}

json write_llama_family(const ModelConfig& c) {
  static const std::map<std::string, const char*> arch = {
      {"llama", "LlamaForCausalLM"},        {"mistral", "MistralForCausalLM"},
      {"qwen2", "Qwen2ForCausalLM"},        {"qwen3", "Qwen3ForCausalLM"},
      {"qwen3_moe", "Qwen3MoeForCausalLM"}, {"mixtral", "MixtralForCausalLM"},
      {"phi3", "Phi3ForCausalLM"},          {"gemma2", "Gemma2ForCausalLM"},
      {"gemma3_text", "Gemma3ForCausalLM"}};
  json j = write_llama_keys(c, arch.at(c.model_type));
  const auto& t = c.model_type;
  if (t == "mistral" || t == "mixtral" || t == "phi3") {
    j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  }
  if (t == "qwen2" || t == "qwen3" || t == "qwen3_moe") {
    const bool sliding = c.sliding_window > 0;
    j["use_sliding_window"] = sliding;
    j["sliding_window"] = sliding ? json(c.sliding_window) : json(nullptr);
    if (sliding) j["layer_types"] = c.layer_types;
    j.erase("mlp_bias");
  }
  if (t == "phi3") {
    j["resid_pdrop"] = j["embd_pdrop"] = c.dropout;
    j["partial_rotary_factor"] = c.rotary_fraction;
    j["original_max_position_embeddings"] = c.rope_scaling.type == "longrope"
                                                ? c.rope_scaling.original_max_position_embeddings
                                                : c.block_size;
    j.erase("attention_bias"), j.erase("mlp_bias");
  }
  if (t == "mixtral" || t == "qwen3_moe") {
    j["num_local_experts"] = c.n_experts;
    j["num_experts_per_tok"] = c.n_experts_per_tok;
    j["router_aux_loss_coef"] = c.router_aux_loss_coef;
    if (t == "qwen3_moe") {
      j["num_experts"] = c.n_experts;
      j["moe_intermediate_size"] = c.expert_width();
      j["norm_topk_prob"] = c.norm_topk_prob;
      j["decoder_sparse_step"] = c.decoder_sparse_step;
      j["mlp_only_layers"] = c.mlp_only_layers;
    }
  }
  if (t == "gemma2" || t == "gemma3_text") {
    j["hidden_activation"] = c.activation;
    // transformers 5 types it int (its validation refuses 256.0); a fractional one stays a float.
    const double s = c.query_pre_attn_scalar;
    j["query_pre_attn_scalar"] = s == std::floor(s) ? json(static_cast<int64_t>(s)) : json(s);
    j["final_logit_softcapping"] = c.final_softcap > 0 ? json(c.final_softcap) : json(nullptr);
    j["attn_logit_softcapping"] = c.attn_softcap > 0 ? json(c.attn_softcap) : json(nullptr);
    j["sliding_window"] = c.sliding_window;
    j["layer_types"] = c.layer_types;
    if (t == "gemma3_text")
      j["rope_local_base_freq"] = c.rope_local_theta > 0 ? c.rope_local_theta : c.rope_theta;
    if (t == "gemma3_text" && !c.rope_local_scaling.type.empty()) {
      j["rope_parameters"] = {
          {"full_attention", rope_parameters_json(c.rope_theta, c.rope_scaling)},
          {"sliding_attention",
           rope_parameters_json(j["rope_local_base_freq"], c.rope_local_scaling)}};
      j.erase("rope_theta"), j.erase("rope_scaling"), j.erase("rope_local_base_freq");
    }
    j.erase("mlp_bias");
  }
  return j;
}

const std::set<std::string>& llama_family() {
  static const std::set<std::string> s = {"llama",   "mistral", "qwen2",  "qwen3",      "qwen3_moe",
                                          "mixtral", "phi3",    "gemma2", "gemma3_text"};
  return s;
}

std::string supported_types() {
  std::string all = "gpt2";
  for (const auto& t : llama_family()) all += ", " + t;
  return all;
}

// Special ids, the weights' dtype: every family alike.
void write_common(const ModelConfig& c, json& j) {
  j["bos_token_id"] = c.bos_token_id ? json(*c.bos_token_id) : json(nullptr);
  if (c.eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else {
    j["eos_token_id"] =
        c.eos_token_ids.size() == 1 ? json(c.eos_token_ids[0]) : json(c.eos_token_ids);
  }
  // Said even when absent: a family's default (Phi-3's 32000) may lie outside this vocabulary.
  j["pad_token_id"] = c.pad_token_id ? json(*c.pad_token_id) : json(nullptr);
  j["torch_dtype"] = c.torch_dtype;
}

}  // namespace

nlohmann::json ModelConfig::to_hf_json() const {
  validate();
  json j = model_type == "gpt2" ? write_gpt2(*this) : write_llama_family(*this);
  write_common(*this, j);
  return j;
}

nlohmann::json ModelConfig::generation_config_json() const {
  json j;
  write_common(*this, j);
  j.erase("torch_dtype");
  return j;
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& source) {
  VOLT_CHECK(j.is_object(), "[config.json] ", source, ": expected a JSON object");
  const Keys k(j, source);
  const std::string type = k.value<std::string>("model_type", "gpt2");
  if (type == "gemma3" && k.has("text_config")) {
    k.fail(
        "model_type 'gemma3' is the multimodal Gemma 3; volt reads its text model (model_type "
        "gemma3_text)");
  }
  ModelConfig c;
  if (type == "gpt2") {
    c = read_gpt2(k);
  } else if (llama_family().count(type)) {
    c = read_llama_family(k, type);
  } else {
    k.fail(str("model_type '", type, "' is not supported (", supported_types(), ")"));
  }
  read_special_ids(k, c);
  try {
    c.validate();
  } catch (const Error& e) {
    VOLT_FAIL("[config.json] ", source, ": ", e.what());
  }
  return c;
}

}  // namespace volt

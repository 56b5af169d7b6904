// ModelConfig + transformers' tensor names -> llama.cpp's architecture, metadata and tensors
// (gguf_export.h). What llama.cpp's converter (convert_hf_to_gguf.py) does for each family,
// written from the GGUF spec and gguf-py's name tables.
#include "volt/gguf/gguf_export.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "volt/core/check.h"
#include "volt/gguf/gguf_vocab.h"
#include "volt/gguf/gguf_writer.h"
#include "volt/models/pretrained.h"

namespace volt::gguf {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool starts_with(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// One tensor of the file: its name, shape (PyTorch order) and how to make its float32 values.
struct Entry {
  std::string name;
  std::function<torch::Tensor()> make;
  std::vector<int64_t> shape;
};

// transformers rotates the two halves of each head, llama.cpp's "llama" graph adjacent pairs: rows
// (i, i + d/2) of a head become rows (2i, 2i + 1).
torch::Tensor permute_rope_rows(const torch::Tensor& w, int64_t heads) {
  std::vector<int64_t> split = {heads, 2, w.size(0) / heads / 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

// llama.cpp's tensor name for a block's tensor (transformers' name after "<layers>.<i>."), or "".
std::string block_tensor(const ModelConfig& c, const std::string& module) {
  const auto& n = c.names;
  const std::map<std::string, std::string> names = {
      {n.norm_attn_in, "attn_norm"},
      {n.attn + "." + n.attention.q, "attn_q"},
      {n.attn + "." + n.attention.k, "attn_k"},
      {n.attn + "." + n.attention.v, "attn_v"},
      {n.attn + "." + n.attention.qkv, "attn_qkv"},
      {n.attn + "." + n.attention.out, "attn_output"},
      {n.attn + "." + n.attention.q_norm, "attn_q_norm"},
      {n.attn + "." + n.attention.k_norm, "attn_k_norm"},
      {n.mlp + "." + n.mlp_proj.fc, "ffn_up"},
      {n.mlp + "." + n.mlp_proj.proj, "ffn_down"},
      {n.mlp + "." + n.mlp_proj.gate, "ffn_gate"},
      {n.mlp + "." + n.mlp_proj.up, "ffn_up"},
      {n.mlp + "." + n.mlp_proj.down, "ffn_down"},
      {n.mlp + "." + n.mlp_proj.gate_up, "ffn_up"},  // Phi-3: llama.cpp splits gate and up itself
      {n.mlp + "." + n.router, "ffn_gate_inp"},
  };
  // The norm after attention is the MLP's input norm (Llama: post_attention_layernorm) unless
  // the family has post-norms (Gemma: post_attention_layernorm, then pre_feedforward_layernorm).
  if (module == n.norm_mlp_in) return "ffn_norm";
  if (c.post_attention_norm && module == n.norm_attn_out) return "post_attention_norm";
  if (c.post_mlp_norm && module == n.norm_mlp_out) return "post_ffw_norm";
  auto it = names.find(module);
  return it == names.end() ? "" : it->second;
}

// llama.cpp's llama graph (Mistral's) has no sliding window: up to the window's length every
// token sees the same keys with or without one, so the file's context ends there.
int64_t context_length(const ModelConfig& c, const std::string& a) {
  if (a == "llama" && c.sliding_window > 0) return std::min(c.block_size, c.sliding_window);
  return c.block_size;
}

void add_hparams(Writer& w, const ModelConfig& c, const std::string& a) {
  w.add_u32(a + ".context_length", static_cast<uint32_t>(context_length(c, a)));
  w.add_u32(a + ".embedding_length", static_cast<uint32_t>(c.n_embd));
  w.add_u32(a + ".block_count", static_cast<uint32_t>(c.n_layer));
  w.add_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.mlp_width()));
  w.add_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_head));
  if (a == "gpt2") {
    w.add_f32(a + ".attention.layer_norm_epsilon", static_cast<float>(c.layer_norm_eps));
    return;
  }
  w.add_u32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.add_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.kv_heads()));
  w.add_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.layer_norm_eps));
  w.add_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim()));
  w.add_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim()));
  w.add_f32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_u32(a + ".rope.dimension_count", static_cast<uint32_t>(c.rotary_dim()));
  if (c.rope_scaling.type == "linear") {
    w.add_string(a + ".rope.scaling.type", "linear");
    w.add_f32(a + ".rope.scaling.factor", static_cast<float>(c.rope_scaling.factor));
  }
  if (c.n_experts > 0) {
    w.add_u32(a + ".expert_count", static_cast<uint32_t>(c.n_experts));
    w.add_u32(a + ".expert_used_count", static_cast<uint32_t>(c.n_experts_per_tok));
    if (a == "qwen3moe")
      w.add_u32(a + ".expert_feed_forward_length", static_cast<uint32_t>(c.expert_width()));
  }
  if (c.sliding_window > 0 && a != "llama") {
    w.add_u32(a + ".attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  }
  if (c.attn_softcap > 0)
    w.add_f32(a + ".attn_logit_softcapping", static_cast<float>(c.attn_softcap));
  if (c.final_softcap > 0)
    w.add_f32(a + ".final_logit_softcapping", static_cast<float>(c.final_softcap));
}

// Llama 3.1's frequency-dependent RoPE scaling, which llama.cpp reads as per-frequency divisors
// (rope_freqs.weight): 1 for short wavelengths, `factor` for long ones, a smooth blend between.
torch::Tensor llama3_rope_factors(const ModelConfig& c) {
  const auto& s = c.rope_scaling;
  const int64_t dim = c.rotary_dim();
  const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
  std::vector<float> f;
  for (int64_t i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(c.rope_theta, static_cast<double>(i) / dim);
    const double wavelen = 2 * kPi / freq;
    if (wavelen < high_wavelen) {
      f.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      f.push_back(static_cast<float>(s.factor));
    } else {
      const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      f.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.factor + smooth)));
    }
  }
  return torch::tensor(f, torch::kFloat32);
}

// The file's type for a tensor, as llama.cpp's converter chooses it.
TensorType storage_type(const std::string& name, const std::vector<int64_t>& shape,
                        TensorType want) {
  if (shape.size() <= 1 || ends_with(name, "_norm.weight") || !ends_with(name, ".weight") ||
      ends_with(name, "ffn_gate_inp.weight") || name == "position_embd.weight" ||
      name == "rope_freqs.weight") {
    return TensorType::F32;
  }
  if (want == TensorType::Q8_0 && shape.back() % 32 != 0) return TensorType::F16;
  return want;
}

uint32_t file_type(TensorType t) {
  switch (t) {
    case TensorType::F32:
      return 0;
    case TensorType::F16:
      return 1;
    case TensorType::Q8_0:
      return 7;
    case TensorType::BF16:
      return 32;
  }
  return 0;
}

}  // namespace

std::string gguf_architecture(const ModelConfig& c) {
  const std::string& t = c.model_type;
  auto refuse = [&](const std::string& what) {
    VOLT_FAIL("[export] ", t, ": ", what,
              ": llama.cpp cannot compute it as volt does, so no GGUF is written");
  };
  static const std::map<std::string, std::string> arch = {
      {"gpt2", "gpt2"},          {"llama", "llama"}, {"mistral", "llama"},
      {"mixtral", "llama"},      {"qwen2", "qwen2"}, {"qwen3", "qwen3"},
      {"qwen3_moe", "qwen3moe"}, {"phi3", "phi3"},   {"gemma2", "gemma2"},
      {"gemma3_text", "gemma3"}};
  auto it = arch.find(t);
  if (it == arch.end()) refuse("model_type '" + t + "' has no GGUF export");
  const std::string a = it->second;
  if (a == "gpt2") {
    if (c.activation != "gelu" && c.activation != "gelu_new" &&
        c.activation != "gelu_pytorch_tanh") {
      refuse("activation_function '" + c.activation + "' (llama.cpp's gpt2 uses GELU)");
    }
    return a;
  }
  const auto& s = c.rope_scaling;
  if (!s.type.empty() && s.type != "linear" && !(s.type == "llama3" && a == "llama")) {
    refuse("rope_scaling type '" + s.type + "' is not exported for " + a);
  }
  if (!c.rope_local_scaling.type.empty())
    refuse("a RoPE scaling of the sliding layers (rope_parameters.sliding_attention)");
  if (c.rotary_fraction != 1.0 && a != "phi3")
    refuse("partial_rotary_factor " + std::to_string(c.rotary_fraction));
  if (c.sliding_window > 0 && (a == "qwen2" || a == "qwen3" || a == "qwen3moe")) {
    refuse("use_sliding_window (llama.cpp's " + a + " attends to the whole context)");
  }
  if (a == "qwen3moe" && (!c.mlp_only_layers.empty() || c.decoder_sparse_step != 1)) {
    refuse("dense layers between sparse ones (mlp_only_layers, decoder_sparse_step)");
  }
  if (c.attn_softcap > 0 && a != "gemma2") refuse("attention logit soft-capping");
  if (c.final_softcap > 0 && a != "gemma2" && a != "gemma3") refuse("final logit soft-capping");
  if ((a == "gemma2" || a == "gemma3") &&
      c.query_pre_attn_scalar != static_cast<double>(c.head_dim())) {
    refuse("query_pre_attn_scalar " + std::to_string(c.query_pre_attn_scalar) + " != head_dim " +
           std::to_string(c.head_dim()) + " (llama.cpp scales queries by head_dim^-1/2)");
  }
  return a;
}

ExportResult export_gguf(const CausalLMImpl& model, const std::string& tokenizer_dir,
                         const std::string& path, TensorType dtype, const std::string& name) {
  const ModelConfig& c = model.config();
  ExportResult result;
  result.architecture = gguf_architecture(c);
  const std::string& a = result.architecture;
  const auto& n = c.names;

  Writer w;
  w.add_string("general.architecture", a);
  w.add_string("general.name", name);
  w.add_u32("general.file_type", file_type(dtype));
  w.add_u32("general.quantization_version", 2);
  add_hparams(w, c, a);
  std::optional<int64_t> config_eos;
  if (!c.eos_token_ids.empty()) config_eos = c.eos_token_ids.front();
  add_vocab(w, read_vocab(tokenizer_dir, c.vocab_size, config_eos));

  const bool permute = a == "llama";
  const std::string body = n.body + ".";
  const std::string layers = body + n.layers + ".";
  std::vector<Entry> entries;
  // Experts: (layer, which) -> one tensor per expert, stacked into one (n_expert, out, in) tensor.
  std::map<std::pair<int64_t, std::string>, std::map<int64_t, torch::Tensor>> experts;

  for (const auto& [hf_name, tensor] : to_hf_state_dict(model)) {
    const torch::Tensor x = tensor;
    const std::string suffix = ends_with(hf_name, ".weight") ? "weight"
                               : ends_with(hf_name, ".bias") ? "bias"
                                                             : "";
    VOLT_CHECK(!suffix.empty(), "[export] ", hf_name, ": neither a weight nor a bias");
    const std::string module = hf_name.substr(0, hf_name.size() - suffix.size() - 1);
    std::string out;
    std::function<torch::Tensor(torch::Tensor)> transform = [](torch::Tensor v) { return v; };
    if (module == body + n.embed) {
      out = "token_embd";
    } else if (module == body + n.pos_embed) {
      out = "position_embd";
    } else if (module == body + n.final_norm) {
      out = "output_norm";
    } else if (module == "lm_head") {
      if (c.tie_word_embeddings) continue;  // llama.cpp reuses token_embd
      out = "output";
    } else if (starts_with(module, layers)) {
      const std::string rest = module.substr(layers.size());
      const size_t dot = rest.find('.');
      const int64_t layer = std::stoll(rest.substr(0, dot));
      const std::string inner = rest.substr(dot + 1);
      const std::string expert_prefix = n.mlp + "." + n.experts + ".";
      if (c.n_experts > 0 && starts_with(inner, expert_prefix)) {
        const std::string e = inner.substr(expert_prefix.size());
        const size_t edot = e.find('.');
        const int64_t expert = std::stoll(e.substr(0, edot));
        const std::string proj = e.substr(edot + 1);
        std::string which = proj == n.expert.gate   ? "ffn_gate_exps"
                            : proj == n.expert.up   ? "ffn_up_exps"
                            : proj == n.expert.down ? "ffn_down_exps"
                                                    : "";
        VOLT_CHECK(!which.empty() && suffix == "weight", "[export] ", hf_name,
                   ": no llama.cpp tensor for it");
        experts[{layer, which}][expert] = x;
        continue;
      }
      const std::string b = block_tensor(c, inner);
      VOLT_CHECK(!b.empty(), "[export] ", hf_name, ": no llama.cpp tensor for it (", a, ")");
      out = "blk." + std::to_string(layer) + "." + b;
      if (n.conv1d && suffix == "weight" && x.dim() == 2) {
        transform = [](torch::Tensor v) {
          return v.t().contiguous();
        };  // Conv1D (in, out) -> (out, in)
      }
      if (permute && b == "attn_q")
        transform = [&c](torch::Tensor v) { return permute_rope_rows(v, c.n_head); };
      if (permute && b == "attn_k")
        transform = [&c](torch::Tensor v) { return permute_rope_rows(v, c.kv_heads()); };
    } else {
      VOLT_FAIL("[export] ", hf_name, ": no llama.cpp tensor for it (", a, ")");
    }
    out += "." + suffix;
    const bool plus_one =
        c.norm_unit_offset && ends_with(out, "norm.weight");  // Gemma: llama.cpp wants 1 + w
    std::vector<int64_t> shape = x.sizes().vec();
    if (n.conv1d && x.dim() == 2 && starts_with(out, "blk.")) std::swap(shape[0], shape[1]);
    entries.push_back({out,
                       [x, transform, plus_one]() {
                         torch::Tensor v = transform(x.to(torch::kFloat32));
                         return plus_one ? v + 1.0f : v;
                       },
                       shape});
  }
  for (auto& [key, per_expert] : experts) {
    VOLT_CHECK(static_cast<int64_t>(per_expert.size()) == c.n_experts, "[export] layer ", key.first,
               ": ", per_expert.size(), " experts' ", key.second, " of ", c.n_experts);
    std::vector<torch::Tensor> list;
    for (auto& [e, t] : per_expert) list.push_back(t);
    std::vector<int64_t> shape = {c.n_experts, list[0].size(0), list[0].size(1)};
    entries.push_back({"blk." + std::to_string(key.first) + "." + key.second + ".weight",
                       [list]() { return torch::stack(list).to(torch::kFloat32); }, shape});
  }
  if (c.rope_scaling.type == "llama3") {
    const torch::Tensor f = llama3_rope_factors(c);
    entries.push_back({"rope_freqs.weight", [f]() { return f; }, {f.size(0)}});
  }

  int64_t kept_f16 = 0;
  for (const auto& e : entries) {
    const TensorType type = storage_type(e.name, e.shape, dtype);
    if (dtype == TensorType::Q8_0 && type == TensorType::F16) ++kept_f16;
    w.add_tensor(e.name, e.shape, type,
                 [make = e.make, type, name = e.name, shape = e.shape](std::string& bytes) {
                   const torch::Tensor v = make().contiguous();
                   VOLT_CHECK(v.sizes().vec() == shape, "[export] ", name, ": made with shape ",
                              v.sizes(), ", declared ", c10::IntArrayRef(shape));
                   encode(v.data_ptr<float>(), v.numel(), type, bytes);
                 });
  }
  if (context_length(c, a) < c.block_size) {
    result.notes.push_back(
        "context_length " + std::to_string(context_length(c, a)) + " (the sliding window; " +
        "llama.cpp's llama graph has none, so beyond it its numbers would not be volt's)");
  }
  if (kept_f16 > 0) {
    result.notes.push_back(std::to_string(kept_f16) +
                           " tensors with rows not a multiple of 32 stored as f16");
  }
  result.tensors = static_cast<int64_t>(w.tensor_count());
  result.bytes = w.write(path);
  return result;
}

}  // namespace volt::gguf

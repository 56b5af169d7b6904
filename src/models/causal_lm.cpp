#include "volt/models/causal_lm.h"

#include <cmath>
#include <set>

#include "volt/core/check.h"
#include "volt/nn/checkpoint.h"
#include "volt/nn/rope.h"

namespace volt {

namespace {

// HF's activation names -> nn's.
std::string nn_activation(const std::string& hf) {
  if (hf == "gelu_new" || hf == "gelu_pytorch_tanh") return "gelu_tanh";
  return hf;  // gelu, silu
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

nn::NormOptions norm_options(const ModelConfig& c) {
  nn::NormOptions o;
  o.kind = c.norm, o.eps = c.layer_norm_eps, o.bias = c.norm_bias,
  o.unit_offset = c.norm_unit_offset;
  return o;
}

nn::AttentionOptions attention_options(const ModelConfig& c, int64_t layer) {
  nn::AttentionOptions o;
  o.n_embd = c.n_embd, o.n_head = c.n_head, o.n_kv_head = c.kv_heads(), o.head_dim = c.head_dim();
  o.qkv_bias = c.qkv_bias, o.out_bias = c.attn_out_bias, o.fused_qkv = c.fused_qkv;
  o.rotary_dim = c.rotary_dim();
  o.qk_norm = c.qk_norm;
  o.qk_norm_options = norm_options(c);
  o.qk_norm_options.kind = "rmsnorm";
  o.scale = c.query_pre_attn_scalar > 0 ? 1.0 / std::sqrt(c.query_pre_attn_scalar) : 0.0;
  o.softcap = c.attn_softcap;
  o.sliding_window = c.sliding(layer) ? c.sliding_window : 0;
  o.dropout = c.dropout;
  o.names = c.names.attention;
  return o;
}

nn::MLPOptions mlp_options(const ModelConfig& c) {
  nn::MLPOptions o;
  o.n_embd = c.n_embd, o.hidden = c.mlp_width();
  o.gated = c.gated_mlp, o.fused_gate_up = c.fused_gate_up, o.bias = c.mlp_bias;
  o.activation = nn_activation(c.activation);
  o.dropout = c.dropout;
  o.names = c.names.mlp_proj;
  return o;
}

nn::MoEOptions moe_options(const ModelConfig& c) {
  nn::MoEOptions o;
  o.n_embd = c.n_embd, o.expert_hidden = c.expert_width(), o.n_experts = c.n_experts;
  o.top_k = c.n_experts_per_tok, o.norm_topk_prob = c.norm_topk_prob;
  o.activation = nn_activation(c.activation);
  o.router_name = c.names.router, o.experts_name = c.names.experts, o.expert_names = c.names.expert;
  return o;
}

BlockImpl::BlockImpl(const ModelConfig& c, int64_t layer) {
  const auto& n = c.names;
  const auto norm = norm_options(c);
  norm_attn_in = register_module(n.norm_attn_in, nn::Norm(c.n_embd, norm));
  attn = register_module(n.attn, nn::Attention(attention_options(c, layer)));
  if (c.post_attention_norm)
    norm_attn_out = register_module(n.norm_attn_out, nn::Norm(c.n_embd, norm));
  norm_mlp_in = register_module(n.norm_mlp_in, nn::Norm(c.n_embd, norm));
  if (c.moe_layer(layer)) {
    moe = register_module(n.mlp, nn::MoE(moe_options(c)));
  } else {
    mlp = register_module(n.mlp, nn::MLP(mlp_options(c)));
  }
  if (c.post_mlp_norm) norm_mlp_out = register_module(n.norm_mlp_out, nn::Norm(c.n_embd, norm));
}

torch::Tensor BlockImpl::forward(torch::Tensor x, const torch::Tensor& cos,
                                 const torch::Tensor& sin, nn::KVCache* cache, int64_t layer,
                                 const torch::Tensor& key_start) {
  auto a = attn(norm_attn_in(x), cos, sin, cache, layer, key_start);
  x = x + (norm_attn_out ? norm_attn_out(a) : a);
  auto h = norm_mlp_in(x);
  auto m = moe ? moe(h) : mlp(h);
  return x + (norm_mlp_out ? norm_mlp_out(m) : m);
}

BodyImpl::BodyImpl(const ModelConfig& c) {
  const auto& n = c.names;
  embed = register_module(n.embed, nn::Embedding(c.vocab_size, c.n_embd));
  if (c.learned_positions)
    pos_embed = register_module(n.pos_embed, nn::Embedding(c.block_size, c.n_embd));
  drop = register_module("drop", torch::nn::Dropout(c.dropout));
  layers = register_module(n.layers, torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layer; ++i) layers->push_back(Block(c, i));
  final_norm = register_module(n.final_norm, nn::Norm(c.n_embd, norm_options(c)));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  body = register_module(cfg_.names.body, Body(cfg_));
  // Tied: the output projection reuses the embedding's weight, so no lm_head module exists at all
  // (one parameter, one name, for the optimizer and the checkpoint alike).
  if (!cfg_.tie_word_embeddings)
    lm_head = register_module("lm_head", nn::Linear(cfg_.n_embd, cfg_.vocab_size, false));
  if (!cfg_.learned_positions) {
    const auto rope_options = [&](double theta, const RopeScaling& s) {
      nn::RopeOptions ro;
      ro.head_dim = cfg_.rotary_dim();
      ro.theta = theta;
      ro.scaling = s.type == "longrope" ? "" : s.type;
      ro.factor = s.factor, ro.low_freq_factor = s.low_freq_factor,
      ro.high_freq_factor = s.high_freq_factor;
      ro.original_max_position_embeddings = s.original_max_position_embeddings;
      return ro;
    };
    const auto& s = cfg_.rope_scaling;
    auto inv = nn::rope_inv_freq(rope_options(cfg_.rope_theta, s));
    if (s.type ==
        "longrope") {  // per-frequency factors: short up to the original context, long beyond
      auto factors = [](const std::vector<double>& f) {
        return torch::tensor(f, torch::kFloat64).to(torch::kFloat32);
      };
      long_inv_freq_ = register_buffer("rope_long_inv_freq", inv / factors(s.long_factor));
      inv = inv / factors(s.short_factor);
      const double factor = static_cast<double>(cfg_.block_size) /
                            static_cast<double>(s.original_max_position_embeddings);
      rope_attention_factor_ =
          s.attention_factor > 0 ? s.attention_factor
          : factor <= 1.0
              ? 1.0
              : std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(
                                                       s.original_max_position_embeddings)));
    }
    inv_freq_ = register_buffer("rope_inv_freq", inv);
    if (cfg_.rope_local_theta >
        0) {  // Gemma 3's sliding layers: their own base and scaling (none by default)
      local_inv_freq_ = register_buffer(
          "rope_local_inv_freq",
          nn::rope_inv_freq(rope_options(cfg_.rope_local_theta, cfg_.rope_local_scaling)));
    }
  }
  if (!nn::MetaParameters::active()) reset_parameters();
}

void CausalLMImpl::init_parameter(const std::string& name, torch::Tensor& p) const {
  if (p.is_meta() || p.numel() == 0) return;
  torch::NoGradGuard no_grad;
  if (ends_with(name, ".bias")) {
    p.zero_();
    return;
  }
  if (p.dim() < 2) {  // norms: the identity (1, or 0 under Gemma's (1 + w))
    p.fill_(cfg_.norm_unit_offset ? 0.0 : 1.0);
    return;
  }
  // GPT-2 scales its residual projections (the attention's and the MLP's outputs).
  const std::string attn_out = "." + cfg_.names.attention.out + ".weight";
  const std::string mlp_out =
      "." + (cfg_.gated_mlp ? cfg_.names.mlp_proj.down : cfg_.names.mlp_proj.proj) + ".weight";
  const bool residual =
      cfg_.scale_residual_init && (ends_with(name, attn_out) || ends_with(name, mlp_out));
  const double std = cfg_.initializer_range;
  p.normal_(0.0, residual ? std / std::sqrt(2.0 * cfg_.n_layer) : std);
}

void CausalLMImpl::reset_parameters() {
  // Matrices in registration order first, then vectors: the order the random draws were always made
  // in.
  for (auto& kv : named_parameters()) {
    if (kv.value().dim() >= 2) init_parameter(kv.key(), kv.value());
  }
  for (auto& kv : named_parameters()) {
    if (kv.value().dim() < 2) init_parameter(kv.key(), kv.value());
  }
}

torch::Tensor CausalLMImpl::hidden_states(const torch::Tensor& input_ids,
                                          const torch::Tensor& position_ids, nn::KVCache* cache,
                                          const torch::Tensor& document_ids) {
  VOLT_CHECK(input_ids.dim() == 2, "[model] input_ids must be (B, T), got ", input_ids.sizes());
  const int64_t b = input_ids.size(0), t = input_ids.size(1);
  const int64_t past = cache ? cache->length : 0;
  VOLT_CHECK(past + t <= cfg_.block_size, "[model] sequence length ", past + t,
             " exceeds the model's context (block_size ", cfg_.block_size, ")");
  torch::Tensor key_start;  // undefined: plain causal attention
  if (document_ids.defined()) {
    VOLT_CHECK(document_ids.sizes() == input_ids.sizes(),
               "[model] document_ids must be (B, T) like input_ids, got ", document_ids.sizes(),
               " for input_ids ", input_ids.sizes());
    // A cache holds one earlier stream per row; which document its tokens belonged to is gone.
    VOLT_CHECK(cache == nullptr,
               "[model] document_ids (packed rows) cannot be combined with a KV cache");
    key_start = nn::document_key_start(document_ids);  // (B, T), shared by every layer
  }
  torch::Tensor pos = position_ids.defined()
                          ? position_ids
                          : torch::arange(past, past + t, input_ids.options().dtype(torch::kLong));
  if (pos.dim() == 1) pos = pos.unsqueeze(0);
  pos = pos.expand({b, t});
  auto x = body->embed(input_ids);  // (B, T, C)
  // Gemma: sqrt(C), rounded to the activations' dtype as transformers rounds it.
  if (cfg_.embedding_multiplier != 1.0)
    x = x * torch::scalar_tensor(cfg_.embedding_multiplier, x.options());
  if (body->pos_embed) x = x + body->pos_embed(pos);
  if (cfg_.dropout > 0.0) x = body->drop(x);
  // RoPE's cos and sin, once per forward for every base the layers use.
  torch::Tensor cos, sin, local_cos, local_sin;
  if (inv_freq_.defined()) {
    const bool long_context =
        long_inv_freq_.defined() &&
        pos.max().item<int64_t>() + 1 > cfg_.rope_scaling.original_max_position_embeddings;
    std::tie(cos, sin) =
        nn::rope_cos_sin(long_context ? long_inv_freq_ : inv_freq_, pos);  // (B, T, rotary)
    if (rope_attention_factor_ != 1.0)
      cos = cos * rope_attention_factor_, sin = sin * rope_attention_factor_;
    if (local_inv_freq_.defined())
      std::tie(local_cos, local_sin) = nn::rope_cos_sin(local_inv_freq_, pos);
  }
  const bool ckpt =
      checkpointing_ && is_training() && cache == nullptr && torch::GradMode::is_enabled();
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    auto* blk = &block(l);
    const bool local = local_inv_freq_.defined() && cfg_.sliding(l);
    const auto& c = local ? local_cos : cos;
    const auto& s = local ? local_sin : sin;
    // Captured by value: the recomputation in backward runs after this frame has returned.
    x = run_block(
        static_cast<size_t>(l), *blk,
        [blk, c, s, cache, l, key_start](const torch::Tensor& in) {
          return blk->forward(in, c, s, cache, l, key_start);
        },
        x, ckpt);
  }
  if (cache) cache->advance(t);
  return body->final_norm(x);
}

torch::Tensor CausalLMImpl::logits(const torch::Tensor& hidden) const {
  auto z = lm_head ? const_cast<nn::LinearImpl&>(*lm_head).forward(hidden)
                   : torch::linear(hidden, body->embed->weight);
  if (cfg_.final_softcap > 0) z = torch::tanh(z / cfg_.final_softcap) * cfg_.final_softcap;
  return z;  // (B, T, vocab_size)
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids,
                                    const torch::Tensor& position_ids, nn::KVCache* cache,
                                    const torch::Tensor& document_ids) {
  return logits(hidden_states(input_ids, position_ids, cache, document_ids));
}

torch::Tensor CausalLMImpl::run_block(size_t index, torch::nn::Module& block, const nn::BlockFn& fn,
                                      const torch::Tensor& x, bool checkpointed) {
  nn::BlockFn run = fn;
  if (checkpointed) {
    std::vector<torch::Tensor> params;
    for (const auto& p : block.parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    run = [fn, params](const torch::Tensor& in) { return nn::checkpoint(fn, in, params); };
  }
  return block_wrapper_ ? block_wrapper_(index, run, x) : run(x);
}

std::vector<torch::nn::Module*> CausalLMImpl::blocks() {
  std::vector<torch::nn::Module*> out;
  for (auto& b : *body->layers) out.push_back(b.get());
  return out;
}

torch::Tensor CausalLMImpl::router_aux_loss() const {
  if (cfg_.n_experts <= 0) return {};
  std::vector<torch::Tensor> logits;
  for (const auto& b : *body->layers) {
    const auto& moe = b->as<BlockImpl>()->moe;
    if (moe && moe->router_logits().defined()) logits.push_back(moe->router_logits());
  }
  if (logits.empty()) return {};
  return nn::load_balancing_loss(logits, cfg_.n_experts, cfg_.n_experts_per_tok);
}

nn::KVCache CausalLMImpl::make_cache(int64_t batch, int64_t capacity) const {
  const auto& w = embedding_weight();
  return nn::KVCache(cfg_.n_layer, batch, cfg_.kv_heads(), capacity, cfg_.head_dim(), w.options());
}

torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t v = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, v}).to(torch::kFloat32), labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
}

ParameterCount count_model_parameters(const ModelConfig& cfg) {
  nn::MetaParameters meta;  // shapes only: a 70B model costs nothing to build
  CausalLM m(cfg);
  ParameterCount c;
  std::set<const void*> seen;
  for (const auto& p : m->parameters()) {
    if (seen.insert(p.unsafeGetTensorImpl()).second) c.total += p.numel();
  }
  c.embedding = m->embedding_weight().numel();
  c.active = c.total;
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    for (const auto& p : m->block(l).parameters()) c.in_blocks += p.numel();
    auto moe = m->block(l).moe;  // a copy of the holder: ModuleList indexing is not const
    if (!moe) continue;
    int64_t per_expert = 0;
    for (const auto& p : moe->experts[0]->parameters()) per_expert += p.numel();
    c.active -=
        (cfg.n_experts - cfg.n_experts_per_tok) * per_expert;  // a token runs k of the E experts
  }
  return c;
}

int64_t count_parameters(const ModelConfig& cfg) { return count_model_parameters(cfg).total; }

std::vector<LinearShape> block_linears(const ModelConfig& cfg, int64_t layer) {
  nn::MetaParameters meta;
  Block b(cfg, layer);
  std::vector<LinearShape> out;
  for (const auto& kv : b->named_modules("", /*include_self=*/false)) {
    if (const auto* l = dynamic_cast<const nn::LinearImpl*>(kv.value().get())) {
      out.push_back({kv.key(), l->in_features, l->out_features});
    }
  }
  return out;
}

}  // namespace volt

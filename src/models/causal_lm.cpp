#include "volt/models/causal_lm.h"

#include <cmath>

#include "volt/core/check.h"
#include "volt/nn/checkpoint.h"

namespace volt {

BlockImpl::BlockImpl(const ModelConfig& c) {
  ln_1 = register_module("ln_1", nn::LayerNorm(c.n_embd, c.bias, c.layer_norm_eps));
  attn = register_module(
      "attn",
      nn::CausalSelfAttention(
          nn::CausalSelfAttentionOptions(c.n_embd, c.n_head).bias(c.bias).dropout(c.dropout)));
  ln_2 = register_module("ln_2", nn::LayerNorm(c.n_embd, c.bias, c.layer_norm_eps));
  mlp =
      register_module("mlp", nn::GeluMLP(c.n_embd, c.mlp_width(), c.bias, c.dropout, c.activation));
}

torch::Tensor BlockImpl::forward(torch::Tensor x, nn::KVCache* cache, int64_t layer,
                                 const torch::Tensor& key_start) {
  x = x + attn(ln_1(x), cache, layer, key_start);
  return x + mlp(ln_2(x));
}

LlamaBlockImpl::LlamaBlockImpl(const ModelConfig& c) {
  input_layernorm = register_module("input_layernorm", nn::RMSNorm(c.n_embd, c.layer_norm_eps));
  nn::GroupedQueryAttentionOptions o;
  o.n_embd = c.n_embd, o.n_head = c.n_head, o.n_kv_head = c.kv_heads(), o.head_dim = c.head_dim();
  o.bias = c.bias, o.dropout = c.dropout, o.sliding_window = c.sliding_window;
  self_attn = register_module("self_attn", nn::GroupedQueryAttention(o));
  post_attention_layernorm =
      register_module("post_attention_layernorm", nn::RMSNorm(c.n_embd, c.layer_norm_eps));
  mlp = register_module("mlp", nn::SwiGLUMLP(c.n_embd, c.mlp_width(), c.bias));
}

torch::Tensor LlamaBlockImpl::forward(torch::Tensor x, const torch::Tensor& cos,
                                      const torch::Tensor& sin, nn::KVCache* cache, int64_t layer,
                                      const torch::Tensor& key_start) {
  x = x + self_attn(input_layernorm(x), cos, sin, cache, layer, key_start);
  return x + mlp(post_attention_layernorm(x));
}

LlamaBodyImpl::LlamaBodyImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.n_embd));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layer; ++i) layers->push_back(LlamaBlock(c));
  norm = register_module("norm", nn::RMSNorm(c.n_embd, c.layer_norm_eps));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  if (cfg_.is_llama_family()) {
    model = register_module("model", LlamaBody(cfg_));
    if (!cfg_.tie_word_embeddings) {
      lm_head = register_module(
          "lm_head",
          torch::nn::Linear(torch::nn::LinearOptions(cfg_.n_embd, cfg_.vocab_size).bias(false)));
    }
    nn::RopeOptions ro;
    ro.head_dim = cfg_.head_dim();
    ro.theta = cfg_.rope_theta;
    ro.scaling = cfg_.rope_scaling.type;
    ro.factor = cfg_.rope_scaling.factor;
    ro.low_freq_factor = cfg_.rope_scaling.low_freq_factor;
    ro.high_freq_factor = cfg_.rope_scaling.high_freq_factor;
    ro.original_max_position_embeddings = cfg_.rope_scaling.original_max_position_embeddings;
    inv_freq_ = register_buffer("rope_inv_freq", nn::rope_inv_freq(ro));
    reset_parameters();
    return;
  }
  wte = register_module("wte", torch::nn::Embedding(cfg_.vocab_size, cfg_.n_embd));
  wpe = register_module("wpe", torch::nn::Embedding(cfg_.block_size, cfg_.n_embd));
  drop = register_module("drop", torch::nn::Dropout(cfg_.dropout));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg_.n_layer; ++i) h->push_back(Block(cfg_));
  ln_f = register_module("ln_f", nn::LayerNorm(cfg_.n_embd, cfg_.bias, cfg_.layer_norm_eps));
  // Tied: the output projection reuses wte's weight, so no lm_head module exists at all (one
  // parameter, one name, for the optimizer and the checkpoint alike).
  if (!cfg_.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(cfg_.n_embd, cfg_.vocab_size).bias(false)));
  }
  reset_parameters();
}

void CausalLMImpl::init_parameter(const std::string& name, torch::Tensor& p) const {
  torch::NoGradGuard no_grad;
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
    p.zero_();
    return;
  }
  if (p.dim() < 2) return;  // norms are set by their modules
  // GPT-2 scales its residual projections; transformers' Llama init does not.
  const bool residual_proj = !cfg_.is_llama_family() && name.size() > 13 &&
                             name.compare(name.size() - 13, 13, "c_proj.weight") == 0;
  const double std = cfg_.initializer_range;
  p.normal_(0.0, residual_proj ? std / std::sqrt(2.0 * cfg_.n_layer) : std);
}

void CausalLMImpl::reset_parameters() {
  // Weights in registration order first, then biases: the order the random draws were always made
  // in.
  for (auto& kv : named_parameters()) {
    if (kv.value().dim() >= 2) init_parameter(kv.key(), kv.value());
  }
  for (auto& kv : named_parameters()) {
    if (kv.value().dim() < 2) init_parameter(kv.key(), kv.value());
  }
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids,
                                    const torch::Tensor& position_ids, nn::KVCache* cache,
                                    const torch::Tensor& document_ids) {
  VOLT_CHECK(input_ids.dim() == 2, "[model] input_ids must be (B, T), got ", input_ids.sizes());
  const int64_t t = input_ids.size(1);
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
               "[model] document_ids (packed rows) cannot be combined with a KV "
               "cache");
    key_start = nn::document_key_start(document_ids);  // (B, T), shared by every layer
  }
  torch::Tensor pos = position_ids.defined()
                          ? position_ids
                          : torch::arange(past, past + t, input_ids.options().dtype(torch::kLong));
  if (cfg_.is_llama_family()) return forward_llama(input_ids, pos, cache, key_start);
  auto x = wte(input_ids) + wpe(pos);  // (B, T, C)
  if (cfg_.dropout > 0.0) x = drop(x);
  const bool ckpt =
      checkpointing_ && is_training() && cache == nullptr && torch::GradMode::is_enabled();
  int64_t layer = 0;
  for (auto& block : *h) {
    auto* b = block->as<BlockImpl>();
    const int64_t l = layer++;
    x = run_block(
        static_cast<size_t>(l), *b,
        [b, cache, l, key_start](const torch::Tensor& in) {
          return b->forward(in, cache, l, key_start);
        },
        x, ckpt);
  }
  if (cache) cache->advance(t);
  x = ln_f(x);
  return lm_head ? lm_head(x) : torch::linear(x, wte->weight);  // (B, T, vocab_size)
}

torch::Tensor CausalLMImpl::forward_llama(const torch::Tensor& input_ids, torch::Tensor pos,
                                          nn::KVCache* cache, const torch::Tensor& key_start) {
  const int64_t b = input_ids.size(0), t = input_ids.size(1);
  if (pos.dim() == 1) pos = pos.unsqueeze(0);
  pos = pos.expand({b, t});
  auto [cos, sin] = nn::rope_cos_sin(inv_freq_, pos);  // (B, T, head_dim), once for every layer
  auto x = model->embed_tokens(input_ids);
  const bool ckpt =
      checkpointing_ && is_training() && cache == nullptr && torch::GradMode::is_enabled();
  int64_t layer = 0;
  for (auto& block : *model->layers) {
    auto* b = block->as<LlamaBlockImpl>();
    const int64_t l = layer++;
    // Captured by value: the recomputation in backward runs after this frame has returned.
    x = run_block(
        static_cast<size_t>(l), *b,
        [b, cos, sin, cache, l, key_start](const torch::Tensor& in) {
          return b->forward(in, cos, sin, cache, l, key_start);
        },
        x, ckpt);
  }
  if (cache) cache->advance(t);
  x = model->norm(x);
  return lm_head ? lm_head(x) : torch::linear(x, model->embed_tokens->weight);
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
  for (auto& b : cfg_.is_llama_family() ? *model->layers : *h) out.push_back(b.get());
  return out;
}

const torch::Tensor& CausalLMImpl::embedding_weight() const {
  return cfg_.is_llama_family() ? model->embed_tokens->weight : wte->weight;
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

}  // namespace volt

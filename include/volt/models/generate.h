// Autoregressive sampling with a KV cache: greedy (temperature 0), temperature, top-k, top-p,
// and transformers' repetition penalty.
//   p(x_t | x_<t) = softmax(logits_t / T), restricted to the k most likely tokens and/or the
//   smallest set whose probability reaches top_p, renormalised.
// Only ids below vocab_limit are ever drawn: a vocabulary padded for speed (GPT-2's 50257 to
// 50304) has rows no tokenizer can decode.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "volt/models/causal_lm.h"

namespace volt {

struct GenerationOptions {
  int64_t max_new_tokens = 200;
  double temperature = 0.8;  // 0: greedy
  int64_t top_k = 0;         // 0: off
  double top_p = 1.0;        // 1: off
  uint64_t seed = 1337;
  std::optional<int64_t> eos_id;  // stop when sampled
  std::vector<int64_t> stop_ids;  // more ids that end generation (generation_config's eos list)
  /// transformers' repetition_penalty (CTRL, Keskar et al. 2019): the logit of every id already in
  /// the context is divided by it when positive, multiplied when negative. 1: off.
  double repetition_penalty = 1.0;
  /// Ids >= this are never drawn (the tokenizer's vocabulary size); 0: the model's whole
  /// vocabulary.
  int64_t vocab_limit = 0;
  bool use_cache = true;  // false: recompute the whole context every step (the baseline)
  /// Called with each new id as it is drawn; returning true stops (stop strings, a user's Ctrl-C).
  std::function<bool(int64_t id)> on_token;
};

/// Continues `prompt` (non-empty ids) and returns only the new ids. Contexts longer than the
/// model's block_size keep their last block_size tokens (recomputed without the cache).
std::vector<int64_t> generate(CausalLMImpl& model, const std::vector<int64_t>& prompt,
                              const GenerationOptions& options);

/// Picks the next id from logits (V) per the options (used by generate, and testable alone).
/// context: the ids so far (prompt and generated), for the repetition penalty.
int64_t sample_next(const torch::Tensor& logits, const GenerationOptions& options,
                    at::Generator& gen, const std::vector<int64_t>& context = {});

}  // namespace volt

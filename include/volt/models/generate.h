// Autoregressive sampling with a KV cache: greedy (temperature 0), temperature, top-k, top-p.
//   p(x_t | x_<t) = softmax(logits_t / T), restricted to the k most likely tokens and/or the
//   smallest set whose probability reaches top_p, renormalised.
#pragma once

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
  bool use_cache = true;     // false: recompute the whole context every step (the baseline)
};

/// Continues `prompt` (non-empty ids) and returns only the new ids. Contexts longer than the
/// model's block_size keep their last block_size tokens (recomputed without the cache).
std::vector<int64_t> generate(CausalLMImpl& model, const std::vector<int64_t>& prompt,
                              const GenerationOptions& options);

/// Picks the next id from logits (V) per the options (used by generate, and testable alone).
int64_t sample_next(const torch::Tensor& logits, const GenerationOptions& options, at::Generator& gen);

}  // namespace volt

// Scoring text with a causal LM: the mean negative log-likelihood of each token given the ones
// before it, and the perplexity e^{mean NLL}:
//   NLL = -1/(n-1) * sum_{j=1}^{n-1} log p(x_j | x_0 .. x_{j-1})
// A sequence longer than the model's context is scored in windows of block_size tokens that
// advance by `stride` (Hugging Face's perplexity recipe): every token is scored once, with at
// least block_size - stride tokens of context after the first window.
#pragma once

#include <cstdint>
#include <vector>

#include "volt/models/causal_lm.h"

namespace volt {

struct ScoreResult {
  double mean_nll = 0;  // nats per scored token
  int64_t tokens = 0;   // tokens scored: all but the first
  double perplexity = 0;
};

/// ids: at least 2, each in [0, vocab_size). stride 0: half the context; at most block_size - 1
/// (each window's first token is scored by the window before). Runs without gradients.
ScoreResult score_tokens(CausalLMImpl& model, const std::vector<int64_t>& ids, int64_t stride = 0);

}  // namespace volt

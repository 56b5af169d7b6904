#include "volt/models/score.h"

#include <algorithm>
#include <cmath>

#include "volt/core/check.h"

namespace volt {

ScoreResult score_tokens(CausalLMImpl& model, const std::vector<int64_t>& ids, int64_t stride) {
  const auto n = static_cast<int64_t>(ids.size());
  VOLT_CHECK(n >= 2, "[score] need at least 2 tokens to score one given the other, got ", n);
  const int64_t vocab = model.config().vocab_size, block = model.config().block_size;
  for (int64_t i = 0; i < n; ++i) {
    VOLT_CHECK(ids[static_cast<size_t>(i)] >= 0 && ids[static_cast<size_t>(i)] < vocab, "[score] token id ",
               ids[static_cast<size_t>(i)], " at position ", i, " is outside the model's vocabulary (", vocab, ")");
  }
  if (stride <= 0) stride = std::max<int64_t>(1, block / 2);
  // Windows must overlap by a token: the first token of a window is predicted by the one before.
  VOLT_CHECK(block == 1 ? stride == 1 : stride < block, "[score] stride ", stride,
             " must be smaller than the context (", block, ") so that windows overlap");
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = model.embedding_weight().device();
  const auto all = torch::tensor(ids, torch::kLong).to(device);
  double nll = 0;
  int64_t scored_until = 1;  // tokens [1, scored_until) are scored
  for (int64_t begin = 0;; begin += stride) {
    const int64_t end = std::min(begin + block, n);
    auto logits = model.forward(all.slice(0, begin, end).unsqueeze(0)).squeeze(0);  // (L, V)
    // Token j (scored_until <= j < end) is predicted by the logits at j - 1 - begin.
    const int64_t first = std::max(scored_until, begin + 1);
    if (first < end) {
      auto logp = torch::log_softmax(logits.slice(0, first - 1 - begin, end - 1 - begin).to(torch::kFloat64), -1);
      auto target = all.slice(0, first, end).unsqueeze(1);
      nll -= logp.gather(1, target).sum().item<double>();
      scored_until = end;
    }
    if (end == n) break;
  }
  if (was_training) model.train();
  ScoreResult r;
  r.tokens = n - 1;
  r.mean_nll = nll / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

}  // namespace volt

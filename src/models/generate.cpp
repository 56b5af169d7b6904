#include "volt/models/generate.h"

#include <algorithm>

#include "volt/core/check.h"

namespace volt {

int64_t sample_next(const torch::Tensor& logits_in, const GenerationOptions& o, at::Generator& gen,
                    const std::vector<int64_t>& context) {
  auto logits = logits_in.to(torch::kFloat32).reshape({-1});
  if (o.vocab_limit > 0 && o.vocab_limit < logits.size(0))
    logits = logits.narrow(0, 0, o.vocab_limit);
  if (o.repetition_penalty != 1.0 && !context.empty()) {
    auto ids = torch::tensor(context, torch::kLong);
    ids = ids.masked_select(ids < logits.size(0));
    auto seen = logits.index_select(0, ids);
    seen = torch::where(seen > 0, seen / o.repetition_penalty, seen * o.repetition_penalty);
    logits = logits.index_put({ids}, seen);
  }
  if (o.temperature <= 0) return logits.argmax().item<int64_t>();
  logits = logits / o.temperature;
  const int64_t v = logits.size(0);
  if (o.top_k > 0 && o.top_k < v) {
    auto kth = std::get<0>(logits.topk(o.top_k)).index({-1});
    logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
  }
  if (o.top_p < 1.0) {
    auto [sorted, idx] = logits.sort(/*dim=*/0, /*descending=*/true);
    auto cum = torch::softmax(sorted, 0).cumsum(0);
    // Drop a token when the tokens before it already reach top_p (the first always stays).
    auto drop = (cum - torch::softmax(sorted, 0)) >= o.top_p;
    sorted = sorted.masked_fill(drop, -std::numeric_limits<float>::infinity());
    logits =
        torch::full_like(logits, -std::numeric_limits<float>::infinity()).scatter(0, idx, sorted);
  }
  auto probs = torch::softmax(logits, 0);
  return torch::multinomial(probs, 1, false, gen).item<int64_t>();
}

std::vector<int64_t> generate(CausalLMImpl& model, const std::vector<int64_t>& prompt,
                              const GenerationOptions& o) {
  VOLT_CHECK(!prompt.empty(), "[generate] the prompt is empty: give at least one token");
  const auto& cfg = model.config();
  for (auto id : prompt) {
    VOLT_CHECK(id >= 0 && id < cfg.vocab_size, "[generate] token id ", id, " is out of range [0, ",
               cfg.vocab_size, ")");
  }
  VOLT_CHECK(o.repetition_penalty > 0, "[generate] repetition_penalty must be > 0, got ",
             o.repetition_penalty);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const auto device = model.embedding_weight().device();
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);

  std::vector<int64_t> context = prompt, out;
  const int64_t block = cfg.block_size;
  if (static_cast<int64_t>(context.size()) > block)
    context.erase(context.begin(), context.end() - block);
  auto cache = model.make_cache(1, block);
  // Prefill with the prompt, then feed one token at a time while the cache has room.
  auto logits = model.forward(torch::tensor(context, opts).unsqueeze(0), {}, &cache);
  for (int64_t i = 0; i < o.max_new_tokens; ++i) {
    const int64_t next = sample_next(logits.index({0, -1}).cpu(), o, gen, context);
    out.push_back(next);
    if (o.on_token && o.on_token(next)) break;
    if (o.eos_id && next == *o.eos_id) break;
    if (std::find(o.stop_ids.begin(), o.stop_ids.end(), next) != o.stop_ids.end()) break;
    context.push_back(next);
    if (i + 1 == o.max_new_tokens) break;
    if (!o.use_cache) {  // every step from scratch: O(T^2) work per token, for comparison
      if (static_cast<int64_t>(context.size()) > block)
        context.erase(context.begin(), context.end() - block);
      logits = model.forward(torch::tensor(context, opts).unsqueeze(0));
    } else if (cache.length < block) {
      logits = model.forward(torch::tensor({next}, opts).unsqueeze(0), {}, &cache);
    } else {  // the window is full: slide it and recompute (positions are absolute in GPT-2)
      context.erase(context.begin(), context.end() - block);
      cache.length = 0;
      logits = model.forward(torch::tensor(context, opts).unsqueeze(0), {}, &cache);
    }
  }
  if (was_training) model.train();
  return out;
}

}  // namespace volt

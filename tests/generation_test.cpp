// Generation at the edges: a padded vocabulary is never sampled past the tokenizer's, the
// repetition penalty is transformers' formula, stop ids and the token callback end generation.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "volt/models/causal_lm.h"
#include "volt/models/generate.h"

namespace volt {
namespace {

// A GPT-2 whose last LayerNorm outputs ones and whose untied head gives the padded rows (ids >=
// real) logits of 10 and the rest 0: any sampler that looks past `real` picks a padded id.
CausalLM padded_model(int64_t real, int64_t padded) {
  auto c = ModelConfig::preset("babygpt-tiny");
  c.vocab_size = padded;
  c.set_bias(true);
  c.tie_word_embeddings = false;
  torch::manual_seed(0);
  CausalLM m(c);
  torch::NoGradGuard no_grad;
  m->body->final_norm->weight.zero_();
  m->body->final_norm->bias.fill_(1.0);
  m->lm_head->weight.zero_();
  m->lm_head->weight.narrow(0, real, padded - real).fill_(10.0 / static_cast<double>(c.n_embd));
  m->eval();
  return m;
}

TEST(Generation, APaddedVocabularyIsNeverSampledPastTheTokenizers) {
  auto m = padded_model(50, 64);
  GenerationOptions o;
  o.max_new_tokens = 30;
  o.temperature = 0;
  EXPECT_GE(generate(*m, {1, 2}, o).front(), 50) << "the padded rows dominate without the limit";
  o.vocab_limit = 50;
  for (double temperature : {0.0, 1.0, 5.0}) {
    o.temperature = temperature;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      o.seed = seed;
      for (auto id : generate(*m, {1, 2}, o)) EXPECT_LT(id, 50) << "temperature " << temperature;
    }
  }
}

TEST(Generation, RepetitionPenaltyIsTransformersFormula) {
  // transformers' RepetitionPenaltyLogitsProcessor: seen logits > 0 are divided, < 0 multiplied.
  auto logits = torch::tensor({2.0f, -1.0f, 1.5f, 0.5f});
  GenerationOptions o;
  o.temperature = 0;
  o.repetition_penalty = 2.0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  EXPECT_EQ(sample_next(logits, o, gen, {}), 0);      // nothing seen: the argmax
  EXPECT_EQ(sample_next(logits, o, gen, {0}), 2);     // 2.0 / 2 = 1.0 < 1.5
  EXPECT_EQ(sample_next(logits, o, gen, {0, 2}), 0);  // 1.0 vs 0.75
  o.repetition_penalty = 1.0;
  EXPECT_EQ(sample_next(logits, o, gen, {0, 2}), 0);
  // Negative logits are pushed further down (multiplied): id 1 never wins by being seen.
  auto negative = torch::tensor({-0.5f, -0.6f});
  o.repetition_penalty = 1.5;
  EXPECT_EQ(sample_next(negative, o, gen, {0}), 1);  // -0.75 < -0.6
}

TEST(Generation, StopIdsAndTheTokenCallbackEndGeneration) {
  torch::manual_seed(3);
  CausalLM m(ModelConfig::preset("babygpt-tiny"));
  m->eval();
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = 12;
  const auto free_run = generate(*m, {5}, o);
  ASSERT_EQ(free_run.size(), 12u);
  o.stop_ids = {free_run[4]};
  auto stopped = generate(*m, {5}, o);
  size_t first = 0;
  while (free_run[first] != free_run[4]) ++first;
  EXPECT_EQ(stopped.size(), first + 1);
  o.stop_ids.clear();
  std::vector<int64_t> streamed;
  o.on_token = [&](int64_t id) {
    streamed.push_back(id);
    return streamed.size() == 6;
  };
  auto until_six = generate(*m, {5}, o);
  EXPECT_EQ(until_six, std::vector<int64_t>(free_run.begin(), free_run.begin() + 6));
  EXPECT_EQ(streamed, until_six);
}

}  // namespace
}  // namespace volt

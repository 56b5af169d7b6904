#include "volt/data/random_tokens.h"

#include <ATen/CPUGeneratorImpl.h>

#include "volt/core/check.h"

namespace volt {

RandomTokenLoader::RandomTokenLoader(RandomTokenOptions o) : options_(o) {
  VOLT_CHECK(o.batch_size > 0 && o.block_size > 0 && o.vocab_size > 0 && o.batches > 0,
             "[data] random tokens: batch_size, block_size, vocab_size and batches must be positive, got ",
             o.batch_size, ", ", o.block_size, ", ", o.vocab_size, ", ", o.batches);
}

Batch RandomTokenLoader::get(int64_t epoch, int64_t index) const {
  // One generator per batch, seeded from (seed, epoch, index): thread-safe and reproducible.
  const uint64_t seed = static_cast<uint64_t>(options_.seed) * 1000003ULL + static_cast<uint64_t>(epoch) * 7919ULL +
                        static_cast<uint64_t>(index);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t b = options_.batch_size, t = options_.block_size;
  auto ids = torch::randint(0, options_.vocab_size, {b, t + 1}, gen, torch::kLong);
  Batch batch;
  batch.input_ids = ids.narrow(1, 0, t).contiguous();
  batch.labels = ids.narrow(1, 1, t).contiguous();
  return batch;
}

RandomTokenDataModule::RandomTokenDataModule(RandomTokenOptions o) {
  train_ = std::make_shared<RandomTokenLoader>(o);
  RandomTokenOptions v = o;
  v.seed = o.seed + 1;
  v.batches = std::max<int64_t>(1, o.batches / 8);
  val_ = std::make_shared<RandomTokenLoader>(v);
}

}  // namespace volt

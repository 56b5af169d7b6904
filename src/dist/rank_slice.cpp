#include "volt/dist/rank_slice.h"

#include "volt/core/check.h"

namespace volt::dist {

Batch slice_for_rank(const Batch& global, int64_t rank, int64_t world) {
  const int64_t b = global.batch_size();
  VOLT_CHECK(b % world == 0, "[ddp] a global batch of ", b, " rows does not split over ", world,
             " ranks (each rank's data.batch_size times the world size must divide it)");
  const int64_t n = b / world;
  auto cut = [&](const torch::Tensor& t) { return t.defined() ? t.slice(0, rank * n, (rank + 1) * n) : t; };
  Batch out = global;
  out.input_ids = cut(global.input_ids);
  out.labels = cut(global.labels);
  out.position_ids = cut(global.position_ids);
  out.document_ids = cut(global.document_ids);
  return out;
}

}  // namespace volt::dist

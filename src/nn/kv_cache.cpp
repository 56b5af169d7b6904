#include "volt/nn/kv_cache.h"

#include "volt/core/check.h"

namespace volt::nn {

KVCache::KVCache(int64_t n_layer, int64_t batch, int64_t n_head, int64_t capacity_,
                 int64_t head_dim, torch::TensorOptions options)
    : capacity(capacity_) {
  for (int64_t i = 0; i < n_layer; ++i) {
    k.push_back(torch::zeros({batch, n_head, capacity, head_dim}, options));
    v.push_back(torch::zeros({batch, n_head, capacity, head_dim}, options));
  }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor& k_new,
                                                        const torch::Tensor& v_new) {
  const int64_t t = k_new.size(2);
  VOLT_CHECK(length + t <= capacity, "[kv_cache] ", length, " + ", t,
             " tokens exceed the cache capacity ", capacity);
  k[layer].narrow(2, length, t).copy_(k_new);
  v[layer].narrow(2, length, t).copy_(v_new);
  return {k[layer].narrow(2, 0, length + t), v[layer].narrow(2, 0, length + t)};
}

}  // namespace volt::nn

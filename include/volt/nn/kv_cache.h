// A key/value cache for incremental decoding: each layer keeps the keys and values of the tokens
// seen so far, so generating token t costs O(t) attention instead of re-running the whole prefix.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace volt::nn {

struct KVCache {
  std::vector<torch::Tensor> k, v;  // per layer: (B, nh, capacity, hs)
  int64_t length = 0;               // tokens already cached
  int64_t capacity = 0;

  KVCache(int64_t n_layer, int64_t batch, int64_t n_head, int64_t capacity, int64_t head_dim,
          torch::TensorOptions options);
  /// Appends (B, nh, T, hs) keys/values for one layer at positions [length, length+T) and returns
  /// views over everything cached so far. advance(T) moves `length` after the last layer.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k_new,
                                                 const torch::Tensor& v_new);
  void advance(int64_t t) { length += t; }
};

}  // namespace volt::nn

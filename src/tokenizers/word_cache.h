// Per-thread caches of words already tokenized: the same few thousand words make up most of any
// text, so a hash lookup replaces the merge loop. One cache per model instance and thread, so a
// tokenizer shared by encode_batch's threads needs no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace volt::detail {

struct WordCache {
  static constexpr size_t kCapacity = 1 << 17;  // then stop inserting, as the HF crate does
  static constexpr size_t kMaxWordBytes = 256;  // longer words are rare: not worth the memory
  std::unordered_map<std::string, std::vector<int32_t>> map;
  static bool cacheable(const std::string& word, const WordCache& c) {
    return word.size() <= kMaxWordBytes && c.map.size() < kCapacity;
  }
};

/// A process-unique id for a model instance (addresses can be reused; ids are not).
inline uint64_t next_cache_uid() {
  static std::atomic<uint64_t> uid{1};
  return uid++;
}

/// This thread's cache for the model with this uid (the last few models used are kept).
inline WordCache& thread_word_cache(uint64_t uid) {
  thread_local std::vector<std::pair<uint64_t, std::unique_ptr<WordCache>>> caches;
  if (!caches.empty() && caches.back().first == uid) return *caches.back().second;
  for (auto& [u, c] : caches) {
    if (u == uid) return *c;
  }
  if (caches.size() >= 4) caches.erase(caches.begin());
  caches.emplace_back(uid, std::make_unique<WordCache>());
  return *caches.back().second;
}

}  // namespace volt::detail

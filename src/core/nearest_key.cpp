#include "volt/core/nearest_key.h"

#include <algorithm>

namespace volt {

std::string nearest_key(const std::string& key, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = std::max<size_t>(3, key.size() / 3) + 1;  // only suggest plausible typos
  for (const auto& c : candidates) {
    const size_t d = distance(key, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

}  // namespace volt

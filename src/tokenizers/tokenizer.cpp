// What every tokenizer shares: UTF-8 validation up front, BOS/EOS, and batch encoding on threads.
#include "volt/tokenizers/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "volt/core/check.h"
#include "volt/tokenizers/unicode.h"

namespace volt {

void check_utf8(std::string_view text, const std::string& context) {
  const size_t bad = unicode::find_invalid_utf8(text);
  VOLT_CHECK(bad == std::string_view::npos, "[tokenizer] ", context, ": invalid UTF-8 at byte ", bad);
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  check_utf8(text);
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (options.add_bos) {
    const auto bos = bos_id();
    VOLT_CHECK(bos.has_value(), "[tokenizer] this ", kind(), " tokenizer has no BOS token");
    ids.push_back(*bos);
  }
  encode_into(text, options, ids);
  if (options.add_eos) {
    const auto eos = eos_id();
    VOLT_CHECK(eos.has_value(), "[tokenizer] this ", kind(), " tokenizer has no EOS token");
    ids.push_back(*eos);
  }
  return ids;
}

std::vector<std::vector<int64_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          const EncodeOptions& options,
                                                          int threads) const {
  std::vector<std::vector<int64_t>> out(texts.size());
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n = std::min<int>(n, static_cast<int>(texts.size()));
  if (n <= 1) {
    for (size_t i = 0; i < texts.size(); ++i) out[i] = encode(texts[i], options);
    return out;
  }
  // Texts are handed out one at a time, so long and short ones balance across threads.
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> pool;
  for (int t = 0; t < n; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (size_t i = next++; i < texts.size(); i = next++) out[i] = encode(texts[i], options);
      } catch (...) {
        errors[t] = std::current_exception();
        next = texts.size();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return out;
}

}  // namespace volt

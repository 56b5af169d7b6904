// What every tokenizer shares: UTF-8 validation up front, BOS/EOS, and batch encoding on threads.
#include "volt/tokenizers/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "volt/core/check.h"
#include "volt/tokenizers/unicode.h"

namespace volt {

void check_utf8(std::string_view text, const std::string& context) {
  const size_t bad = unicode::find_invalid_utf8(text);
  VOLT_CHECK(bad == std::string_view::npos, "[tokenizer] ", context, ": invalid UTF-8 at byte ",
             bad);
}

namespace {

// BOS, the special-tokens template, the text's ids, the template's end, EOS: the ids around the
// text, shared by encode and encode_with_offsets. push(id, before_text) adds one of them.
template <typename Text, typename Push>
void wrap(const Tokenizer& tok, const EncodeOptions& options, Text&& text, Push&& push) {
  SpecialTokensTemplate tmpl;
  if (options.add_special_tokens) tmpl = tok.special_tokens_template();
  std::optional<int64_t> bos, eos;
  if (options.add_bos) {
    bos = tok.bos_id();
    VOLT_CHECK(bos.has_value(), "[tokenizer] ", tok.source(),
               " has no BOS token (none is named "
               "by its tokenizer_config.json or template), so add_bos cannot be honoured");
    if (!tmpl.prefix.empty() && tmpl.prefix.front() == *bos) bos.reset();
  }
  if (options.add_eos) {
    eos = tok.eos_id();
    VOLT_CHECK(eos.has_value(), "[tokenizer] ", tok.source(),
               " has no EOS token (none is named "
               "by its tokenizer_config.json), so add_eos cannot be honoured");
    if (!tmpl.suffix.empty() && tmpl.suffix.back() == *eos) eos.reset();
  }
  if (bos) push(*bos, true);
  for (int64_t id : tmpl.prefix) push(id, true);
  text();
  for (int64_t id : tmpl.suffix) push(id, false);
  if (eos) push(*eos, false);
}

}  // namespace

std::vector<int64_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  check_utf8(text);
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 2);
  wrap(
      *this, options, [&] { encode_into(text, options, ids); },
      [&](int64_t id, bool) { ids.push_back(id); });
  return ids;
}

Encoding Tokenizer::encode_with_offsets(std::string_view text, const EncodeOptions& options) const {
  check_utf8(text);
  Encoding out;
  out.ids.reserve(text.size() / 3 + 2);
  out.offsets.reserve(text.size() / 3 + 2);
  wrap(
      *this, options, [&] { encode_with_offsets_into(text, options, out); },
      [&](int64_t id, bool before_text) {
        const size_t at = before_text ? 0 : text.size();
        out.ids.push_back(id);
        out.offsets.push_back({at, at});
      });
  VOLT_CHECK(out.ids.size() == out.offsets.size(), "[tokenizer] ", source(), ": ", out.ids.size(),
             " ids but ", out.offsets.size(), " offsets (a bug in volt)");
  // Alignment alone can step back: an inserted byte (empty, where it was inserted) between two
  // tokens that share a stretch a normalizer rewrote as a whole, or BPE emitting a pending unknown
  // token after the byte-fallback tokens that follow it. Such a token takes what its predecessor
  // covers, so that starts and ends never decrease.
  for (size_t i = 1; i < out.offsets.size(); ++i) {
    ByteSpan& s = out.offsets[i];
    const ByteSpan& prev = out.offsets[i - 1];
    s.start = std::max(s.start, prev.start);
    s.end = std::max(s.end, std::max(s.start, prev.end));
  }
  return out;
}

bool Tokenizer::adds_bos_by_default() const {
  const auto bos = bos_id();
  const auto prefix = special_tokens_template().prefix;
  return bos && !prefix.empty() && prefix.front() == *bos;
}

bool Tokenizer::adds_eos_by_default() const {
  const auto eos = eos_id();
  const auto suffix = special_tokens_template().suffix;
  return eos && !suffix.empty() && suffix.back() == *eos;
}

namespace {

// Worker threads that outlive one encode_batch call, so each keeps its word caches warm across
// calls (the caches are per thread; fresh threads would start cold every time). The calling
// thread works too. One batch at a time; a batch started from a worker runs inline.
class EncodePool {
 public:
  static EncodePool& instance() {
    static EncodePool* pool = new EncodePool();  // never destroyed: workers may outlive main
    return *pool;
  }
  // Runs fn(worker) for worker = 0..n-1 and waits for all of them.
  void run(int n, const std::function<void(int)>& fn) {
    if (in_worker_ || n <= 1) {
      for (int w = 0; w < n; ++w) fn(w);
      return;
    }
    std::lock_guard<std::mutex> batch(batch_mu_);
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (static_cast<int>(threads_.size()) < n - 1) {
        const int id = static_cast<int>(threads_.size()) + 1;
        threads_.emplace_back([this, id] { loop(id); });
      }
      fn_ = &fn;
      active_ = n;
      pending_ = n - 1;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void loop(int id) {
    in_worker_ = true;
    uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* fn = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (id >= active_) continue;
        fn = fn_;
      }
      (*fn)(id);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::mutex batch_mu_, mu_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* fn_ = nullptr;
  int active_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  static thread_local bool in_worker_;
};
thread_local bool EncodePool::in_worker_ = false;

}  // namespace

std::vector<std::vector<int64_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          const EncodeOptions& options,
                                                          int threads) const {
  std::vector<std::vector<int64_t>> out(texts.size());
  int n =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n = std::max(1, std::min<int>(n, static_cast<int>(texts.size())));
  // Texts are handed out one at a time, so long and short ones balance across threads.
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(n);
  EncodePool::instance().run(n, [&](int w) {
    try {
      for (size_t i = next++; i < texts.size(); i = next++) out[i] = encode(texts[i], options);
    } catch (...) {
      errors[w] = std::current_exception();
      next = texts.size();
    }
  });
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return out;
}

}  // namespace volt

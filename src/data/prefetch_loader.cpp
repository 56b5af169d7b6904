#include "volt/data/prefetch_loader.h"

#include <chrono>

#include "volt/core/check.h"

namespace volt {

PrefetchLoader::PrefetchLoader(std::shared_ptr<DataLoader> loader, int64_t workers,
                               int64_t prefetch_factor, bool pin_memory)
    : loader_(std::move(loader)),
      workers_(std::max<int64_t>(0, workers)),
      capacity_(std::max<int64_t>(1, workers * std::max<int64_t>(1, prefetch_factor))),
      pin_(pin_memory) {
  VOLT_CHECK(loader_ != nullptr, "[data] PrefetchLoader needs a DataLoader");
}

PrefetchLoader::~PrefetchLoader() { stop(); }

void PrefetchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  space_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  done_.clear();
  errors_.clear();
  stopping_ = false;
}

void PrefetchLoader::start(int64_t epoch, int64_t first) {
  stop();
  epoch_ = epoch;
  next_to_build_ = next_to_take_ = first;
  started_ = true;
  for (int64_t i = 0; i < workers_; ++i) threads_.emplace_back([this] { work(); });
}

void PrefetchLoader::work() {
  const int64_t end = loader_->size();
  for (;;) {
    int64_t index;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Bounded: never more than capacity_ batches ahead of the consumer.
      space_.wait(lock, [&] { return stopping_ || next_to_build_ < next_to_take_ + capacity_; });
      if (stopping_ || next_to_build_ >= end || !errors_.empty()) return;
      index = next_to_build_++;
    }
    try {
      Batch b = loader_->get(epoch_, index);
      if (pin_) b = b.pin_memory();
      std::lock_guard<std::mutex> lock(mu_);
      done_.emplace(index, std::move(b));
    } catch (...) {
      // Kept with its index: batches before it are still handed out, as without workers.
      std::lock_guard<std::mutex> lock(mu_);
      errors_.emplace(index, std::current_exception());
    }
    ready_.notify_all();
  }
}

Batch PrefetchLoader::next() {
  const auto t0 = std::chrono::steady_clock::now();
  Batch b;
  if (workers_ == 0) {
    b = loader_->get(epoch_, next_to_take_++);
    if (pin_) b = b.pin_memory();
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    VOLT_CHECK(started_, "[data] PrefetchLoader::next() before start()");
    VOLT_CHECK(next_to_take_ < loader_->size(), "[data] the epoch has no batch ", next_to_take_);
    // Workers stop at the first error, so batches past it may never come: wait for this index
    // or for an error at or before it.
    auto failed = [&] { return !errors_.empty() && errors_.begin()->first <= next_to_take_; };
    ready_.wait(lock, [&] { return failed() || done_.count(next_to_take_) > 0; });
    if (done_.count(next_to_take_) == 0) std::rethrow_exception(errors_.begin()->second);
    auto it = done_.find(next_to_take_++);
    b = std::move(it->second);
    done_.erase(it);
    lock.unlock();
    space_.notify_all();
  }
  // Building the batch on this thread (workers 0) is waiting for data too.
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return b;
}

}  // namespace volt

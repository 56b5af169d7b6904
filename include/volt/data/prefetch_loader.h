// Feeding the model without making it wait: worker threads build the next batches of an epoch
// while the current step computes, into a bounded queue (at most workers x prefetch_factor
// batches ahead, so memory stays flat), handed out strictly in index order so a run is the same
// with 0 or 8 workers. On CUDA the batches are page-locked, so the copy to the GPU can be
// non-blocking and overlap with compute.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "volt/data/datamodule.h"

namespace volt {

class PrefetchLoader {
 public:
  /// workers 0: batches are built on the calling thread, when asked for.
  PrefetchLoader(std::shared_ptr<DataLoader> loader, int64_t workers, int64_t prefetch_factor,
                 bool pin_memory);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  /// Starts (or restarts) at batch `first` of `epoch`; the workers run ahead to the epoch's end.
  void start(int64_t epoch, int64_t first);
  /// The next batch in order; blocks until it is ready. A worker's error is rethrown here.
  Batch next();
  /// Seconds next() spent waiting, in total, since construction.
  double wait_seconds() const { return wait_seconds_; }
  int64_t size() const { return loader_->size(); }

 private:
  void stop();
  void work();

  std::shared_ptr<DataLoader> loader_;
  int64_t workers_, capacity_;
  bool pin_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::map<int64_t, Batch> done_;  // built, not yet taken
  std::map<int64_t, std::exception_ptr> errors_;  // by batch index
  int64_t epoch_ = 0, next_to_build_ = 0, next_to_take_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  double wait_seconds_ = 0;
};

}  // namespace volt

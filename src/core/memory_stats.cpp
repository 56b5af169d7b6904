#include "volt/core/memory_stats.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include <c10/core/CPUAllocator.h>

#include "volt/core/compat.h"

#ifdef VOLT_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace volt::memory {

namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<bool> g_tracking{false};

// One live allocation: the wrapped allocator's DataPtr (which frees it) and its size.
struct Allocation {
  c10::DataPtr inner;
  int64_t bytes;
};

void release(void* ctx) {
  auto* a = static_cast<Allocation*>(ctx);
  g_current.fetch_sub(a->bytes, std::memory_order_relaxed);
  delete a;  // frees the memory through the inner DataPtr's deleter
}

// Counts bytes on their way through LibTorch's own CPU allocator; everything else is unchanged.
class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) VOLT_ALLOCATE_CONST override {
    c10::DataPtr d = inner_->allocate(n);
    void* data = d.get();
    const c10::Device device = d.device();
    const auto bytes = static_cast<int64_t>(n);
    const int64_t now = g_current.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    int64_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    return {data, new Allocation{std::move(d), bytes}, &release, device};
  }
  VOLT_ALLOCATOR_COPY_DATA

 private:
  c10::Allocator* inner_;
};

}  // namespace

void track_cpu_allocations() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never freed: tensors may outlive any scope, and their deleters point here.
    static auto* counting = new CountingAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(counting, /*priority=*/100);
    g_tracking = true;
  });
}

bool tracking_cpu() { return g_tracking.load(); }

Stats stats(const torch::Device& device) {
#ifdef VOLT_CUDA
  if (device.is_cuda()) {
    const auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
    const auto& a = s.allocated_bytes[0];  // StatType::AGGREGATE (its namespace moved between versions)
    return {a.current, a.peak};
  }
#endif
  (void)device;
  return {g_current.load(), g_peak.load()};
}

void reset_peak(const torch::Device& device) {
#ifdef VOLT_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
    return;
  }
#endif
  (void)device;
  g_peak.store(g_current.load());
}

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports kilobytes
}

}  // namespace volt::memory

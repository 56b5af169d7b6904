#include "volt/core/memory_stats.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

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

// Live allocations by data pointer: the wrapped allocator's DataPtr (which frees the memory) and
// the size. The DataPtr handed out has its data pointer as context, as raw_allocate() requires
// (LibTorch asserts it: some kernels allocate scratch through raw_allocate / raw_deleter).
struct Live {
  c10::DataPtr inner;
  int64_t bytes;
};
std::mutex g_mutex;
std::unordered_map<void*, Live>& live() {
  static auto* map = new std::unordered_map<void*, Live>();  // never destroyed: frees may come late
  return *map;
}

void counting_delete(void* ptr) {
  c10::DataPtr inner;  // freed after the lock is released
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = live().find(ptr);
    if (it == live().end()) return;  // not ours (cannot happen: only our DataPtrs point here)
    g_current.fetch_sub(it->second.bytes, std::memory_order_relaxed);
    inner = std::move(it->second.inner);
    live().erase(it);
  }
}

// Counts bytes on their way through LibTorch's own CPU allocator; everything else is unchanged.
class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) VOLT_ALLOCATE_CONST override {
    c10::DataPtr d = inner_->allocate(n);
    void* data = d.get();
    if (data == nullptr) return d;  // zero bytes
    const c10::Device device = d.device();
    const auto bytes = static_cast<int64_t>(n);
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      live().emplace(data, Live{std::move(d), bytes});
    }
    const int64_t now = g_current.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    int64_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    return {data, data, &counting_delete, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &counting_delete; }
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

#include "volt/core/memory_stats.h"

#include <gtest/gtest.h>

namespace volt {
namespace {

// The counting allocator sees every tensor's bytes: allocation raises current and peak, freeing
// lowers current only, and reset_peak starts a new high-water mark.
TEST(MemoryStats, CpuAllocatorCountsLiveTensorBytes) {
  memory::track_cpu_allocations();
  ASSERT_TRUE(memory::tracking_cpu());
  const torch::Device cpu(torch::kCPU);
  memory::reset_peak(cpu);
  const auto base = memory::stats(cpu);
  {
    auto a = torch::empty({1 << 20}, torch::kFloat32);  // 4 MiB
    const auto with_a = memory::stats(cpu);
    EXPECT_EQ(with_a.current_bytes - base.current_bytes, 4 << 20);
    auto b = torch::empty({1 << 19}, torch::kFloat64);  // 4 MiB more
    EXPECT_EQ(memory::stats(cpu).current_bytes - base.current_bytes, 8 << 20);
  }
  const auto after = memory::stats(cpu);
  EXPECT_EQ(after.current_bytes, base.current_bytes);
  EXPECT_EQ(after.peak_bytes - base.current_bytes, 8 << 20);
  memory::reset_peak(cpu);
  EXPECT_EQ(memory::stats(cpu).peak_bytes, after.current_bytes);
  // Tensors still work: values survive the wrapper and views share the allocation.
  auto x = torch::arange(10, torch::kFloat32);
  EXPECT_FLOAT_EQ(x.sum().item<float>(), 45.0f);
  EXPECT_GT(memory::peak_rss_bytes(), 0);
}

}  // namespace
}  // namespace volt

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

namespace volt {
namespace {

// Kernels that take scratch through raw_allocate() need the DataPtr's context to be its data
// pointer (LibTorch asserts it), and free it with raw_deleter().
TEST(MemoryStats, RawAllocationsWorkWhileTracking) {
  memory::track_cpu_allocations();
  const torch::Device cpu(torch::kCPU);
  const auto base = memory::stats(cpu).current_bytes;
  c10::Allocator* a = c10::GetAllocator(c10::DeviceType::CPU);
  void* p = a->raw_allocate(4096);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(memory::stats(cpu).current_bytes - base, 4096);
  a->raw_deallocate(p);
  EXPECT_EQ(memory::stats(cpu).current_bytes, base);
  // And an op that uses it (a sort's scratch, a matmul) still runs.
  auto x = torch::randn({256, 256});
  EXPECT_EQ(torch::mm(x, x).size(0), 256);
  EXPECT_EQ(std::get<0>(x.sort(1)).size(1), 256);
}

}  // namespace
}  // namespace volt

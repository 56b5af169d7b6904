// How much memory tensors take, measured: what `volt bench` reports and `volt memory`'s estimates
// are checked against.
//   CPU:  a counting wrapper around LibTorch's CPU allocator (installed by track_cpu_allocations),
//         so "peak" is the high-water mark of live tensor bytes — the same quantity as the CUDA
//         caching allocator's allocated-bytes peak. Memory outside c10's allocator (OpenBLAS and
//         oneDNN scratch, the C++ heap) is not in it; peak_rss_bytes() has the whole process.
//   CUDA: the caching allocator's statistics (allocated bytes, current and peak).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace volt::memory {

struct Stats {
  int64_t current_bytes = 0;  // live tensor bytes now
  int64_t peak_bytes = 0;     // the most live at once since the last reset_peak
};

/// Installs the counting CPU allocator (idempotent, process-wide). Tensors allocated before it
/// are not counted, and their frees are not subtracted.
void track_cpu_allocations();
/// Whether CPU allocations are being counted.
bool tracking_cpu();
/// Current and peak live tensor bytes on a device (CPU: zeros unless tracking).
Stats stats(const torch::Device& device);
/// Starts a new peak at the current level.
void reset_peak(const torch::Device& device);
/// The process's peak resident set size (getrusage ru_maxrss), in bytes.
int64_t peak_rss_bytes();

}  // namespace volt::memory

// CPU thread defaults. Measured on the project's 2-core machines (docs/benchmarks.md):
// LibTorch's OpenMP pool and OpenBLAS's pthread pool both spin while waiting, so running both
// with 2 threads made a BabyGPT step ~3x slower than 1 LibTorch thread + 2 OpenBLAS threads.
// Also the allocator: glibc serves blocks above 32 MB with mmap and returns them with munmap, so
// every step of a large-vocabulary model (a 1.6 GB logits tensor at B 8, T 1024, V 50304) paid
// fresh page faults for its biggest tensors: more system time than compute. Keeping freed memory
// in the heap made that run 1.26x faster (docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <string>

namespace volt {

struct CpuRuntimeInfo {
  int torch_threads = 1;
  int blas_threads = 0;    // 0: unknown (not OpenBLAS)
  std::string blas_core;   // OpenBLAS's kernel family, e.g. "SkylakeX"; empty if unknown
  bool heap_kept = false;  // glibc told to keep freed memory (no mmap for large blocks, no trim)
};

/// Sets LibTorch's intra-op threads (0: automatic: 1 when a multi-threaded OpenBLAS does the
/// matmuls, else one per core) and gives OpenBLAS one thread per core. "Core" is this process's
/// share: the machine's cores over LOCAL_WORLD_SIZE (several ranks on one node). Tells glibc to
/// keep freed memory for reuse, unless MALLOC_MMAP_MAX_ / MALLOC_TRIM_THRESHOLD_ are set or
/// VOLT_MALLOC=default.
CpuRuntimeInfo configure_cpu_threads(int64_t torch_threads = 0);

/// One line for logs: "torch 1.13.0, 1 intra-op thread, OpenBLAS SkylakeX x 2 threads".
std::string cpu_runtime_summary();

}  // namespace volt

// CPU thread defaults. Measured on the project's 2-core machines (docs/benchmarks.md):
// LibTorch's OpenMP pool and OpenBLAS's pthread pool both spin while waiting, so running both
// with 2 threads made a BabyGPT step ~3x slower than 1 LibTorch thread + 2 OpenBLAS threads.
#pragma once

#include <cstdint>
#include <string>

namespace volt {

struct CpuRuntimeInfo {
  int torch_threads = 1;
  int blas_threads = 0;     // 0: unknown (not OpenBLAS)
  std::string blas_core;    // OpenBLAS's kernel family, e.g. "SkylakeX"; empty if unknown
};

/// Sets LibTorch's intra-op threads (0: automatic: 1 when a multi-threaded OpenBLAS does the
/// matmuls, else one per core) and gives OpenBLAS one thread per core.
CpuRuntimeInfo configure_cpu_threads(int64_t torch_threads = 0);

/// One line for logs: "torch 1.13.0, 1 intra-op thread, OpenBLAS SkylakeX x 2 threads".
std::string cpu_runtime_summary();

}  // namespace volt

// CPU thread and BLAS defaults. Measured on the project's 2-core machines (docs/benchmarks.md):
// LibTorch's OpenMP pool and OpenBLAS's pthread pool both spin while waiting, so running both
// with 2 threads made a BabyGPT step ~3x slower than 1 LibTorch thread + 2 OpenBLAS threads.
// And OpenBLAS 0.3.21 does not know recent AVX-512 CPUs (e.g. AMD Zen 5) and falls back to its
// AVX2 "Haswell" kernels; its "SkylakeX" AVX-512 kernels run fp32 matmuls ~1.8x faster there.
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

/// For executables: when OpenBLAS picked its AVX2 kernels on a CPU with AVX-512 and the user set no
/// OPENBLAS_CORETYPE, re-executes this program once with OPENBLAS_CORETYPE=SkylakeX (OpenBLAS
/// reads it only when it loads). Returns normally when nothing needs doing. VOLT_BLAS_AUTOTUNE=0
/// turns it off.
void reexec_with_best_blas_kernels(int argc, char** argv);

/// One line for logs: "torch 1.13.0, 1 intra-op thread, OpenBLAS SkylakeX x 2 threads".
std::string cpu_runtime_summary();

}  // namespace volt

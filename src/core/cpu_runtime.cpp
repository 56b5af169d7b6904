#include "volt/core/cpu_runtime.h"

#include <dlfcn.h>
#include <malloc.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <thread>

namespace volt {

namespace {

// OpenBLAS's extension API, looked up at run time: the BLAS behind LibTorch may be another one.
template <typename F>
F openblas_fn(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

std::string openblas_core() {
  auto get = openblas_fn<char* (*)()>("openblas_get_corename");
  return get ? std::string(get()) : std::string();
}

int openblas_threads() {
  auto get = openblas_fn<int (*)()>("openblas_get_num_threads");
  return get ? get() : 0;
}

// Training allocates and frees the same large tensors every step: keep them in the heap.
bool keep_heap() {
  if (std::getenv("MALLOC_MMAP_MAX_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return false;
  if (const char* m = std::getenv("VOLT_MALLOC"); m && std::strcmp(m, "default") == 0) return false;
  static const bool done = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT32_MAX) == 1;
  return done;
}

// This process's share of the cores: torchrun and volt launch start LOCAL_WORLD_SIZE processes on
// a node, and each one running a thread per core would oversubscribe the node N times over.
int cores() {
  const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  const int n = local ? std::atoi(local) : 1;
  return std::max(1, all / std::max(1, n));
}

}  // namespace

CpuRuntimeInfo configure_cpu_threads(int64_t torch_threads) {
  CpuRuntimeInfo info;
  // A user's OPENBLAS_NUM_THREADS / OMP_NUM_THREADS wins over our default of one per core.
  const bool user_set = std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("OMP_NUM_THREADS");
  if (auto set = openblas_fn<void (*)(int)>("openblas_set_num_threads"); set && !user_set)
    set(cores());
  info.blas_threads = openblas_threads();
  info.blas_core = openblas_core();
  if (torch_threads > 0) {
    info.torch_threads = static_cast<int>(torch_threads);
  } else {
    info.torch_threads = info.blas_threads > 1 ? 1 : cores();
  }
  torch::set_num_threads(info.torch_threads);
  info.heap_kept = keep_heap();
  return info;
}

std::string cpu_runtime_summary() {
  std::string s = "torch " TORCH_VERSION ", " + std::to_string(torch::get_num_threads()) +
                  " intra-op thread(s)";
  const std::string core = openblas_core();
  if (!core.empty())
    s += ", OpenBLAS " + core + " x " + std::to_string(openblas_threads()) + " thread(s)";
  if (keep_heap()) s += ", heap kept";
  return s;
}

}  // namespace volt

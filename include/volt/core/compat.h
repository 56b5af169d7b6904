// The only place that knows which LibTorch volt is built against. Debian's CPU build is 1.13;
// the GPU machines carry 2.x with CUDA. Everything else calls these wrappers.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#define VOLT_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||       \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// c10::Allocator changed in 2.3: allocate() lost its const, and copy_data() must be provided.
// A wrapping allocator (core/memory_stats.cpp) declares itself with these.
#if VOLT_TORCH_AT_LEAST(2, 3)
#define VOLT_ALLOCATE_CONST
#define VOLT_ALLOCATOR_COPY_DATA                                                  \
  void copy_data(void* dest, const void* src, std::size_t count) const override { \
    default_copy_data(dest, src, count);                                          \
  }
#else
#define VOLT_ALLOCATE_CONST const
#define VOLT_ALLOCATOR_COPY_DATA
#endif

namespace volt::compat {

/// True when this LibTorch was built with CUDA and a GPU is visible.
inline bool cuda_available() { return torch::cuda::is_available(); }

/// Whether this LibTorch multiplies `dtype` matrices on the CPU (1.13 has no float16 GEMM there;
/// later versions do). Probed once per dtype with a 2 x 2 product rather than guessed from the
/// version number.
inline bool cpu_matmul_supports(torch::Dtype dtype) {
  auto probe = [dtype] {
    try {
      auto a = torch::ones({2, 2}, torch::TensorOptions().dtype(dtype));
      return torch::mm(a, a).to(torch::kFloat32).sum().item<float>() == 8.0f;
    } catch (const c10::Error&) {
      return false;
    }
  };
  if (dtype == torch::kHalf) {
    static const bool half = probe();
    return half;
  }
  if (dtype == torch::kBFloat16) {
    static const bool bf16 = probe();
    return bf16;
  }
  return probe();
}

/// TF32 for float32 matmuls and convolutions on CUDA (Ampere and later: 10-bit mantissa inputs,
/// fp32 accumulation; ~8x the fp32 rate). No effect on the CPU.
inline void set_allow_tf32(bool allow) {
  at::globalContext().setAllowTF32CuBLAS(allow);
  at::globalContext().setAllowTF32CuDNN(allow);
}

/// Whether at::scaled_dot_product_attention exists (2.0+); nn/attention.cpp takes it when it does.
inline constexpr bool has_scaled_dot_product_attention = VOLT_TORCH_AT_LEAST(2, 0);

#if VOLT_TORCH_AT_LEAST(2, 0)
/// LibTorch 2.x's fused scaled dot-product attention over (B, nh, T, hs) tensors (flash /
/// memory-efficient kernels on CUDA, a blocked kernel on the CPU). 1.13 has none: nn/attention.cpp
/// then uses volt's own CPU kernel or the explicit softmax(QK^T/sqrt(d) + mask) V.
inline torch::Tensor scaled_dot_product_attention(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v,
                                                  const c10::optional<torch::Tensor>& attn_mask,
                                                  bool is_causal) {
  return at::scaled_dot_product_attention(q, k, v, attn_mask, 0.0, is_causal);
}
#endif

/// Whether LibTorch has its own fused AdamW kernel for the CPU (at::_fused_adamw_, 2.4+; CUDA has
/// had one since 2.0, gated with the CPU here for one tested version boundary).
inline constexpr bool has_fused_adamw = VOLT_TORCH_AT_LEAST(2, 4);

/// One AdamW step (the update train/optim.h documents, the same as PyTorch's fused=True) of a flat
/// parameter `theta` in place, with its state; `step` is the step number t (1 on the first step).
/// LibTorch's fused kernel reads each value once and computes in fp32 whatever the storage dtype,
/// so bf16 / fp16 parameters round once per step instead of once per tensor op. Returns false,
/// doing nothing, where it cannot run: LibTorch older than 2.4, or tensors that differ in dtype or
/// device, or a non-contiguous one (the caller then takes the tensor-op path, 1.13's only one).
inline bool try_fused_adamw_step(torch::Tensor& theta, const torch::Tensor& grad,
                                 torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq, int64_t step,
                                 double lr, double beta1, double beta2, double weight_decay,
                                 double eps) {
#if VOLT_TORCH_AT_LEAST(2, 4)
  auto like_theta = [&](const torch::Tensor& t) {
    return t.scalar_type() == theta.scalar_type() && t.device() == theta.device() &&
           t.is_contiguous();
  };
  if (!like_theta(theta) || !like_theta(grad) || !like_theta(exp_avg) || !like_theta(exp_avg_sq)) {
    return false;
  }
  const auto steps =
      torch::scalar_tensor(static_cast<double>(step),
                           torch::TensorOptions().dtype(torch::kFloat32).device(theta.device()));
  at::_fused_adamw_({theta}, {grad}, {exp_avg}, {exp_avg_sq}, {}, {steps}, lr, beta1, beta2,
                    weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
  return true;
#else
  (void)theta, (void)grad, (void)exp_avg, (void)exp_avg_sq, (void)step;
  (void)lr, (void)beta1, (void)beta2, (void)weight_decay, (void)eps;
  return false;
#endif
}

/// Whether c10d's TCPStore defaults to its libuv server (TCPStoreOptions::useLibUV = true, 2.4+).
/// Debian's LibTorch 2.6 is built without libuv, and its TCPStore then refuses the default
/// ("use_libuv was requested but PyTorch was build without libuv support"): dist/process_group.cpp
/// asks for the classic server, the only one 1.13 has.
#define VOLT_TCPSTORE_DEFAULTS_TO_LIBUV VOLT_TORCH_AT_LEAST(2, 4)

/// Whether Gloo's ProcessGroup has a reduce-scatter of one flat tensor (_reduce_scatter_base;
/// checked in 2.6, not assumed for earlier 2.x). 1.13's Gloo has none: dist/process_group.cpp then
/// all-reduces and keeps its slice. 2.6 does the same inside c10d (all-reduce, then a chunk), so
/// the gain is one copy fewer and the work queued on Gloo's thread, not fewer bytes sent.
#define VOLT_GLOO_HAS_REDUCE_SCATTER VOLT_TORCH_AT_LEAST(2, 6)
inline constexpr bool has_gloo_reduce_scatter = VOLT_GLOO_HAS_REDUCE_SCATTER;

/// Turns autocast on for one device type with a lower-precision dtype, and restores on scope exit.
class AutocastGuard {
 public:
  AutocastGuard(torch::DeviceType device, torch::Dtype dtype) : device_(device) {
#if VOLT_TORCH_AT_LEAST(2, 4)
    prev_enabled_ = at::autocast::is_autocast_enabled(device);
    prev_dtype_ = at::autocast::get_autocast_dtype(device);
    at::autocast::set_autocast_enabled(device, true);
    at::autocast::set_autocast_dtype(device, dtype);
#else
    if (device == torch::kCPU) {
      prev_enabled_ = at::autocast::is_cpu_enabled();
      prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    } else {
      prev_enabled_ = at::autocast::is_enabled();
      prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if VOLT_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(device_, prev_enabled_);
    at::autocast::set_autocast_dtype(device_, prev_dtype_);
#else
    if (device_ == torch::kCPU) {
      at::autocast::set_cpu_enabled(prev_enabled_);
      at::autocast::set_autocast_cpu_dtype(prev_dtype_);
    } else {
      at::autocast::set_enabled(prev_enabled_);
      at::autocast::set_autocast_gpu_dtype(prev_dtype_);
    }
#endif
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  torch::DeviceType device_;
  bool prev_enabled_ = false;
  torch::Dtype prev_dtype_ = torch::kBFloat16;
};

/// The dtype autocast casts to on a device type right now, or nullopt when it is off there (what
/// activation checkpointing restores when it recomputes a forward inside backward).
inline c10::optional<torch::Dtype> active_autocast_dtype(torch::DeviceType device) {
#if VOLT_TORCH_AT_LEAST(2, 4)
  if (!at::autocast::is_autocast_enabled(device)) return c10::nullopt;
  return at::autocast::get_autocast_dtype(device);
#else
  if (device == torch::kCPU) {
    if (!at::autocast::is_cpu_enabled()) return c10::nullopt;
    return at::autocast::get_autocast_cpu_dtype();
  }
  if (!at::autocast::is_enabled()) return c10::nullopt;
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

/// Gives a tensor's storage `nbytes` fresh bytes (uninitialised), or frees them with 0, keeping
/// the storage object and every view of it (FSDP: the gathered weights that autograd saved for
/// backward are freed after forward and filled again before backward, in the same storage; what
/// Python's untyped_storage().resize_() does).
inline void resize_storage_bytes(const torch::Tensor& t, size_t nbytes) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  if (nbytes == s->nbytes()) return;
  if (nbytes == 0) {
    s->set_data_ptr_noswap(at::DataPtr(nullptr, t.device()));
  } else {
    s->set_data_ptr_noswap(s->allocator()->allocate(nbytes));
  }
  s->set_nbytes(nbytes);
}

}  // namespace volt::compat

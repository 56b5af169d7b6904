// NF4 (4-bit NormalFloat, QLoRA, Dettmers et al. 2023) with double quantization, laid out as
// bitsandbytes lays it out:
//   * weights flattened row-major and cut into blocks of 64; each block scaled by its absmax m_b
//     and every value replaced by the index of the nearest of 16 code values c_j (quantiles of
//     N(0, 1), normalised to [-1, 1], exactly 0 and +-1 included); two indices a byte, the first
//     value in the high nibble;  w_hat = m_b c_q.
//   * double quantization: the absmax constants, less their mean, are themselves quantized to 8
//     bits with bitsandbytes' signed dynamic map, in blocks of 256 with one fp32 scale each.
//   4 + 8/64 + 32/(64*256) = 4.127 bits a weight, against 16 for bf16.
// The CPU reference (dequantize_nf4) is a plain loop; dequantize_nf4_tensor runs the same
// function with tensor operations on any device (what a GPU without the CUDA kernel uses).
#pragma once

#include <torch/torch.h>

#include <array>
#include <vector>

#include "volt/nn/linear.h"

namespace volt::peft {

/// bitsandbytes' NF4 code book (functional.py, get_4bit_type("nf4")), ascending.
const std::array<float, 16>& nf4_code();
/// The same 16 values constructed from the normal distribution as bitsandbytes'
/// create_normal_map(offset = 0.9677083) does (double precision), to check the table against.
std::array<double, 16> nf4_code_from_normal_quantiles();
/// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 values.
const std::array<float, 256>& dynamic_map_8bit();

struct Nf4Tensor {
  std::vector<int64_t> shape;
  int64_t numel = 0;
  int64_t block_size = 64;         // weights per absmax
  int64_t absmax_block_size = 256;  // absmax constants per fp32 scale (double quantization)
  torch::Tensor codes;              // uint8 (ceil(numel / block_size) * block_size / 2): two codes a byte
  torch::Tensor absmax_codes;       // uint8 (n_blocks): dynamic-map indices of (absmax - offset) / scale
  torch::Tensor absmax_scales;      // fp32 (ceil(n_blocks / absmax_block_size))
  float absmax_offset = 0.0f;       // the mean absmax
  /// Bytes held: codes + absmax codes + scales (+ the offset).
  int64_t nbytes() const;
};

/// Quantizes w (any float dtype; read as fp32) into NF4 with double-quantized absmax constants.
Nf4Tensor quantize_nf4(const torch::Tensor& w, int64_t block_size = 64, int64_t absmax_block_size = 256);
/// The per-block absmax constants, decoded from their 8-bit codes (fp32, CPU or the codes' device).
torch::Tensor dequantize_absmax(const Nf4Tensor& q);
/// CPU reference: the weights back, in `dtype`, shape q.shape.
torch::Tensor dequantize_nf4(const Nf4Tensor& q, torch::ScalarType dtype = torch::kFloat32);
/// The same with tensor operations on the codes' device (bit-identical in fp32 to the loop).
torch::Tensor dequantize_nf4_tensor(const Nf4Tensor& q, torch::ScalarType dtype = torch::kFloat32);

/// A frozen NF4 weight as a module (its codes are buffers, so .to(device) moves them; .to(dtype)
/// leaves them alone: the compute dtype is the input's) and as a Linear's weight source: each
/// forward dequantizes W in x's dtype, and backward dequantizes it again rather than keeping it.
class Nf4WeightImpl : public torch::nn::Module, public nn::LinearImpl::WeightSource {
 public:
  explicit Nf4WeightImpl(Nf4Tensor q);
  torch::Tensor weight(torch::ScalarType dtype) const override;
  torch::Tensor matmul(const torch::Tensor& x) const override;
  const Nf4Tensor& tensor() const { return q_; }

  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

 private:
  Nf4Tensor q_;
};
TORCH_MODULE(Nf4Weight);

/// Replaces a Linear's weight by its NF4 form (registered as child "weight_nf4"); W's storage is
/// released. `w` is the full weight (out, in); by default the Linear's own.
void quantize_linear_nf4(nn::LinearImpl& linear, const torch::Tensor& w = torch::Tensor());

}  // namespace volt::peft

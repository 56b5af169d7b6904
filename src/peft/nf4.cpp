#include "volt/peft/nf4.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "volt/core/check.h"

namespace volt::peft {

namespace {

// Phi^{-1}(p): Acklam's rational approximation (relative error 1e-9), then one Halley step on
// erfc, which brings it to double precision.
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425, hi = 1 - lo;
  double x;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= hi) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

// torch.linspace(start, end, steps) in float32, as bitsandbytes' map constructions call it.
std::vector<float> linspace_f32(float start, float end, int n) {
  std::vector<float> v(static_cast<size_t>(n));
  const float step = (end - start) / static_cast<float>(n - 1);
  const int half = n / 2;
  for (int i = 0; i < n; ++i) {  // as ATen's CPU kernel: from the start up to half, from the end after
    v[static_cast<size_t>(i)] = i < half ? start + step * static_cast<float>(i)
                                         : end - step * static_cast<float>(n - i - 1);
  }
  return v;
}

// The index of the code value nearest x in an ascending table.
template <size_t N>
uint8_t nearest(const std::array<float, N>& table, float x) {
  auto it = std::lower_bound(table.begin(), table.end(), x);
  if (it == table.begin()) return 0;
  if (it == table.end()) return static_cast<uint8_t>(N - 1);
  const auto hi = static_cast<size_t>(it - table.begin());
  return static_cast<uint8_t>((x - table[hi - 1] <= table[hi] - x) ? hi - 1 : hi);
}

}  // namespace

const std::array<float, 16>& nf4_code() {
  static const std::array<float, 16> code = {
      -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
      -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
      0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
      0.7229568362236023f, 1.0f};
  return code;
}

std::array<double, 16> nf4_code_from_normal_quantiles() {
  // create_normal_map(offset=0.9677083, use_extra_value=True): 8 positive quantiles, 7 negative,
  // and 0; the asymmetry gives an exact zero with 16 levels.
  const float offset = 0.9677083f;
  std::vector<double> v;
  const auto pos = linspace_f32(offset, 0.5f, 9), neg = linspace_f32(offset, 0.5f, 8);
  for (int i = 0; i < 8; ++i) v.push_back(normal_quantile(pos[static_cast<size_t>(i)]));
  for (int i = 0; i < 7; ++i) v.push_back(-normal_quantile(neg[static_cast<size_t>(i)]));
  v.push_back(0.0);
  std::sort(v.begin(), v.end());
  const double mx = v.back();
  std::array<double, 16> out{};
  for (size_t i = 0; i < 16; ++i) out[i] = v[i] / mx;
  return out;
}

const std::array<float, 256>& dynamic_map_8bit() {
  static const std::array<float, 256> map = [] {
    // Signed, 7 exponent bits: for exponent i, 2^i fraction means in [0.1, 1] times 10^(i-6), +-.
    std::vector<float> data;
    for (int i = 0; i < 7; ++i) {
      const auto bounds = linspace_f32(0.1f, 1.0f, (1 << i) + 1);
      const float scale = static_cast<float>(std::pow(10.0, -6 + i));
      for (size_t k = 0; k + 1 < bounds.size(); ++k) {
        const float mean = (bounds[k] + bounds[k + 1]) / 2.0f;
        data.push_back(scale * mean);
        data.push_back(-scale * mean);
      }
    }
    data.push_back(0.0f);
    data.push_back(1.0f);
    VOLT_CHECK(data.size() == 256, "[nf4] dynamic map has ", data.size(), " values");
    std::sort(data.begin(), data.end());
    std::array<float, 256> a{};
    std::copy(data.begin(), data.end(), a.begin());
    return a;
  }();
  return map;
}

int64_t Nf4Tensor::nbytes() const {
  return static_cast<int64_t>(codes.nbytes() + absmax_codes.nbytes() + absmax_scales.nbytes() + sizeof(float));
}

Nf4Tensor quantize_nf4(const torch::Tensor& w, int64_t block_size, int64_t absmax_block_size) {
  VOLT_CHECK(block_size > 0 && block_size % 2 == 0 && absmax_block_size > 0, "[nf4] block sizes ", block_size,
             " and ", absmax_block_size, " must be positive (the first even)");
  VOLT_CHECK(w.is_floating_point(), "[nf4] can only quantize floating-point weights, got ", w.scalar_type());
  Nf4Tensor q;
  q.shape = w.sizes().vec();
  q.numel = w.numel();
  q.block_size = block_size;
  q.absmax_block_size = absmax_block_size;
  const auto flat = w.detach().to(torch::kCPU, torch::kFloat32).contiguous().view(-1);
  const float* x = flat.data_ptr<float>();
  const int64_t n = q.numel, blocks = (n + block_size - 1) / block_size;
  q.codes = torch::zeros({blocks * block_size / 2}, torch::kUInt8);
  auto absmax = torch::empty({blocks}, torch::kFloat32);
  uint8_t* codes = q.codes.data_ptr<uint8_t>();
  float* am = absmax.data_ptr<float>();
  const auto& code = nf4_code();
  const uint8_t zero_code = 7;
  at::parallel_for(0, blocks, 64, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t lo = b * block_size, hi = std::min(n, lo + block_size);
      float m = 0.0f;
      for (int64_t i = lo; i < hi; ++i) m = std::max(m, std::fabs(x[i]));
      am[b] = m;
      for (int64_t i = lo; i < lo + block_size; i += 2) {
        auto enc = [&](int64_t j) {
          return j < hi && m > 0.0f ? nearest(code, x[j] / m) : zero_code;
        };
        codes[i / 2] = static_cast<uint8_t>((enc(i) << 4) | enc(i + 1));
      }
    }
  });
  // Double quantization: (absmax - mean) in blocks of absmax_block_size, 8-bit dynamic codes.
  q.absmax_offset = blocks > 0 ? absmax.mean().item<float>() : 0.0f;
  const int64_t groups = (blocks + absmax_block_size - 1) / absmax_block_size;
  q.absmax_codes = torch::empty({blocks}, torch::kUInt8);
  q.absmax_scales = torch::empty({groups}, torch::kFloat32);
  uint8_t* ac = q.absmax_codes.data_ptr<uint8_t>();
  float* sc = q.absmax_scales.data_ptr<float>();
  const auto& dmap = dynamic_map_8bit();
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t lo = g * absmax_block_size, hi = std::min(blocks, lo + absmax_block_size);
    float s = 0.0f;
    for (int64_t b = lo; b < hi; ++b) s = std::max(s, std::fabs(am[b] - q.absmax_offset));
    sc[g] = s;
    for (int64_t b = lo; b < hi; ++b) ac[b] = nearest(dmap, s > 0.0f ? (am[b] - q.absmax_offset) / s : 0.0f);
  }
  return q;
}

torch::Tensor dequantize_absmax(const Nf4Tensor& q) {
  const auto& dmap = dynamic_map_8bit();
  const auto map = torch::from_blob(const_cast<float*>(dmap.data()), {256}, torch::kFloat32)
                       .to(q.absmax_codes.device());
  const int64_t blocks = q.absmax_codes.numel();
  auto scales = q.absmax_scales.repeat_interleave(q.absmax_block_size).slice(0, 0, blocks);
  return map.index_select(0, q.absmax_codes.to(torch::kLong)) * scales + q.absmax_offset;
}

torch::Tensor dequantize_nf4(const Nf4Tensor& q, torch::ScalarType dtype) {
  VOLT_CHECK(q.codes.device().is_cpu(), "[nf4] dequantize_nf4 is the CPU reference; use dequantize_nf4_tensor");
  const auto& dmap = dynamic_map_8bit();
  const auto& code = nf4_code();
  const int64_t blocks = q.absmax_codes.numel(), n = q.numel;
  auto out = torch::empty({n}, torch::kFloat32);
  float* y = out.data_ptr<float>();
  const uint8_t* c = q.codes.data_ptr<uint8_t>();
  const uint8_t* ac = q.absmax_codes.data_ptr<uint8_t>();
  const float* sc = q.absmax_scales.data_ptr<float>();
  at::parallel_for(0, blocks, 16, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float m = dmap[ac[b]] * sc[b / q.absmax_block_size] + q.absmax_offset;
      const int64_t lo = b * q.block_size, hi = std::min(n, lo + q.block_size);
      for (int64_t i = lo; i < hi; ++i) {
        const uint8_t byte = c[i / 2];
        y[i] = code[(i % 2 == 0) ? (byte >> 4) : (byte & 0x0F)] * m;
      }
    }
  });
  return out.view(q.shape).to(dtype);
}

torch::Tensor dequantize_nf4_tensor(const Nf4Tensor& q, torch::ScalarType dtype) {
  const auto& code = nf4_code();
  const auto table = torch::from_blob(const_cast<float*>(code.data()), {16}, torch::kFloat32).to(q.codes.device());
  const auto bytes = q.codes.to(torch::kLong);
  const auto idx = torch::stack({bytes.bitwise_right_shift(4), bytes.bitwise_and(15)}, 1).view({-1, q.block_size});
  const auto absmax = dequantize_absmax(q).unsqueeze(1);
  return (table.index_select(0, idx.view(-1)).view(idx.sizes()) * absmax).view(-1).slice(0, 0, q.numel)
      .view(q.shape).to(dtype);
}

namespace {

// y = x W^T with W dequantized from its NF4 codes in forward, and again in backward for
// dL/dx = dL/dy W: the graph keeps only the 4-bit codes. W is frozen: no gradient for it.
struct Nf4Matmul : torch::autograd::Function<Nf4Matmul> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, const Nf4WeightImpl* source) {
    ctx->saved_data["source"] = reinterpret_cast<int64_t>(source);
    torch::NoGradGuard no_grad;
    return torch::matmul(x, source->weight(x.scalar_type()).t());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto* source = reinterpret_cast<const Nf4WeightImpl*>(ctx->saved_data["source"].toInt());
    const auto& g = grad[0];
    return {torch::matmul(g, source->weight(g.scalar_type())), torch::Tensor()};
  }
};

}  // namespace

Nf4WeightImpl::Nf4WeightImpl(Nf4Tensor q) : q_(std::move(q)) {
  q_.codes = register_buffer("codes", q_.codes);
  q_.absmax_codes = register_buffer("absmax_codes", q_.absmax_codes);
  q_.absmax_scales = register_buffer("absmax_scales", q_.absmax_scales);
}

torch::Tensor Nf4WeightImpl::weight(torch::ScalarType dtype) const {
  // The buffers may have been moved (to(device) replaces their data in place).
  return q_.codes.device().is_cpu() ? dequantize_nf4(q_, dtype) : dequantize_nf4_tensor(q_, dtype);
}

torch::Tensor Nf4WeightImpl::matmul(const torch::Tensor& x) const {
  // The module outlives the graph built here (it is part of the model being trained).
  return Nf4Matmul::apply(x, this);
}

void Nf4WeightImpl::to(torch::Device device, torch::Dtype, bool non_blocking) { to(device, non_blocking); }
void Nf4WeightImpl::to(torch::Dtype, bool) {}  // codes stay codes; the compute dtype is x's
void Nf4WeightImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
}

void quantize_linear_nf4(nn::LinearImpl& linear, const torch::Tensor& w) {
  torch::Tensor src = w.defined() ? w : linear.weight;
  VOLT_CHECK(src.dim() == 2 && src.size(0) == linear.out_features && src.size(1) == linear.in_features,
             "[nf4] weight of shape ", src.sizes(), " for a Linear(", linear.in_features, " -> ",
             linear.out_features, ")");
  auto q = Nf4Weight(quantize_nf4(src));
  linear.register_module("weight_nf4", q);
  linear.weight_source = std::shared_ptr<nn::LinearImpl::WeightSource>(q.ptr(), q.ptr().get());
  torch::NoGradGuard no_grad;
  linear.weight.set_data(torch::empty({0}, linear.weight.options()));
  linear.weight.set_requires_grad(false);
}

}  // namespace volt::peft

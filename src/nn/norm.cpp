#include "volt/nn/norm.h"

#include "volt/core/check.h"
#include "volt/nn/linear.h"
#include "volt/nn/reduce_dtype.h"

namespace volt::nn {

NormImpl::NormImpl(int64_t dim_, NormOptions o) : options(std::move(o)), dim(dim_) {
  VOLT_CHECK(options.kind == "layernorm" || options.kind == "rmsnorm", "[norm] kind '",
             options.kind, "' is not one of layernorm, rmsnorm");
  weight = register_parameter("weight", empty_parameter({dim}));
  if (options.kind == "layernorm" && options.bias)
    bias = register_parameter("bias", empty_parameter({dim}));
  reset_parameters();
}

void NormImpl::reset_parameters() {
  if (weight.is_meta()) return;
  torch::NoGradGuard no_grad;
  weight.fill_(options.unit_offset ? 0.0 : 1.0);  // the identity at init either way
  if (bias.defined()) bias.zero_();
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  if (options.kind == "layernorm") return torch::layer_norm(x, {dim}, weight, bias, options.eps);
  const auto fp = reduce_dtype(x.scalar_type());
  const auto h = x.to(fp);
  const auto normed = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + options.eps);
  if (options.unit_offset) return (normed * (1.0 + weight.to(fp))).to(x.scalar_type());
  return weight * normed.to(x.scalar_type());
}

}  // namespace volt::nn

#include "volt/nn/linear.h"

#include <cmath>

#include "volt/core/check.h"

namespace volt::nn {

namespace {
thread_local bool defer_weights = false;
thread_local bool meta_parameters = false;
}  // namespace

DeferLinearWeights::DeferLinearWeights(bool on) : previous_(defer_weights) {
  defer_weights = defer_weights || on;
}
DeferLinearWeights::~DeferLinearWeights() { defer_weights = previous_; }
bool DeferLinearWeights::active() { return defer_weights; }

MetaParameters::MetaParameters() : previous_(meta_parameters) { meta_parameters = true; }
MetaParameters::~MetaParameters() { meta_parameters = previous_; }
bool MetaParameters::active() { return meta_parameters; }

torch::Tensor empty_parameter(c10::IntArrayRef shape) {
  return torch::empty(shape,
                      torch::TensorOptions().device(meta_parameters ? torch::kMeta : torch::kCPU));
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool use_bias)
    : in_features(in), out_features(out) {
  const bool defer = DeferLinearWeights::active() && !MetaParameters::active();
  const bool meta = MetaParameters::active();
  weight = register_parameter("weight", defer ? torch::empty({0}) : empty_parameter({out, in}));
  if (use_bias) bias = register_parameter("bias", empty_parameter({out}));
  if (meta) return;  // shapes only: nothing to draw
  torch::NoGradGuard no_grad;
  if (!defer) torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
    bias.uniform_(-bound, bound);
  }
}

void LinearImpl::materialize() {
  if (!deferred()) return;
  torch::NoGradGuard no_grad;
  weight.set_data(torch::empty({out_features, in_features}, weight.options()));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

torch::Tensor LinearImpl::effective_weight(torch::ScalarType dtype) const {
  return weight_source ? weight_source->weight(dtype) : weight;
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  VOLT_CHECK(!deferred(), "[linear] a (", out_features, ", ", in_features,
             ") weight was never loaded (made under DeferLinearWeights)");
  torch::Tensor y;
  if (weight_source) {
    y = weight_source->matmul(x);
    if (bias.defined()) y = y + bias;
  } else {
    y = torch::linear(x, weight, bias);
  }
  if (delta) {
    auto d = (*delta)(x);
    if (d.defined()) y = y + d;
  }
  return y;
}

}  // namespace volt::nn

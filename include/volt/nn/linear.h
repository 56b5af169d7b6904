// volt's Linear: y = x W^T + b with W (out, in), as torch::nn::Linear, and two places where
// fine-tuning methods plug in without the model knowing (peft/): an additive `delta` on the
// output (LoRA's (alpha / r) B A x, with its A and B registered on this module so their names are
// PEFT's, "q_proj.lora_A.weight") and a `weight_source` that produces W on demand (QLoRA's 4-bit
// NF4 storage, dequantized in the compute dtype for each forward and backward).
#pragma once

#include <torch/torch.h>

#include <memory>

namespace volt::nn {

class LinearImpl : public torch::nn::Module {
 public:
  /// W ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's default, via kaiming_uniform(a = sqrt(5))), b likewise.
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  torch::Tensor forward(const torch::Tensor& x);
  /// W as the forward uses it: the parameter, or what weight_source produces.
  torch::Tensor effective_weight() const;

  /// Something added to the output: y = x W^T + b + delta(x).
  struct Delta {
    virtual ~Delta() = default;
    virtual torch::Tensor operator()(const torch::Tensor& x) = 0;
  };
  /// Where W comes from when it is not the `weight` parameter (which is then empty and frozen).
  struct WeightSource {
    virtual ~WeightSource() = default;
    virtual torch::Tensor weight() const = 0;  // (out, in), in the compute dtype
  };

  int64_t in_features, out_features;
  torch::Tensor weight;  // (out, in)
  torch::Tensor bias;    // (out) or undefined
  std::shared_ptr<Delta> delta;
  std::shared_ptr<WeightSource> weight_source;
};
TORCH_MODULE(Linear);

}  // namespace volt::nn

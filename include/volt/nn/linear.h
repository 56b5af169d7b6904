// volt's Linear: y = x W^T + b with W (out, in), as torch::nn::Linear, and two places where
// fine-tuning methods plug in without the model knowing (peft/): an additive `delta` on the
// output (LoRA's (alpha / r) B A x, with its A and B registered on this module so their names are
// PEFT's, "q_proj.lora_A.weight") and a `weight_source` that stands in for W (QLoRA's 4-bit NF4
// storage, dequantized in the compute dtype for each forward and again in backward).
#pragma once

#include <torch/torch.h>

#include <memory>

namespace volt::nn {

/// While one is alive (on this thread), new Linear layers leave W unallocated (0 elements) and
/// uninitialised: a loader fills it, or replaces it by a weight_source, one layer at a time, so a
/// model that is quantized while it loads never holds all its 16- or 32-bit weights at once.
class DeferLinearWeights {
 public:
  explicit DeferLinearWeights(bool on = true);
  ~DeferLinearWeights();
  DeferLinearWeights(const DeferLinearWeights&) = delete;
  DeferLinearWeights& operator=(const DeferLinearWeights&) = delete;
  static bool active();

 private:
  bool previous_;
};

/// While one is alive (on this thread), volt's layers (Linear, Embedding, Norm) make their
/// parameters on the meta device: real shapes, no storage, no values. A model built this way costs
/// nothing, so its parameter count and layer shapes can be read off the module itself, for any
/// size (`volt memory --model llama-3.1-70b`).
class MetaParameters {
 public:
  MetaParameters();
  ~MetaParameters();
  MetaParameters(const MetaParameters&) = delete;
  MetaParameters& operator=(const MetaParameters&) = delete;
  static bool active();

 private:
  bool previous_;
};

/// A new parameter tensor of `shape`: on the meta device under MetaParameters, else on the CPU.
torch::Tensor empty_parameter(c10::IntArrayRef shape);

class LinearImpl : public torch::nn::Module {
 public:
  /// W ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's default, via kaiming_uniform(a = sqrt(5))), b
  /// likewise.
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  torch::Tensor forward(const torch::Tensor& x);

  /// Something added to the output: y = x W^T + b + delta(x). An undefined result adds nothing
  /// (a merged LoRA).
  struct Delta {
    virtual ~Delta() = default;
    virtual torch::Tensor operator()(const torch::Tensor& x) = 0;
  };
  /// What stands in for W when it is not the `weight` parameter (which then has 0 elements).
  struct WeightSource {
    virtual ~WeightSource() = default;
    /// W (out, in) in `dtype`, detached.
    virtual torch::Tensor weight(torch::ScalarType dtype) const = 0;
    /// x W^T, differentiable in x, without keeping W for backward.
    virtual torch::Tensor matmul(const torch::Tensor& x) const = 0;
  };

  /// W as the forward uses it (from the source, in dtype, when there is one).
  torch::Tensor effective_weight(torch::ScalarType dtype = torch::kFloat32) const;
  /// Whether W is still to be loaded (made under DeferLinearWeights, no source yet).
  bool deferred() const {
    return !weight_source && weight.numel() == 0 && in_features * out_features > 0;
  }
  /// Allocates and initialises a deferred W.
  void materialize();

  int64_t in_features, out_features;
  torch::Tensor weight;  // (out, in); 0 elements when deferred or replaced by weight_source
  torch::Tensor bias;    // (out) or undefined
  std::shared_ptr<Delta> delta;
  std::shared_ptr<WeightSource> weight_source;
};
TORCH_MODULE(Linear);

}  // namespace volt::nn

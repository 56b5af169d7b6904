// The LightningModule for causal language modelling: next-token cross-entropy on a CausalLM,
// AdamW with two weight-decay groups and a per-step LR schedule. What `volt fit` trains.
#pragma once

#include <memory>

#include "volt/models/causal_lm.h"
#include "volt/tokenizers/tokenizer.h"
#include "volt/train/lightning_module.h"

namespace volt {

class LMModule : public LightningModule {
 public:
  LMModule(const ModelConfig& config, AdamWOptions optimizer,
           std::shared_ptr<LRScheduler> scheduler, std::shared_ptr<Tokenizer> tokenizer);

  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override;
  void validation_step(const Batch& batch, int64_t batch_idx) override;
  Optimizers configure_optimizers() override;
  /// The batch's target tokens (labels other than -100): the loss is their mean.
  double loss_weight(const Batch& batch) const override;
  /// A Hugging Face directory: config.json, model.safetensors, tokenizer.json.
  void save_pretrained(const std::string& dir) const override;
  void load_pretrained_weights(const std::string& dir) override;

  CausalLM lm{nullptr};
  std::shared_ptr<Tokenizer> tokenizer;

 private:
  AdamWOptions optimizer_;
  std::shared_ptr<LRScheduler> scheduler_;
};

}  // namespace volt

// The LightningModule for causal language modelling: next-token cross-entropy on a CausalLM,
// AdamW with two weight-decay groups and a per-step LR schedule. What `volt fit` trains.
#pragma once

#include <memory>
#include <optional>

#include "volt/models/causal_lm.h"
#include "volt/peft/lora.h"
#include "volt/tokenizers/tokenizer.h"
#include "volt/train/lightning_module.h"

namespace volt {

class LMModule : public LightningModule {
 public:
  LMModule(const ModelConfig& config, AdamWOptions optimizer,
           std::shared_ptr<LRScheduler> scheduler, std::shared_ptr<Tokenizer> tokenizer);

  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override;
  void validation_step(const Batch& batch, int64_t batch_idx) override;
  /// test_loss, as validation_step's val_loss.
  void test_step(const Batch& batch, int64_t batch_idx) override;
  /// (B, 2) float64: each row's mean cross-entropy over its target tokens, and their count.
  torch::Tensor predict_step(const Batch& batch, int64_t batch_idx) override;
  Optimizers configure_optimizers() override;
  /// The batch's target tokens (labels other than -100): the loss is their mean.
  double loss_weight(const Batch& batch) const override;
  /// A Hugging Face directory: config.json, model.safetensors, tokenizer.json; with LoRA, PEFT's
  /// adapter_config.json and adapter_model.safetensors (the base is not copied) and tokenizer.json.
  void save_pretrained(const std::string& dir) const override;
  /// What save_pretrained wrote (with LoRA: the adapter weights).
  void load_pretrained_weights(const std::string& dir) override;
  /// config.json and tokenizer.json.
  void save_pretrained_metadata(const std::string& dir) const override;
  std::vector<torch::nn::Module*> blocks() override { return lm->blocks(); }
  void set_block_wrapper(nn::BlockWrapper w) override { lm->set_block_wrapper(std::move(w)); }

  /// The base weights from a Hugging Face directory. nf4: the blocks' Linear layers become 4-bit
  /// NF4 as they are read (QLoRA; the module must have been made under nn::DeferLinearWeights).
  void load_base_weights(const std::string& dir, bool nf4 = false);
  /// Adds LoRA adapters and freezes the rest (after the base weights are loaded).
  void enable_lora(const peft::LoraConfig& cfg);
  const std::optional<peft::LoraConfig>& lora() const { return lora_; }

  CausalLM lm{nullptr};
  std::shared_ptr<Tokenizer> tokenizer;

 private:
  AdamWOptions optimizer_;
  std::shared_ptr<LRScheduler> scheduler_;
  std::optional<peft::LoraConfig> lora_;
};

}  // namespace volt

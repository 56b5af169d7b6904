#include "volt/train/lm_module.h"

#include <filesystem>

#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"
#include "volt/train/trainer.h"

namespace volt {

LMModule::LMModule(const ModelConfig& config, AdamWOptions optimizer,
                   std::shared_ptr<LRScheduler> scheduler, std::shared_ptr<Tokenizer> tok)
    : tokenizer(std::move(tok)), optimizer_(optimizer), scheduler_(std::move(scheduler)) {
  lm = register_module("lm", CausalLM(config));
}

torch::Tensor LMModule::training_step(const Batch& batch, int64_t) {
  // document_ids (packed rows) keeps documents from attending to each other.
  auto logits = lm(batch.input_ids, batch.position_ids, nullptr, batch.document_ids);  // (B, T, V)
  auto loss = causal_lm_loss(logits, batch.labels);
  log("train_loss", loss);
  // A mixture of experts also learns to spread its tokens: the router's load-balancing loss,
  // weighted by the config's router_aux_loss_coef (transformers' MoE training loss).
  const double coef = lm->config().router_aux_loss_coef;
  if (coef > 0) {
    const auto aux = lm->router_aux_loss();
    if (aux.defined()) {
      log("router_aux_loss", aux);
      loss = loss + coef * aux;
    }
  }
  return loss;
}

void LMModule::validation_step(const Batch& batch, int64_t) {
  auto logits = lm(batch.input_ids, batch.position_ids, nullptr, batch.document_ids);
  auto loss = causal_lm_loss(logits, batch.labels);
  LogOptions o;
  o.prog_bar = true;
  o.batch_size = batch.batch_size();
  log("val_loss", loss, o);
}

void LMModule::test_step(const Batch& batch, int64_t) {
  auto logits = lm(batch.input_ids, batch.position_ids, nullptr, batch.document_ids);
  LogOptions o;
  o.batch_size = batch.batch_size();
  log("test_loss", causal_lm_loss(logits, batch.labels), o);
}

torch::Tensor LMModule::predict_step(const Batch& batch, int64_t) {
  auto logits = lm(batch.input_ids, batch.position_ids, nullptr, batch.document_ids);  // (B, T, V)
  const int64_t v = logits.size(-1);
  auto nll = torch::nn::functional::cross_entropy(
                 logits.reshape({-1, v}).to(torch::kFloat32), batch.labels.reshape({-1}),
                 torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(
                     torch::kNone))
                 .reshape(batch.labels.sizes())
                 .to(torch::kFloat64);                                   // (B, T), 0 where ignored
  const auto count = (batch.labels != -100).sum(1).to(torch::kFloat64);  // (B)
  return torch::stack({nll.sum(1) / count.clamp_min(1), count}, 1);      // (B, 2)
}

double LMModule::loss_weight(const Batch& batch) const {
  return static_cast<double>(batch.num_target_tokens());
}

Optimizers LMModule::configure_optimizers() {
  auto groups = weight_decay_groups(*this, optimizer_.weight_decay, optimizer_.decay_embeddings);
  // A sharding strategy (fsdp) puts its local shards in place of the full parameters.
  if (trainer()) groups = trainer()->strategy().optimizer_groups(std::move(groups));
  return {std::make_shared<AdamW>(std::move(groups), optimizer_), scheduler_};
}

void LMModule::save_pretrained_metadata(const std::string& dir) const {
  save_model_config(lm->config(), dir);
  if (tokenizer) tokenizer->save(dir);
}

void LMModule::save_pretrained(const std::string& dir) const {
  if (lora_) {
    peft::save_adapter(*const_cast<CausalLMImpl*>(lm.get()), *lora_,
                       dir);  // named_parameters() is not const
  } else {
    volt::save_pretrained(*lm, dir);
  }
  if (tokenizer) tokenizer->save(dir);
}

void LMModule::load_pretrained_weights(const std::string& dir) {
  if (lora_) {
    peft::load_adapter_weights(*lm, dir);
  } else {
    load_hf_safetensors(*lm, pretrained_weight_files(dir));
  }
}

void LMModule::load_base_weights(const std::string& dir, bool nf4) {
  if (nf4) {
    peft::load_pretrained_nf4(*lm, dir, {"all-linear"});
  } else {
    load_hf_safetensors(*lm, pretrained_weight_files(dir));
  }
}

void LMModule::enable_lora(const peft::LoraConfig& cfg) {
  peft::inject_lora(*lm, cfg);
  lora_ = cfg;
}

}  // namespace volt

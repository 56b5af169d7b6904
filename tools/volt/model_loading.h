// What every subcommand that runs a model (generate, score, validate, test, predict, convert,
// merge) loads, the same way: a Hugging Face directory (single file or shards), a volt checkpoint,
// an fsdp run's sharded checkpoint (consolidated in memory), or a PEFT LoRA adapter on its base.
#pragma once

#include <string>

#include "volt/models/causal_lm.h"

namespace volt::cli {

/// The model of `dir` (config.json + weights, or fsdp shards). With `adapter` (a PEFT directory),
/// its LoRA is loaded on top; `merge` folds it into the weights (same logits, no adapter matmuls).
/// `dir` may be empty when the adapter's config names its base.
CausalLM load_model(const std::string& dir, const std::string& adapter = "", bool merge = true);
/// The base model directory: `dir`, or the base an adapter names when dir is empty. A LoRA
/// checkpoint given as the model (adapter files, no config.json) becomes `adapter`, its base the
/// model. Errors name `who` (e.g. "[generate]").
std::string base_model_dir(const std::string& dir, std::string& adapter, const std::string& who);
/// The directory whose tokenizer goes with this model: the adapter's when it carries one (a volt
/// LoRA checkpoint does), else the model's.
std::string tokenizer_dir(const std::string& dir, const std::string& adapter);
/// Whether dir is an fsdp run's sharded checkpoint.
bool is_sharded_checkpoint(const std::string& dir);
/// Copies the weights of a checkpoint (full, sharded, or a LoRA adapter directory) into `model`
/// (the "lm." prefix of a LMModule's names is handled by the caller).
void load_sharded_weights(CausalLMImpl& model, const std::string& dir);

}  // namespace volt::cli

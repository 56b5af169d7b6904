// Builds what `volt fit`, `validate`, `test` and `predict` run from a LightningCLI-style config:
// the Trainer's options and callbacks, the DataModule and the language-model LightningModule.
// Two phases: read_recipe reads and checks every section (nothing is loaded, so --print_config is
// instant and a typo fails before any data is read); build_recipe then builds the parts.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volt/core/config.h"
#include "volt/data/llm_datamodule.h"
#include "volt/data/sft_datamodule.h"
#include "volt/data/text_datamodule.h"
#include "volt/dist/fsdp.h"
#include "volt/peft/lora.h"
#include "volt/train/callbacks.h"
#include "volt/train/lm_module.h"
#include "volt/train/trainer.h"

namespace volt::cli {

/// What a recipe's sections say, read and checked.
struct RecipeSpec {
  std::string run_name;
  TrainerOptions trainer;
  std::string strategy = "single";  // single | ddp | fsdp, decided here once
  int64_t world_size = 1;           // processes of a ddp / fsdp run
  dist::FsdpOptions fsdp;
  ModelConfig model;       // vocab_size 0: the tokenizer's
  std::string pretrained;  // model.from_pretrained
  bool activation_checkpointing = false;
  std::string peft_type;  // "", lora, qlora
  peft::LoraConfig lora;
  std::string data_module;  // text | llm | sft
  TextDataOptions text;
  LLMDataOptions llm;
  SFTDataOptions sft;
  AdamWOptions adamw;
  std::shared_ptr<LRScheduler> scheduler;
  ModelCheckpointOptions checkpoint;
  std::optional<EarlyStoppingOptions> early_stopping;
};

struct Recipe {
  TrainerOptions trainer;
  std::vector<std::shared_ptr<Callback>> callbacks;
  std::shared_ptr<LightningDataModule> data;  // set up, with its tokenizer
  std::shared_ptr<Tokenizer> tokenizer;
  std::shared_ptr<LMModule> module;
  std::string run_name;
};

/// Reads every section and checks for unknown keys; records the values used (defaults included)
/// in config.resolved().
RecipeSpec read_recipe(Config& config);
/// read_recipe, then sets up the data (the model's vocabulary comes from its tokenizer) and builds
/// the module. `tokenizer_dir` (a checkpoint) overrides the data's tokenizer.
Recipe build_recipe(Config& config, const std::string& tokenizer_dir = "");

/// The `data:` section alone with `data.module: llm` (what `volt data` works on): defaults for
/// block_size and seed come from the model and trainer sections. Not prepared yet.
std::shared_ptr<LLMDataModule> build_llm_data(Config& config);

/// data.module of a config ("text" when absent).
std::string data_module_name(Config& config);
/// The `data:` section alone with `data.module: sft` (what `volt data stats` works on), with the
/// tokenizer of model.from_pretrained when there is one. Not prepared yet.
std::shared_ptr<SFTDataModule> build_sft_data(Config& config);

/// The config options of fit, validate, test, predict, bench and data: --config (repeatable:
/// merged in order, later files winning, as LightningCLI does) and --print_config.
struct ConfigArgs {
  std::vector<std::string> configs;
  bool print_config = false;
};
void add_config_options(CLI::App& app, ConfigArgs& args, const std::string& help);
/// The files merged in order, then the command line's overrides; a usage error without --config.
Config load_config(const CLI::App& app, const ConfigArgs& args);
/// The same from explicit paths and overrides (volt bench's grid points).
Config load_config(const std::vector<std::string>& paths,
                   const std::vector<std::string>& overrides);
/// With --print_config: reads the recipe, prints the resolved config (every default filled in)
/// and returns true (the subcommand then exits 0 without running).
bool print_config_if_asked(Config& config, const ConfigArgs& args);

/// A fresh run directory under root, claimed atomically: root/name, or root/name-v1, -v2, ... if
/// taken (two fits started at once get two directories).
std::string fresh_run_dir(const std::string& root, const std::string& name);
/// --ckpt_path last: the `last` checkpoint of the newest run named `name` under root (name,
/// name-v1, ...: the one whose last checkpoint was written most recently).
std::string newest_last_checkpoint(const std::string& root, const std::string& name);

}  // namespace volt::cli

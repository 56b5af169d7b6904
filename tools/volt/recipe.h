// Builds what `volt fit` and `volt validate` run from a LightningCLI-style config: the Trainer's
// options and callbacks, the text DataModule and the language-model LightningModule.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "volt/core/config.h"
#include "volt/data/llm_datamodule.h"
#include "volt/data/text_datamodule.h"
#include "volt/train/callbacks.h"
#include "volt/train/lm_module.h"
#include "volt/train/trainer.h"

namespace volt::cli {

struct Recipe {
  TrainerOptions trainer;
  std::vector<std::shared_ptr<Callback>> callbacks;
  std::shared_ptr<LightningDataModule> data;  // set up, with its tokenizer
  std::shared_ptr<Tokenizer> tokenizer;
  std::shared_ptr<LMModule> module;
  std::string run_name;
};

/// Reads every section, checks for unknown keys, sets up the data (the model's vocabulary comes
/// from its tokenizer) and builds the module. `tokenizer_dir` (a checkpoint) overrides the data's.
Recipe build_recipe(Config& config, const std::string& tokenizer_dir = "");

/// The `data:` section alone with `data.module: llm` (what `volt data` works on): defaults for
/// block_size and seed come from the model and trainer sections. Not prepared yet.
std::shared_ptr<LLMDataModule> build_llm_data(Config& config);

/// Loads the config file and applies `--a.b=c` overrides.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

/// A fresh run directory under root: root/name, or root/name-v1, -v2, ... if taken.
std::string fresh_run_dir(const std::string& root, const std::string& name);

}  // namespace volt::cli

// What validate, test and predict share: the recipe (its data gives the split), the checkpoint to
// evaluate ("last" resolves as in fit; sharded and LoRA checkpoints load too), and a clear word
// when there is none: the recipe's initial weights are then evaluated, random unless the recipe
// has model.from_pretrained.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "recipe.h"

namespace volt::cli {

struct EvalArgs {
  ConfigArgs config;
  std::string ckpt_path;
  bool json = false;
};
void add_eval_options(CLI::App& app, EvalArgs& args, const std::string& what);

/// The recipe built for evaluation (no checkpoints, no logger, no progress bar) with the
/// checkpoint's weights loaded. nullopt after --print_config.
std::optional<Recipe> prepare_evaluation(const CLI::App& app, const EvalArgs& args,
                                         const std::string& who);

}  // namespace volt::cli

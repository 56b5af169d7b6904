#include "evaluation.h"

#include <cstdio>
#include <filesystem>

#include "model_loading.h"
#include "volt/core/check.h"

namespace volt::cli {

namespace fs = std::filesystem;

void add_eval_options(CLI::App& app, EvalArgs& a, const std::string& what) {
  add_config_options(app, a.config, "YAML recipe (its data section gives the " + what + ")");
  app.add_option("--ckpt_path,--ckpt-path", a.ckpt_path,
                 "checkpoint directory whose weights to evaluate, or 'last' (the newest run of the "
                 "recipe's name)");
  app.add_flag("--json", a.json, "print the result as JSON");
  app.footer(
      "Without --ckpt_path the recipe's initial weights are evaluated: random, unless it sets "
      "model.from_pretrained. Overrides as for volt fit: --data.batch_size=8 ...");
}

std::optional<Recipe> prepare_evaluation(const CLI::App& app, const EvalArgs& a,
                                         const std::string& who) {
  Config config = load_config(app, a.config);
  if (print_config_if_asked(config, a.config)) return std::nullopt;
  std::string ckpt = a.ckpt_path;
  if (ckpt == "last") {
    const RecipeSpec spec = read_recipe(config);
    ckpt = newest_last_checkpoint(spec.trainer.default_root_dir(), spec.run_name);
  }
  VOLT_CHECK(ckpt.empty() || fs::is_directory(ckpt), who, " --ckpt_path ", ckpt,
             ": no such directory");
  config.set("trainer.enable_checkpointing", "false");
  config.set("trainer.logger", "false");
  Recipe r = build_recipe(config, ckpt);
  if (ckpt.empty()) {
    std::fprintf(
        stderr, "%s no --ckpt_path: evaluating the recipe's initial weights (%s)\n", who.c_str(),
        std::as_const(config).root()["model"]["from_pretrained"] ? "model.from_pretrained's"
                                                                 : "random");
  } else if (is_sharded_checkpoint(ckpt)) {
    load_sharded_weights(*r.module->lm, ckpt);
  } else {
    r.module->load_pretrained_weights(ckpt);
  }
  r.trainer.enable_progress_bar(false);
  r.trainer.enable_model_summary(false);
  return r;
}

}  // namespace volt::cli

// volt validate --config FILE [--ckpt_path DIR] [--section.key=value ...]
#include "commands.h"
#include "overrides.h"
#include "recipe.h"

namespace volt::cli {

Action add_validate(CLI::App& app) {
  struct Args {
    std::string config, ckpt_path;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  app.add_option("-c,--config", args->config, "YAML recipe (its data section gives the validation set)")
      ->required();
  app.add_option("--ckpt_path,--ckpt-path", args->ckpt_path, "checkpoint directory whose weights to evaluate");
  app.add_flag("--json", args->json, "print the metrics as one JSON object");
  app.allow_extras();
  return [&app, args]() {
    Config config = load_config(args->config, collect_overrides(app.remaining()));
    config.set("trainer.enable_checkpointing", "false");
    config.set("trainer.logger", "false");
    Recipe r = build_recipe(config, args->ckpt_path);
    if (!args->ckpt_path.empty()) r.module->load_pretrained_weights(args->ckpt_path);
    r.trainer.enable_progress_bar(false);
    Trainer trainer(r.trainer, {});
    const auto metrics = trainer.validate(*r.module, *r.data);
    if (args->json) {
      nlohmann::json j(metrics);
      std::printf("%s\n", j.dump().c_str());
    } else {
      for (const auto& [k, v] : metrics) std::printf("%s %.6f\n", k.c_str(), v);
    }
    return 0;
  };
}

}  // namespace volt::cli

// volt validate --config FILE [--ckpt_path DIR|last] [--json] [--section.key=value ...]
#include "commands.h"
#include "evaluation.h"

namespace volt::cli {

Action add_validate(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  add_eval_options(app, *args, "validation set");
  return [&app, args]() {
    auto r = prepare_evaluation(app, *args, "[validate]");
    if (!r) return 0;
    Trainer trainer(r->trainer, {});
    const auto metrics = trainer.validate(*r->module, *r->data);
    if (args->json) {
      std::printf("%s\n", nlohmann::json(metrics).dump().c_str());
    } else {
      for (const auto& [k, v] : metrics) std::printf("%s %.6f\n", k.c_str(), v);
    }
    return 0;
  };
}

}  // namespace volt::cli

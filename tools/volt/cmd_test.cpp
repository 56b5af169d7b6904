// volt test --config FILE --ckpt_path DIR|last [--json]: LightningCLI's test, the loss (and
// perplexity) on the data's test split.
#include <cmath>

#include "commands.h"
#include "evaluation.h"

namespace volt::cli {

Action add_test(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  add_eval_options(app, *args, "test split: data.module llm with data.test_fraction > 0");
  return [&app, args]() {
    auto r = prepare_evaluation(app, *args, "[test]");
    if (!r) return 0;
    Trainer trainer(r->trainer, {});
    auto metrics = trainer.test(*r->module, *r->data);
    if (auto it = metrics.find("test_loss"); it != metrics.end())
      metrics["test_ppl"] = std::exp(it->second);
    if (args->json) {
      std::printf("%s\n", nlohmann::json(metrics).dump().c_str());
    } else {
      for (const auto& [k, v] : metrics) std::printf("%s %.6f\n", k.c_str(), v);
    }
    return 0;
  };
}

}  // namespace volt::cli

// volt predict --config FILE --ckpt_path DIR|last [--output FILE.jsonl]: LightningCLI's predict.
// For a language model, one JSON line per row of the predict split (the test split, else the
// validation split): {"batch", "row", "tokens" (targets scored), "mean_nll", "perplexity"}.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "evaluation.h"
#include "volt/core/atomic_file.h"

namespace volt::cli {

Action add_predict(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto output = std::make_shared<std::string>();
  add_eval_options(app, *args, "predict split: the test split, else the validation split");
  app.add_option("--output", *output, "write the JSON lines here (default: stdout)");
  return [&app, args, output]() {
    auto r = prepare_evaluation(app, *args, "[predict]");
    if (!r) return 0;
    Trainer trainer(r->trainer, {});
    const auto batches = trainer.predict(*r->module, *r->data);
    std::string lines;
    for (size_t b = 0; b < batches.size(); ++b) {
      const auto rows = batches[b].to(torch::kFloat64).contiguous();
      for (int64_t i = 0; i < rows.size(0); ++i) {
        const double nll = rows[i][0].item<double>(), n = rows[i][1].item<double>();
        lines += nlohmann::json{{"batch", b},
                                {"row", i},
                                {"tokens", static_cast<int64_t>(n)},
                                {"mean_nll", nll},
                                {"perplexity", std::exp(nll)}}
                     .dump() +
                 "\n";
      }
    }
    if (output->empty()) {
      std::fwrite(lines.data(), 1, lines.size(), stdout);
    } else {
      write_file_atomic(*output, lines);
      std::fprintf(stderr, "[predict] %zu batches written to %s\n", batches.size(),
                   output->c_str());
    }
    return 0;
  };
}

}  // namespace volt::cli

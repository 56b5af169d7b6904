// volt merge --model DIR --adapter DIR --out DIR
//   W = W0 + (alpha / r) B A for every adapter of a PEFT LoRA directory (ours or PEFT's), written
//   as a plain Hugging Face model (config.json, model.safetensors, the base's tokenizer) that
//   transformers and `volt generate` load with no adapter code.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "volt/core/atomic_file.h"
#include "volt/core/check.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace fs = std::filesystem;

Action add_merge(CLI::App& app) {
  struct Args {
    std::string model, adapter, out;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--model", a->model,
                 "the base model directory (default: the adapter's base_model_name_or_path)");
  app.add_option("--adapter", a->adapter, "a LoRA adapter directory (adapter_config.json, adapter_model.safetensors)")
      ->required();
  app.add_option("--out", a->out, "the merged model's directory")->required();
  return [a]() {
    const auto cfg = peft::read_adapter_config(a->adapter);
    const std::string base = !a->model.empty() ? a->model : cfg.base_model_name_or_path;
    VOLT_CHECK(!base.empty(), "[merge] ", a->adapter, "/adapter_config.json names no base model: pass --model DIR");
    auto model = from_pretrained(base);
    peft::load_adapter(*model, a->adapter);
    peft::merge_and_unload(*model);
    StagedDirectory out(a->out);  // nothing half-written under --out if this fails
    save_pretrained(*model, out.staging_path());
    const fs::path b(base);
    if (fs::exists(b / "tokenizer.json") || fs::exists(b / "tokenizer.model") || fs::exists(b / "vocab.json")) {
      load_tokenizer(base)->save(out.staging_path());
    }
    out.commit();
    std::printf("%s: %s + %s (r %lld, alpha %g, %s), merged\n", a->out.c_str(), base.c_str(), a->adapter.c_str(),
                static_cast<long long>(cfg.r), cfg.alpha, cfg.use_rslora ? "rsLoRA" : "alpha/r");
    return 0;
  };
}

}  // namespace volt::cli

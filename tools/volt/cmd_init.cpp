// volt init --preset NAME --out DIR [--tokenizer PATH] [--seed S]
//   A randomly initialised model as a Hugging Face directory (config.json, model.safetensors and,
//   with --tokenizer, the tokenizer): what transformers' AutoModel.from_config gives. With a
//   tokenizer, the vocabulary is the tokenizer's. For benchmarks, tests, and pretraining from scratch.
#include <cstdio>

#include "commands.h"
#include "volt/core/atomic_file.h"
#include "volt/core/seed.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

Action add_init(CLI::App& app) {
  struct Args {
    std::string preset, out, tokenizer;
    uint64_t seed = 1337;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--preset", a->preset, "a model preset (gpt2, babygpt-shakespeare, tinyllama-1.1b, ...)")->required();
  app.add_option("--out", a->out, "the directory to write")->required();
  app.add_option("--tokenizer", a->tokenizer, "a tokenizer file or directory to save beside the model");
  app.add_option("--seed", a->seed, "seed of the initial weights")->capture_default_str();
  return [a]() {
    ModelConfig c = ModelConfig::preset(a->preset);
    std::shared_ptr<Tokenizer> tok;
    if (!a->tokenizer.empty()) {
      tok = load_tokenizer(a->tokenizer);
      c.vocab_size = tok->vocab_size();
    }
    seed_everything(a->seed);
    CausalLM model(c);
    StagedDirectory out(a->out);  // nothing half-written under --out if this fails
    save_pretrained(*model, out.staging_path());
    if (tok) tok->save(out.staging_path());
    out.commit();
    std::printf("%s: %s, %lld parameters, random weights (seed %llu)\n", a->out.c_str(), a->preset.c_str(),
                static_cast<long long>(count_parameters(c)), static_cast<unsigned long long>(a->seed));
    return 0;
  };
}

}  // namespace volt::cli

// volt generate --checkpoint DIR --prompt TEXT --max-new-tokens N --temperature T --top-k K --seed S
#include <chrono>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/models/generate.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

Action add_generate(CLI::App& app) {
  struct Args {
    std::string checkpoint, prompt = "\n";
    GenerationOptions gen;
  };
  auto args = std::make_shared<Args>();
  app.add_option("--checkpoint,--model", args->checkpoint,
                 "a checkpoint or Hugging Face model directory (config.json, model.safetensors, tokenizer.json)")
      ->required();
  app.add_option("--prompt", args->prompt, "text to continue (default: a newline)");
  app.add_option("--max-new-tokens", args->gen.max_new_tokens, "tokens to generate")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--temperature", args->gen.temperature, "softmax temperature; 0 is greedy")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--top-k", args->gen.top_k, "sample among the k most likely tokens (0: all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", args->gen.top_p, "nucleus sampling threshold (1: off)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", args->gen.seed, "random seed")->capture_default_str();
  app.add_flag("--no-kv-cache", [args](int64_t) { args->gen.use_cache = false; },
               "recompute the whole context for every new token (to measure what the cache saves)");
  return [args]() {
    torch::set_num_threads(1);  // one sequence of small matmuls: threads cost more than they give
    auto model = from_pretrained(args->checkpoint);
    auto tokenizer = load_tokenizer(args->checkpoint);
    auto prompt = tokenizer->encode(args->prompt);
    VOLT_CHECK(!prompt.empty(), "[generate] the prompt encodes to no tokens");
    args->gen.eos_id = tokenizer->eos_id();
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = generate(*model, prompt, args->gen);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s%s\n", args->prompt.c_str(), tokenizer->decode(ids).c_str());
    std::fprintf(stderr, "[generate] %zu tokens in %.2f s (%.1f tokens/s)\n", ids.size(), dt,
                 static_cast<double>(ids.size()) / std::max(dt, 1e-9));
    return 0;
  };
}

}  // namespace volt::cli

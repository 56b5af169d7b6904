// volt generate --checkpoint DIR [--adapter DIR] --prompt TEXT --max-new-tokens N --temperature T --top-k K --seed S
#include <chrono>
#include <filesystem>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/models/generate.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace fs = std::filesystem;

Action add_generate(CLI::App& app) {
  struct Args {
    std::string checkpoint, adapter, prompt = "\n";
    GenerationOptions gen;
  };
  auto args = std::make_shared<Args>();
  app.add_option("--checkpoint,--model", args->checkpoint,
                 "a checkpoint or Hugging Face model directory (config.json, model.safetensors, tokenizer.json); "
                 "with --adapter, the base model (default: the adapter's base_model_name_or_path)");
  app.add_option("--adapter", args->adapter,
                 "a LoRA adapter directory (PEFT's adapter_config.json + adapter_model.safetensors), "
                 "merged into the base for generation");
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
    std::string base = args->checkpoint;
    if (!args->adapter.empty() && base.empty()) base = peft::read_adapter_config(args->adapter).base_model_name_or_path;
    VOLT_CHECK(!base.empty(), "[generate] no model: pass --model DIR",
               args->adapter.empty() ? "" : " (the adapter's config names no base model)");
    auto model = from_pretrained(base);
    if (!args->adapter.empty()) {
      peft::load_adapter(*model, args->adapter);
      peft::merge_lora(*model);  // same logits, no adapter matmuls per token
    }
    // The adapter directory of a volt checkpoint carries the tokenizer it was trained with.
    auto tokenizer = load_tokenizer(!args->adapter.empty() && fs::exists(fs::path(args->adapter) / "tokenizer.json")
                                        ? args->adapter : base);
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

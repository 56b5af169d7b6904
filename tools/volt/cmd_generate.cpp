// volt generate --model DIR [--adapter DIR] --prompt TEXT [--max-new-tokens N] [--temperature T]
//   [--top-k K] [--top-p P] [--repetition-penalty R] [--stop TEXT ...] [--num-return-sequences N]
//   [--stream] [--seed S]
// The prompt is encoded as transformers' tokenizer(prompt) encodes it (Llama's BOS included);
// generation stops at the tokenizer's EOS, the model's generation_config eos ids, or a stop string.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model_loading.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/models/generate.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace {

// The length of the longest prefix of s that ends on a whole UTF-8 character: a streamed piece
// never ends inside a character that the next token completes.
size_t complete_utf8_prefix(const std::string& s) {
  size_t end = s.size();
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 1;
    if (back < need) end = s.size() - back;
    break;
  }
  return end;
}

}  // namespace

Action add_generate(CLI::App& app) {
  struct Args {
    std::string checkpoint, adapter, prompt = "\n";
    std::vector<std::string> stop;
    int64_t num_return_sequences = 1;
    bool stream = false, json = false;
    GenerationOptions gen;
  };
  auto args = std::make_shared<Args>();
  app.add_option(
      "--checkpoint,--model", args->checkpoint,
      "a checkpoint or Hugging Face model directory (an fsdp run's sharded checkpoint too); with "
      "--adapter, the base model (default: the adapter's base_model_name_or_path)");
  app.add_option(
      "--adapter", args->adapter,
      "a LoRA adapter directory (PEFT's adapter_config.json + adapter_model.safetensors), "
      "merged into the base for generation");
  app.add_option("--prompt", args->prompt, "text to continue (default: a newline)");
  app.add_option("--max-new-tokens", args->gen.max_new_tokens, "tokens to generate")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--temperature", args->gen.temperature, "softmax temperature; 0 is greedy")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--top-k", args->gen.top_k, "sample among the k most likely tokens (0: all)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--top-p", args->gen.top_p, "nucleus sampling threshold (1: off)")
      ->capture_default_str()
      ->check(between(0.0, 1.0));
  app.add_option("--repetition-penalty,--repetition_penalty", args->gen.repetition_penalty,
                 "transformers' repetition_penalty: > 1 discourages repeating tokens of the "
                 "context (1: off)")
      ->capture_default_str()
      ->check(at_least(0, /*strict=*/true));
  app.add_option("--stop", args->stop,
                 "stop once the generated text contains this string (repeatable)");
  app.add_option("--num-return-sequences,--num_return_sequences", args->num_return_sequences,
                 "independent samples of the same prompt, printed one after another")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_flag("--stream", args->stream, "print tokens as they are generated");
  app.add_flag("--json", args->json,
               "one JSON line per sequence: {\"prompt_ids\", \"new_ids\", \"text\"}");
  app.add_option("--seed", args->gen.seed, "random seed")->capture_default_str();
  app.add_flag(
      "--no-kv-cache", [args](int64_t) { args->gen.use_cache = false; },
      "recompute the whole context for every new token (to measure what the cache saves)");
  return [args]() {
    torch::set_num_threads(1);  // one sequence of small matmuls: threads cost more than they give
    VOLT_CHECK(args->num_return_sequences == 1 || args->gen.temperature > 0,
               "[generate] --num-return-sequences ", args->num_return_sequences,
               " with greedy decoding (--temperature 0) gives the same text each time");
    const std::string base = base_model_dir(args->checkpoint, args->adapter, "[generate]");
    auto model = load_model(base, args->adapter);
    auto tokenizer = load_tokenizer(tokenizer_dir(base, args->adapter));
    EncodeOptions encode;
    encode.add_special_tokens = true;  // transformers' tokenizer(prompt): Llama's BOS, and so on
    auto prompt = tokenizer->encode(args->prompt, encode);
    VOLT_CHECK(!prompt.empty(), "[generate] the prompt encodes to no tokens");
    GenerationOptions gen = args->gen;
    gen.eos_id = tokenizer->eos_id();
    gen.stop_ids = model->config().eos_token_ids;
    gen.vocab_limit = tokenizer->vocab_size();  // padded rows of the head are never drawn
    VOLT_CHECK(!(args->stream && args->json), "[generate] --stream and --json exclude each other");
    const bool stream = args->stream;
    int64_t total = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t n = 0; n < args->num_return_sequences; ++n) {
      gen.seed =
          args->gen.seed + static_cast<uint64_t>(n);  // sample n: its own stream, reproducible
      std::vector<int64_t> ids;
      size_t printed = 0;  // bytes of the decoded continuation already on stdout
      if (!args->json) std::printf("%s", args->prompt.c_str());
      gen.on_token = [&](int64_t id) {
        ids.push_back(id);
        if (!stream && args->stop.empty()) return false;
        const std::string text = tokenizer->decode(ids);
        if (stream) {
          const size_t end = complete_utf8_prefix(text);
          if (end > printed) {
            std::fwrite(text.data() + printed, 1, end - printed, stdout);
            std::fflush(stdout);
            printed = end;
          }
        }
        for (const auto& s : args->stop) {
          if (!s.empty() && text.find(s) != std::string::npos) return true;
        }
        return false;
      };
      generate(*model, prompt, gen);
      const std::string text = tokenizer->decode(ids);
      if (args->json) {
        std::printf("%s\n", nlohmann::json{{"prompt_ids", prompt}, {"new_ids", ids}, {"text", text}}
                                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                .c_str());
      } else {
        std::printf("%s\n", text.c_str() + std::min(printed, text.size()));
        if (n + 1 < args->num_return_sequences) std::printf("\n");
      }
      std::fflush(stdout);
      total += static_cast<int64_t>(ids.size());
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[generate] %lld tokens in %.2f s (%.1f tokens/s)\n",
                 static_cast<long long>(total), dt,
                 static_cast<double>(total) / std::max(dt, 1e-9));
    return 0;
  };
}

}  // namespace volt::cli

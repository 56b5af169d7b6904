// volt: Lightning-style LLM training in C++. `volt --help` lists the subcommands.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/version.h"

int main(int argc, char** argv) {
  CLI::App app{"volt: Lightning-style LLM training in C++ (LibTorch).\n"
               "Train, fine-tune, evaluate and sample GPT-style models from a YAML recipe."};
  app.set_version_flag("--version", std::string("volt ") + VOLT_VERSION_STRING);
  app.require_subcommand(1);
  std::map<CLI::App*, volt::cli::Action> actions;
  auto add = [&](const char* name, const char* help, auto adder) {
    auto* sub = app.add_subcommand(name, help);
    actions[sub] = adder(*sub);
  };
  add("fit", "Train a model from a YAML recipe (LightningCLI style)", volt::cli::add_fit);
  add("validate", "Evaluate a model on the validation set", volt::cli::add_validate);
  add("generate", "Sample text from a checkpoint", volt::cli::add_generate);
  add("data", "Data pipeline: tokenize a corpus into its cache, padding and length statistics",
      volt::cli::add_data);
  add("launch", "Start N workers of a command with torchrun's environment (distributed training)",
      volt::cli::add_launch);
  add("merge", "Fold a LoRA adapter (PEFT format) into its base model: a plain Hugging Face model",
      volt::cli::add_merge);
  add("init", "A randomly initialised model from a preset, as a Hugging Face directory", volt::cli::add_init);
  add("convert", "A checkpoint or Hugging Face directory to a plain Hugging Face directory (dtype, shards)",
      volt::cli::add_convert);
  add("score", "Mean cross-entropy (nats/token) and perplexity of a text under a model", volt::cli::add_score);
  add("tokenize", "Text to token ids, or ids to text (--decode)", volt::cli::add_tokenize);
  add("tokenizer", "Tokenizer tools: train a BPE tokenizer, benchmark encoding speed",
      volt::cli::add_tokenizer);
  add("bench", "Step time, tokens/s, peak memory and MFU over a grid of settings (precision, accumulation, ...)",
      volt::cli::add_train_bench);
  add("memory", "Memory a training run needs: weights, gradients, optimizer states, activations (--measure: "
      "and measured)", volt::cli::add_memory);
  add("dtype-info", "A number's bits in FP32, FP16 and BF16: stored value, error, neighbours", volt::cli::add_dtype_info);
  try {
    app.parse(argc, argv);
    for (auto& [sub, action] : actions) {
      if (sub->parsed()) return action();
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const volt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

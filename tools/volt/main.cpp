// volt: Lightning-style LLM training in C++. `volt --help` lists the subcommands.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "commands.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/core/config.h"
#include "volt/version.h"

namespace {

// A first argument that names no subcommand: the nearest one, with the words Lightning and
// Hugging Face users type ("volt train" -> fit).
[[noreturn]] void unknown_subcommand(const CLI::App& app, const std::string& word) {
  static const std::map<std::string, std::string> aliases = {
      {"train", "fit"},         {"finetune", "fit"}, {"fine-tune", "fit"},   {"sample", "generate"},
      {"evaluate", "validate"}, {"val", "validate"}, {"quantize", "convert"}};
  std::vector<std::string> names;
  for (const auto* sub :
       const_cast<CLI::App&>(app).get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  // The nearest name or alias ("trian" is a typo of "train", which means fit).
  std::vector<std::string> candidates = names;
  for (const auto& [alias, target] : aliases) candidates.push_back(alias);
  std::string near = volt::nearest_key(word, candidates);
  if (auto it = aliases.find(near); it != aliases.end()) near = it->second;
  VOLT_FAIL("[cli] unknown subcommand '", word, "'",
            near.empty() ? std::string(" (volt --help lists them)")
                         : volt::str(" (did you mean 'volt ", near, "'?)"));
}

// Every subcommand, nested ones too, keeps what it does not know, so that volt names it.
void allow_extras_everywhere(CLI::App& app) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->allow_extras();
    allow_extras_everywhere(*sub);
  }
}

// Subcommands that read their leftover arguments themselves: config overrides (and dtype-info's
// VALUE, which may look like an option: -inf). Every other one rejects leftovers by name.
bool takes_leftovers(const CLI::App& sub) {
  static const std::set<std::string> paths = {
      "volt fit",   "volt validate",     "volt test",       "volt predict",
      "volt bench", "volt data prepare", "volt data stats", "volt dtype-info"};
  return paths.count(volt::cli::command_path(sub)) > 0;
}

// The subcommand CLI11 was parsing when it failed (the deepest parsed one), or the app.
const CLI::App& parsed_subcommand(const CLI::App& app) {
  for (const auto* sub :
       const_cast<CLI::App&>(app).get_subcommands([](CLI::App*) { return true; })) {
    if (sub->parsed()) return parsed_subcommand(*sub);
  }
  return app;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "volt: Lightning-style LLM training in C++ (LibTorch).\n"
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
  add("test", "Evaluate a model on the test set (loss, perplexity)", volt::cli::add_test);
  add("predict", "Per-row losses over the predict set, as JSON lines", volt::cli::add_predict);
  add("generate", "Sample text from a checkpoint", volt::cli::add_generate);
  add("data", "Data pipeline: tokenize a corpus into its cache, padding and length statistics",
      volt::cli::add_data);
  add("launch", "Start N workers of a command with torchrun's environment (distributed training)",
      volt::cli::add_launch);
  add("merge", "Fold a LoRA adapter (PEFT format) into its base model: a plain Hugging Face model",
      volt::cli::add_merge);
  add("export",
      "A model as one GGUF file for llama.cpp, Ollama, LM Studio (f32, f16, bf16, q8_0; --adapter "
      "merges "
      "LoRA)",
      volt::cli::add_export);
  add("init", "A randomly initialised model from a preset, as a Hugging Face directory",
      volt::cli::add_init);
  add("convert",
      "A checkpoint or Hugging Face directory to a plain Hugging Face directory (dtype, shards)",
      volt::cli::add_convert);
  add("score", "Mean cross-entropy (nats/token) and perplexity of a text under a model",
      volt::cli::add_score);
  add("tokenize", "Text to token ids, or ids to text (--decode)", volt::cli::add_tokenize);
  add("tokenizer", "Tokenizer tools: train a BPE tokenizer, benchmark encoding speed",
      volt::cli::add_tokenizer);
  add("bench",
      "Step time, tokens/s, peak memory and MFU over a grid of settings (precision, accumulation, "
      "...)",
      volt::cli::add_train_bench);
  add("memory",
      "Memory a training run needs: weights, gradients, optimizer states, activations (--measure: "
      "and measured)",
      volt::cli::add_memory);
  add("chat-template",
      "Render a conversation with a chat template, tokenize it, mark the assistant's tokens",
      volt::cli::add_chat_template);
  add("chat", "Chat with a checkpoint in the terminal (its chat template, KV cache across turns)",
      volt::cli::add_chat);
  add("eval", "Exact-match accuracy of greedy replies on question/answer data (GSM8K)",
      volt::cli::add_eval);
  add("dtype-info", "A number's bits in FP32, FP16 and BF16: stored value, error, neighbours",
      volt::cli::add_dtype_info);
  // Every subcommand sees what it does not know (allow_extras), so an unknown option is reported
  // by name with the nearest valid one, not as CLI11's "--config is required".
  allow_extras_everywhere(app);
  try {
    if (argc > 1 && argv[1][0] != '-') {
      bool known = false;
      for (auto& [sub, action] : actions) known = known || sub->check_name(argv[1]);
      if (!known) unknown_subcommand(app, argv[1]);
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success&) {  // --help and --version (CallForHelp derives from it)
      throw;
    } catch (const CLI::ParseError& e) {
      // An unknown option explains a missing required one ("--confg X": --config is missing).
      const CLI::App& sub = parsed_subcommand(app);
      for (const auto& arg : sub.remaining()) {
        const bool option = arg.rfind("-", 0) == 0 && arg.find('.') == std::string::npos;
        if (option || !sub.get_subcommands().empty() || sub.get_require_subcommand_min() > 0) {
          volt::cli::reject_argument(sub, arg);
        }
      }
      throw volt::Error(volt::str("[cli] ", volt::cli::command_path(sub), ": ", e.what()));
    }
    const CLI::App& deepest = parsed_subcommand(app);
    if (!takes_leftovers(deepest)) volt::cli::reject_remaining(deepest);
    for (auto& [sub, action] : actions) {
      if (sub->parsed()) return action();
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // --help, --version
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

// The subcommands of `volt`: each registers its options on the CLI11 app and returns the action
// to run after parsing. One file per subcommand; they stay thin (parse, call the library, print).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace volt::cli {

using Action = std::function<int()>;

Action add_fit(CLI::App& app);
Action add_validate(CLI::App& app);
/// `volt test`: the loss on the data's test split (cmd_test.cpp).
Action add_test(CLI::App& app);
/// `volt predict`: per-row losses over the predict split, as JSON lines (cmd_predict.cpp).
Action add_predict(CLI::App& app);
Action add_generate(CLI::App& app);
Action add_score(CLI::App& app);
Action add_init(CLI::App& app);
Action add_convert(CLI::App& app);
Action add_tokenize(CLI::App& app);
/// `volt tokenizer` with its subcommands bench and train.
Action add_tokenizer(CLI::App& app);
/// `volt data` with its subcommands prepare and stats.
Action add_data(CLI::App& app);
/// `volt tokenizer train` (cmd_tokenizer_train.cpp).
Action add_tokenizer_train(CLI::App& app);
/// `volt dtype-info VALUE`: a number's bits in FP32, FP16 and BF16 (cmd_dtype_info.cpp).
Action add_dtype_info(CLI::App& app);
/// `volt memory`: the memory breakdown of a training run (cmd_memory.cpp).
Action add_memory(CLI::App& app);
/// `volt bench`: speed and memory over a grid of settings (cmd_bench.cpp).
Action add_train_bench(CLI::App& app);
/// `volt merge`: a LoRA adapter folded into its base model (cmd_merge.cpp).
Action add_merge(CLI::App& app);
/// `volt export --format gguf`: a model as one GGUF file for llama.cpp (cmd_export.cpp).
Action add_export(CLI::App& app);
/// `volt launch`: torchrun-style workers of a command (cmd_launch.cpp).
Action add_launch(CLI::App& app);
/// `volt chat-template`: a conversation rendered, tokenized, assistant tokens marked.
Action add_chat_template(CLI::App& app);
/// `volt chat`: an interactive chat with a checkpoint (cmd_chat.cpp).
Action add_chat(CLI::App& app);
/// `volt eval`: exact-match accuracy of greedy replies on a question/answer set (cmd_eval.cpp).
Action add_eval(CLI::App& app);

}  // namespace volt::cli

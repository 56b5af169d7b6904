// The subcommands of `volt`: each registers its options on the CLI11 app and returns the action
// to run after parsing. One file per subcommand; they stay thin (parse, call the library, print).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace volt::cli {

using Action = std::function<int()>;

Action add_fit(CLI::App& app);
Action add_validate(CLI::App& app);
Action add_generate(CLI::App& app);

}  // namespace volt::cli

// Usage errors, as one line that names the bad word and the nearest valid one, exit code 2:
//   error: [cli] unknown option '--confg' for volt fit (did you mean '--config'?)
// and the validators whose messages say what a value must be ("must be >= 0, got -1") rather
// than CLI11's ranges with 309-digit bounds.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace volt::cli {

/// "volt fit", "volt tokenizer train": the subcommand's full name, for messages.
std::string command_path(const CLI::App& app);
/// The subcommand's long options ("--config", "--ckpt_path", ...).
std::vector<std::string> long_options(const CLI::App& app);
/// Throws the usage error for an argument the subcommand does not know: an unknown option (with
/// the nearest long option), or an unexpected positional argument.
[[noreturn]] void reject_argument(const CLI::App& app, const std::string& arg);
/// Rejects the first of app.remaining(), if any (subcommands that take no overrides).
void reject_remaining(const CLI::App& app);

/// `--section.key=value` / `--section.key value` overrides (and the top-level `--name=x`) from
/// what CLI11 left unparsed; anything else is a usage error naming the nearest option.
std::vector<std::string> collect_overrides(const CLI::App& app);

/// A number >= lo (or > lo when strict), in words when it is not.
CLI::Validator at_least(double lo, bool strict = false);
/// A number in [lo, hi].
CLI::Validator between(double lo, double hi);
/// One of the given words, with the nearest one suggested.
CLI::Validator one_of(std::vector<std::string> words);

}  // namespace volt::cli

// Hyperparameters as loggers record them: a flat map from a dotted name ("optimizer.lr") to a
// bool, a number or a string, the three kinds TensorBoard's HParams plugin knows.
#pragma once

#include <map>
#include <string>
#include <variant>

namespace volt {

using HParamValue = std::variant<bool, double, std::string>;
using HParams = std::map<std::string, HParamValue>;

/// The resolved config (YAML text, what a run's config.yaml holds) flattened. Nested keys are
/// joined with '.', as in the CLI's overrides, so a name copied from TensorBoard's HPARAMS table
/// is a valid `--optimizer.lr=...`. Plain scalars become bools (YAML 1.2's true/false only),
/// numbers (decimal ints and floats, .inf, .nan) or else strings; quoted scalars stay strings; a
/// list becomes its YAML flow text ("[0.9, 0.95]"); nulls and empty mappings are left out.
/// Invalid YAML is a volt::Error naming source.
HParams flatten_hparams(const std::string& yaml, const std::string& source = "<config>");

}  // namespace volt

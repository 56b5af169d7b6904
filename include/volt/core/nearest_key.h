// "Did you mean ...?": the candidate nearest a mistyped name, for errors that name the valid
// choices (config keys, logger names).
#pragma once

#include <string>
#include <vector>

namespace volt {

/// The closest candidate by edit distance, or "" when nothing is close.
std::string nearest_key(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace volt

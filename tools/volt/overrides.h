// `--section.key=value` / `--section.key value` overrides: what CLI11 leaves unparsed.
#pragma once

#include <string>
#include <vector>

#include "volt/core/check.h"

namespace volt::cli {

/// Turns CLI11's remaining arguments into "a.b=c" assignments; anything else is an error.
inline std::vector<std::string> collect_overrides(const std::vector<std::string>& rest) {
  std::vector<std::string> out;
  for (size_t i = 0; i < rest.size(); ++i) {
    std::string a = rest[i];
    VOLT_CHECK(a.rfind("--", 0) == 0 && a.find('.') != std::string::npos, "[cli] unexpected argument '",
               a, "' (overrides look like --trainer.max_steps=100)");
    a = a.substr(2);
    if (a.find('=') == std::string::npos) {
      VOLT_CHECK(i + 1 < rest.size(), "[cli] override --", a, " has no value");
      a += "=" + rest[++i];
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace volt::cli

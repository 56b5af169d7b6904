// volt dtype-info VALUE [--json]
//   How VALUE is stored in FP32, FP16 and BF16: the sign, exponent and mantissa bits, the stored
//   value and its error, the neighbouring representable values and the ULP (round to nearest,
//   ties to even, as a cast does). VALUE is decimal, scientific, hex-float (0x1.8p3), inf or nan,
//   with an optional sign: -inf and -nan look like short options to CLI11, so the subcommand keeps
//   unrecognised arguments (allow_extras) and takes a lone one as VALUE.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/core/dtype_info.h"

namespace volt::cli {

Action add_dtype_info(CLI::App& app) {
  struct Args {
    std::string value;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("VALUE", a->value, "a number: 0.1, 70000, -2.5e-3, 0x1.8p3, inf, -inf, nan");
  app.add_flag("--json", a->json, "print every field of every format as JSON");
  auto* self = &app;
  return [a, self]() {
    std::vector<std::string> values = self->remaining();
    if (!a->value.empty() || self->count("VALUE") > 0) values.insert(values.begin(), a->value);
    VOLT_CHECK(!values.empty(), "[dtype-info] give one VALUE, e.g. volt dtype-info 0.1");
    if (values.size() > 1) {
      std::string all;
      for (const auto& v : values) all += " '" + v + "'";
      VOLT_FAIL("[dtype-info] give one VALUE, got", all);
    }
    const double x = dtype::parse_value(values.front());
    if (a->json) {
      std::printf("%s\n", dtype::render_json(x, 2).c_str());
    } else {
      std::printf("%s", dtype::render_text(x).c_str());
    }
    return 0;
  };
}

}  // namespace volt::cli

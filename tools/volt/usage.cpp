#include "usage.h"

#include <cmath>
#include <cstdlib>

#include "volt/core/check.h"
#include "volt/core/config.h"

namespace volt::cli {

namespace {

// Top-level keys of a recipe that are not sections: overridable as --name=x.
bool is_top_level_key(const std::string& key) { return key == "name"; }

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool parse_number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && !std::isnan(out);
}

}  // namespace

std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) {
    path = (p->get_parent() == nullptr ? std::string("volt") : p->get_name()) + " " + path;
  }
  return path;
}

std::vector<std::string> long_options(const CLI::App& app) {
  std::vector<std::string> out;
  for (const auto* opt : app.get_options()) {
    for (const auto& n : opt->get_lnames()) out.push_back("--" + n);
  }
  return out;
}

void reject_argument(const CLI::App& app, const std::string& arg) {
  if (arg.rfind("-", 0) == 0 && arg.size() > 1) {
    const std::string name = arg.substr(0, arg.find('='));
    const std::string near = nearest_key(name, long_options(app));
    VOLT_FAIL("[cli] unknown option '", name, "' for ", command_path(app),
              near.empty() ? std::string(" (see --help)") : str(" (did you mean '", near, "'?)"));
  }
  std::vector<std::string> subs;
  for (const auto* s : const_cast<CLI::App&>(app).get_subcommands([](CLI::App*) { return true; })) {
    subs.push_back(s->get_name());
  }
  if (!subs.empty()) {
    const std::string near = nearest_key(arg, subs);
    VOLT_FAIL("[cli] unknown subcommand '", arg, "' for ", command_path(app),
              near.empty() ? std::string(" (see --help)") : str(" (did you mean '", near, "'?)"));
  }
  VOLT_FAIL("[cli] unexpected argument '", arg, "' for ", command_path(app), " (see --help)");
}

void reject_remaining(const CLI::App& app) {
  for (const auto& arg : app.remaining()) {
    if (arg != "--") reject_argument(app, arg);  // "--" only ends the options (volt launch -- CMD)
  }
}

std::vector<std::string> collect_overrides(const CLI::App& app) {
  const auto rest = app.remaining();
  std::vector<std::string> out;
  for (size_t i = 0; i < rest.size(); ++i) {
    std::string a = rest[i];
    const std::string key = a.rfind("--", 0) == 0 ? a.substr(2, a.find('=') - 2) : "";
    const bool dotted = !key.empty() && key.find('.') != std::string::npos;
    if (!dotted && !is_top_level_key(key)) {
      if (a.rfind("-", 0) == 0 && a.size() > 1) reject_argument(app, a);
      VOLT_FAIL("[cli] unexpected argument '", a, "' for ", command_path(app),
                " (overrides look like --trainer.max_steps=100)");
    }
    a = a.substr(2);
    if (a.find('=') == std::string::npos) {
      VOLT_CHECK(i + 1 < rest.size(), "[cli] override --", a, " has no value");
      a += "=" + rest[++i];
    }
    out.push_back(a);
  }
  return out;
}

CLI::Validator at_least(double lo, bool strict) {
  const std::string desc =
      strict ? "NUMBER > " + format_number(lo) : "NUMBER >= " + format_number(lo);
  return CLI::Validator(
      [lo, strict](std::string& text) -> std::string {
        double v = 0;
        if (!parse_number(text, v)) return "must be a number, got '" + text + "'";
        if (strict ? v > lo : v >= lo) return "";
        return std::string("must be ") + (strict ? "> " : ">= ") + format_number(lo) + ", got " +
               text;
      },
      desc);
}

CLI::Validator between(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double v = 0;
        if (!parse_number(text, v)) return "must be a number, got '" + text + "'";
        if (v >= lo && v <= hi) return "";
        return "must be between " + format_number(lo) + " and " + format_number(hi) + ", got " +
               text;
      },
      "NUMBER in [" + format_number(lo) + ", " + format_number(hi) + "]");
}

CLI::Validator one_of(std::vector<std::string> words) {
  std::string all;
  for (const auto& w : words) all += (all.empty() ? "" : "|") + w;
  return CLI::Validator(
      [words, all](std::string& text) -> std::string {
        for (const auto& w : words) {
          if (w == text) return "";
        }
        const std::string near = nearest_key(text, words);
        return "'" + text + "' is not one of " + all +
               (near.empty() ? "" : " (did you mean '" + near + "'?)");
      },
      "{" + all + "}");
}

}  // namespace volt::cli

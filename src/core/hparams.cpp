#include "volt/core/hparams.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <limits>

#include "volt/core/check.h"

namespace volt {
namespace {

// YAML 1.2's core schema, not yaml-cpp's YAML 1.1 reading (where yes, no, on, off, y and n are
// bools too): a model called "n" must stay a string.
bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE") return out = true, true;
  if (s == "false" || s == "False" || s == "FALSE") return out = false, true;
  return false;
}

bool parse_number(const std::string& s, double& out) {
  const std::string body = !s.empty() && (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
  const double sign = !s.empty() && s[0] == '-' ? -1.0 : 1.0;
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    out = sign * std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // strtod alone would also take "nan", "inf" and hex: those stay strings.
  if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos) return false;
  if (s.find_first_of("0123456789") == std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

HParamValue scalar_value(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: the author said string
  bool b;
  if (parse_bool(text, b)) return b;
  double d;
  if (parse_number(text, d)) return d;
  return text;
}

void flatten(const YAML::Node& node, const std::string& prefix, HParams& out) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      for (const auto& entry : node) {
        const std::string key = entry.first.as<std::string>();
        flatten(entry.second, prefix.empty() ? key : prefix + "." + key, out);
      }
      break;
    case YAML::NodeType::Sequence: {
      YAML::Emitter flow;
      flow.SetSeqFormat(YAML::Flow);
      flow.SetMapFormat(YAML::Flow);
      flow << node;
      out[prefix] = std::string(flow.c_str());
      break;
    }
    case YAML::NodeType::Scalar:
      out[prefix] = scalar_value(node);
      break;
    default:  // null, undefined
      break;
  }
}

}  // namespace

HParams flatten_hparams(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    VOLT_FAIL("[hparams] ", source, ": invalid YAML at line ", e.mark.line + 1, ": ", e.msg);
  }
  VOLT_CHECK(!root.IsDefined() || root.IsNull() || root.IsMap(), "[hparams] ", source,
             ": the top level must be a mapping of sections");
  HParams out;
  flatten(root, "", out);
  return out;
}

}  // namespace volt

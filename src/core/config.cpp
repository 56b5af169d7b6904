#include "volt/core/config.h"

#include <fstream>
#include <sstream>

namespace volt {

Config::Config() : root_(YAML::NodeType::Map), source_("<defaults>") {}

Config Config::from_string(const std::string& yaml, const std::string& source) {
  Config c;
  c.source_ = source;
  try {
    c.root_ = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    VOLT_FAIL("[config] ", source, ": invalid YAML at line ", e.mark.line + 1, ", column ",
              e.mark.column + 1, ": ", e.msg);
  }
  if (!c.root_ || c.root_.IsNull()) c.root_ = YAML::Node(YAML::NodeType::Map);
  VOLT_CHECK(c.root_.IsMap(), "[config] ", source, ": the top level must be a mapping of sections");
  return c;
}

Config Config::from_file(const std::string& path) {
  std::ifstream in(path);
  VOLT_CHECK(in.good(), "[config] ", path, ": no such file");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_string(ss.str(), path);
}

void Config::set_override(const std::string& assignment) {
  std::string a = assignment;
  if (a.rfind("--", 0) == 0) a = a.substr(2);
  const auto eq = a.find('=');
  VOLT_CHECK(eq != std::string::npos && eq > 0, "[config] override '", assignment,
             "' is not of the form --section.key=value");
  set(a.substr(0, eq), a.substr(eq + 1));
}

void Config::set(const std::string& dotted_key, const std::string& yaml_value) {
  YAML::Node value;
  try {
    value = YAML::Load(yaml_value);
  } catch (const YAML::Exception&) {
    value = YAML::Node(yaml_value);  // not YAML: keep the text as a string
  }
  std::vector<std::string> parts;
  std::stringstream ss(dotted_key);
  for (std::string p; std::getline(ss, p, '.');) {
    VOLT_CHECK(!p.empty(), "[config] override key '", dotted_key, "' has an empty part");
    parts.push_back(p);
  }
  // yaml-cpp nodes are handles: walk down with copies that alias the tree.
  std::vector<YAML::Node> chain{root_};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (!next || next.IsNull()) {
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[parts[i]];
    }
    VOLT_CHECK(next.IsMap(), "[config] override '", dotted_key, "': '", parts[i],
               "' is not a section");
    chain.push_back(next);
  }
  chain.back()[parts.back()] = value;
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

ConfigSection::ConfigSection(YAML::Node node, std::string path, std::string source)
    : node_(node), path_(std::move(path)), source_(std::move(source)) {
  if (!node_ || node_.IsNull()) node_ = YAML::Node(YAML::NodeType::Map);
  VOLT_CHECK(node_.IsMap(), "[config] ", source_, ": '", path_, "' must be a mapping");
}

bool ConfigSection::has(const std::string& key) const {
  YAML::Node v = node_[key];
  return v && !v.IsNull();
}

ConfigSection ConfigSection::child(const std::string& key) {
  mark(key);
  return ConfigSection(node_[key], full(key), source_);
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : node_) {
    // YAML allows any node as a key ("? [a, b]: 1"); a recipe's keys are plain names.
    VOLT_CHECK(kv.first.IsScalar(), "[config] ", source_, ": a key of '", path_.empty() ? "the top level" : path_,
               "' is not a plain name (line ", kv.first.Mark().line + 1, ")");
    out.push_back(kv.first.Scalar());
  }
  return out;
}

void ConfigSection::finish() const {
  std::vector<std::string> known(read_.begin(), read_.end());
  for (const auto& k : keys()) {
    if (read_.count(k)) continue;
    const std::string near = nearest_key(k, known);
    VOLT_FAIL("[config] ", source_, ": unknown key '", full(k), "'",
              near.empty() ? std::string() : str(" (did you mean '", full(near), "'?)"));
  }
}

}  // namespace volt

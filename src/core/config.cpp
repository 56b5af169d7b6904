#include "volt/core/config.h"

#include <fstream>
#include <sstream>

namespace volt {

Config::Config()
    : root_(YAML::NodeType::Map), resolved_(YAML::NodeType::Map), source_("<defaults>") {}

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
  c.record_origins(c.root_, "", "[config] " + source);
  return c;
}

void Config::record_origins(const YAML::Node& node, const std::string& prefix,
                            const std::string& origin) {
  if (!prefix.empty()) origins_[prefix] = origin;
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;  // ConfigSection::keys() names such a key as an error
    record_origins(kv.second, prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar(),
                   origin);
  }
}

namespace {
// Deep merge: `later` wins, mappings are merged key by key (yaml-cpp nodes are handles, so a
// value taken from `later` is cloned rather than shared between the two trees).
void merge_into(YAML::Node base, const YAML::Node& later) {
  for (const auto& kv : later) {
    const std::string key = kv.first.Scalar();
    YAML::Node b = base[key];
    if (b && b.IsMap() && kv.second.IsMap()) {
      merge_into(b, kv.second);
    } else {
      base[key] = YAML::Clone(kv.second);
    }
  }
}
}  // namespace

void Config::merge(const Config& later) {
  merge_into(root_, later.root_);
  for (const auto& [k, v] : later.origins_) origins_[k] = v;
  source_ += ", " + later.source_;
}

std::string Config::origin(const std::string& dotted_key) const {
  // The most specific recorded key: the key itself, else the section an override created.
  for (std::string k = dotted_key; !k.empty();) {
    if (auto it = origins_.find(k); it != origins_.end()) return it->second;
    const auto dot = k.rfind('.');
    if (dot == std::string::npos) break;
    k = k.substr(0, dot);
  }
  return "[config] " + source_;
}

std::string Config::resolved_dump() const {
  YAML::Emitter out;
  out << resolved_;
  return std::string(out.c_str()) + "\n";
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
  const std::string origin = "[cli] --" + dotted_key + "=" + yaml_value;
  for (auto it = origins_.lower_bound(dotted_key + ".");
       it != origins_.end() && it->first.rfind(dotted_key + ".", 0) == 0;) {
    it = origins_.erase(it);  // a section replaced by the override: its old keys are gone
  }
  record_origins(value, dotted_key, origin);
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

ConfigSection::ConfigSection(YAML::Node node, std::string path, std::string source)
    : ConfigSection(node, std::move(path), std::move(source), YAML::Node(YAML::NodeType::Map),
                    nullptr) {}

ConfigSection::ConfigSection(Config& config)
    : ConfigSection(config.root(), "", config.source(), config.resolved(), &config) {}

ConfigSection::ConfigSection(YAML::Node node, std::string path, std::string source,
                             YAML::Node resolved, const Config* config)
    : node_(node),
      resolved_(resolved),
      path_(std::move(path)),
      source_(std::move(source)),
      config_(config) {
  if (!node_ || node_.IsNull()) node_ = YAML::Node(YAML::NodeType::Map);
  VOLT_CHECK(node_.IsMap(), where(""), ": '", path_, "' must be a mapping");
}

std::string ConfigSection::where(const std::string& key) const {
  if (config_) return config_->origin(key.empty() ? path_ : full(key));
  return "[config] " + source_;
}

bool ConfigSection::has(const std::string& key) const {
  YAML::Node v = node_[key];
  return v && !v.IsNull();
}

ConfigSection ConfigSection::child(const std::string& key) {
  mark(key);
  if (!resolved_[key] || !resolved_[key].IsMap()) resolved_[key] = YAML::Node(YAML::NodeType::Map);
  return ConfigSection(node_[key], full(key), source_, resolved_[key], config_);
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : node_) {
    // YAML allows any node as a key ("? [a, b]: 1"); a recipe's keys are plain names.
    VOLT_CHECK(kv.first.IsScalar(), where(""), ": a key of '",
               path_.empty() ? "the top level" : path_, "' is not a plain name (line ",
               kv.first.Mark().line + 1, ")");
    out.push_back(kv.first.Scalar());
  }
  return out;
}

void ConfigSection::finish() const {
  std::vector<std::string> known(read_.begin(), read_.end());
  for (const auto& k : keys()) {
    if (read_.count(k)) continue;
    const std::string near = nearest_key(k, known);
    VOLT_FAIL(where(k), ": unknown key '", full(k), "'",
              near.empty() ? std::string() : str(" (did you mean '", full(near), "'?)"));
  }
}

}  // namespace volt

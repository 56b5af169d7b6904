// The config tree: a LightningCLI-style YAML file (sections trainer, model, data, optimizer,
// scheduler) plus command-line overrides `--trainer.max_steps=100`. Readers pull typed values
// out of a ConfigSection; every key they did not read is an error that names it and suggests the
// nearest valid key, so a typo never silently falls back to a default. Several files merge in order
// (LightningCLI's repeated --config), every key remembers where it was set (a file, or the override
// on the command line), and the sections record the value each reader used, defaults included: the
// resolved config that `--print_config` shows and a run directory keeps.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "volt/core/check.h"
#include "volt/core/nearest_key.h"

namespace volt {

class Config {
 public:
  Config();
  static Config from_file(const std::string& path);
  static Config from_string(const std::string& yaml, const std::string& source = "<string>");

  /// Applies "a.b.c=value" (a leading "--" is allowed). The value is parsed as YAML, so 100 is an
  /// int, 1e-3 a float, [0.9, 0.99] a list and "bf16-mixed" a string. Missing sections are created.
  void set_override(const std::string& assignment);
  void set(const std::string& dotted_key, const std::string& yaml_value);
  /// Merges a later file over this tree: mappings key by key, any other value replaces.
  void merge(const Config& later);

  /// The tree as YAML text.
  std::string dump() const;
  /// What the readers used, defaults included (ConfigSection(Config&) records it): the resolved
  /// config a run directory stores as config.yaml. Keys never read are not in it.
  std::string resolved_dump() const;
  const std::string& source() const { return source_; }
  YAML::Node& root() { return root_; }
  const YAML::Node& root() const { return root_; }
  YAML::Node& resolved() { return resolved_; }
  /// Where the value of a dotted key was set, for messages: "[cli] --trainer.max_steps=5" for a
  /// command-line override (of the key or a section above it), else "[config] <file>".
  std::string origin(const std::string& dotted_key) const;

 private:
  void record_origins(const YAML::Node& node, const std::string& prefix, const std::string& origin);
  YAML::Node root_;
  YAML::Node resolved_;
  std::string source_;
  std::map<std::string, std::string> origins_;  // dotted key -> "[config] file" or "[cli] --k=v"
};

/// A view on one mapping of the tree that records which keys were read.
class ConfigSection {
 public:
  ConfigSection(YAML::Node node, std::string path, std::string source);
  /// The top level of a config: errors name where each key was set, values used are recorded in
  /// config.resolved(). The config must outlive the section and its children.
  explicit ConfigSection(Config& config);

  bool has(const std::string& key) const;
  /// The value at key converted to T, or fallback when the key is absent.
  template <typename T>
  T get(const std::string& key, const T& fallback) {
    mark(key);
    YAML::Node v = node_[key];
    const T value = !v || v.IsNull() ? fallback : convert<T>(v, key);
    resolved_[key] = value;
    return value;
  }
  /// Records the value a key resolved to when it differs from what was read (e.g. a vocabulary
  /// size of 0 that means "the tokenizer's").
  template <typename T>
  void resolve(const std::string& key, const T& value) {
    resolved_[key] = value;
  }
  /// The value at key; absent is an error naming the key.
  template <typename T>
  T require(const std::string& key) {
    mark(key);
    YAML::Node v = node_[key];
    VOLT_CHECK(v && !v.IsNull(), where(key), ": missing required key '", full(key), "'");
    const T value = convert<T>(v, key);
    resolved_[key] = value;
    return value;
  }
  /// A nested mapping (empty when absent).
  ConfigSection child(const std::string& key);
  /// Marks a key as understood without reading it (e.g. handled elsewhere).
  void mark(const std::string& key) { read_.insert(key); }
  /// Throws on the first key that no reader asked for, suggesting the nearest known key.
  void finish() const;
  /// Every key present in the mapping.
  std::vector<std::string> keys() const;
  const std::string& path() const { return path_; }
  std::string full(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  /// "[config] recipe.yaml" or "[cli] --trainer.max_steps=5": where key was set, for messages.
  std::string where(const std::string& key) const;

 private:
  template <typename T>
  T convert(const YAML::Node& v, const std::string& key) const {
    try {
      return v.as<T>();
    } catch (const YAML::Exception&) {
      VOLT_FAIL(where(key), ": key '", full(key), "' has value '", YAML::Dump(v),
                "' which is not a valid ", type_name<T>());
    }
  }
  template <typename T>
  static const char* type_name();

  // Every node handle here is made from the tree it belongs to (never assigned over a fresh node):
  // yaml-cpp keeps a node's memory alive through the handle that created it, so writing through a
  // handle of another tree would leave the resolved tree pointing at freed nodes.
  ConfigSection(YAML::Node node, std::string path, std::string source, YAML::Node resolved,
                const Config* config);
  YAML::Node node_;
  YAML::Node resolved_;  // the values used, in the config's resolved tree (or a detached one)
  std::string path_;
  std::string source_;
  const Config* config_ = nullptr;  // origins of keys, when built from a Config
  std::set<std::string> read_;
};

template <typename T>
const char* ConfigSection::type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "boolean";
  else if constexpr (std::is_integral_v<T>)
    return "integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else
    return "value of the expected type";
}

}  // namespace volt

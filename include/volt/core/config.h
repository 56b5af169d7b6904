// The config tree: a LightningCLI-style YAML file (sections trainer, model, data, optimizer,
// scheduler) plus command-line overrides `--trainer.max_steps=100`. Readers pull typed values
// out of a ConfigSection; every key they did not read is an error that names it and suggests the
// nearest valid key, so a typo never silently falls back to a default.
#pragma once

#include <yaml-cpp/yaml.h>

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

  /// The resolved tree as YAML text (what a run directory stores as config.yaml).
  std::string dump() const;
  const std::string& source() const { return source_; }
  YAML::Node& root() { return root_; }
  const YAML::Node& root() const { return root_; }

 private:
  YAML::Node root_;
  std::string source_;
};

/// A view on one mapping of the tree that records which keys were read.
class ConfigSection {
 public:
  ConfigSection(YAML::Node node, std::string path, std::string source);

  bool has(const std::string& key) const;
  /// The value at key converted to T, or fallback when the key is absent.
  template <typename T>
  T get(const std::string& key, const T& fallback) {
    mark(key);
    YAML::Node v = node_[key];
    if (!v || v.IsNull()) return fallback;
    return convert<T>(v, key);
  }
  /// The value at key; absent is an error naming the key.
  template <typename T>
  T require(const std::string& key) {
    mark(key);
    YAML::Node v = node_[key];
    VOLT_CHECK(v && !v.IsNull(), "[config] ", source_, ": missing required key '", full(key), "'");
    return convert<T>(v, key);
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

 private:
  template <typename T>
  T convert(const YAML::Node& v, const std::string& key) const {
    try {
      return v.as<T>();
    } catch (const YAML::Exception&) {
      VOLT_FAIL("[config] ", source_, ": key '", full(key), "' has value '", YAML::Dump(v),
                "' which is not a valid ", type_name<T>());
    }
  }
  template <typename T>
  static const char* type_name();

  YAML::Node node_;
  std::string path_;
  std::string source_;
  std::set<std::string> read_;
};

template <typename T>
const char* ConfigSection::type_name() {
  if constexpr (std::is_same_v<T, bool>) return "boolean";
  else if constexpr (std::is_integral_v<T>) return "integer";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else return "value of the expected type";
}

}  // namespace volt

#include "tokenizer_config.h"

#include <filesystem>

#include "volt/core/check.h"
#include "volt/io/files.h"

namespace volt::detail {

nlohmann::json read_tokenizer_config_beside(const std::string& tokenizer_file) {
  const auto path = std::filesystem::path(tokenizer_file).parent_path() / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return nullptr;
  nlohmann::json config = io::read_json(path.string());
  VOLT_CHECK(config.is_object(), "[tokenizer_config.json] ", path.string(), ": not a JSON object");
  return config;
}

ConfigToken config_token(const nlohmann::json& config, const char* key, const std::string& where) {
  ConfigToken t;
  if (!config.is_object() || !config.contains(key)) return t;
  t.present = true;
  const nlohmann::json& v = config.at(key);
  if (v.is_null()) return t;
  if (v.is_string()) {
    t.content = v.get<std::string>();
  } else if (v.is_object() && v.contains("content") && v.at("content").is_string()) {
    t.content = v.at("content").get<std::string>();  // an AddedToken, as transformers saves it
  } else {
    VOLT_FAIL("[tokenizer_config.json] ", where, ": ", key,
              " must be a string, an object with a "
              "\"content\" string, or null; got ",
              v.dump());
  }
  return t;
}

std::optional<bool> config_flag(const nlohmann::json& config, const char* key,
                                const std::string& where) {
  if (!config.is_object() || !config.contains(key) || config.at(key).is_null()) return std::nullopt;
  const nlohmann::json& v = config.at(key);
  VOLT_CHECK(v.is_boolean(), "[tokenizer_config.json] ", where, ": ", key,
             " must be true or false, got ", v.dump());
  return v.get<bool>();
}

}  // namespace volt::detail

// tokenizer_config.json, as far as the tokenizers read it: the special tokens it names (a string
// or an AddedToken object) and the add_bos_token / add_eos_token switches. Shared by the
// tokenizer.json pipeline and SentencePiece .model files.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace volt::detail {

/// tokenizer_config.json in the directory of `tokenizer_file`, or null when there is none.
nlohmann::json read_tokenizer_config_beside(const std::string& tokenizer_file);

/// A special token key of tokenizer_config.json ("bos_token"): whether the key is there at all,
/// and the token's text (none when the value is null, as Qwen's bos_token is).
struct ConfigToken {
  bool present = false;
  std::optional<std::string> content;
};
/// A value that is neither null, a string nor an object with a string "content" is an error
/// naming `where` and the key.
ConfigToken config_token(const nlohmann::json& config, const char* key, const std::string& where);

/// A boolean key (add_bos_token): none when absent or null, an error when not a boolean.
std::optional<bool> config_flag(const nlohmann::json& config, const char* key,
                                const std::string& where);

}  // namespace volt::detail

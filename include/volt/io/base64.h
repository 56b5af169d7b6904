// Base64 (RFC 4648, standard alphabet) decoding: tiktoken's rank files and tokenizer.json's
// precompiled_charsmap store bytes this way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace volt::io {

/// The decoded bytes, stopping at the first '='; nullopt when a character is outside the alphabet.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace volt::io

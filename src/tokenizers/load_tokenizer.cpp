// Finds the tokenizer behind a path: a tokenizer.json file, or a directory holding one.
#include <filesystem>

#include "volt/core/check.h"
#include "volt/tokenizers/char_tokenizer.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  VOLT_CHECK(fs::exists(path), "[tokenizer] ", path, ": no such file or directory");
  const std::string file = fs::is_directory(path) ? (fs::path(path) / "tokenizer.json").string() : path;
  VOLT_CHECK(fs::exists(file), "[tokenizer] ", path, ": no tokenizer.json in this directory");
  if (auto t = CharTokenizer::try_load(file)) return t;
  VOLT_FAIL("[tokenizer] ", file, ": this tokenizer type is not supported yet (supported: char)");
}

}  // namespace volt

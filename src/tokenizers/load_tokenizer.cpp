// Finds the tokenizer behind a path: a file (tokenizer.json, vocab.json with merges.txt beside it,
// *.tiktoken, *.model) or a directory holding one of these, searched in that order.
#include <filesystem>

#include "volt/core/check.h"
#include "volt/tokenizers/char_tokenizer.h"
#include "volt/tokenizers/hf_tokenizer.h"
#include "volt/tokenizers/sentencepiece.h"
#include "volt/tokenizers/tiktoken.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::shared_ptr<Tokenizer> load_file(const fs::path& file) {
  const std::string name = file.filename().string();
  const std::string path = file.string();
  if (ends_with(name, ".tiktoken")) return TiktokenTokenizer::load(path);
  if (ends_with(name, ".model")) return SentencePieceTokenizer::load(path);
  if (name == "vocab.json" || name == "merges.txt") {
    const auto dir = file.parent_path();
    VOLT_CHECK(fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"), "[tokenizer] ",
               path, ": GPT-2 files need both vocab.json and merges.txt in ", dir.string());
    return HfTokenizer::load_gpt2_files((dir / "vocab.json").string(), (dir / "merges.txt").string());
  }
  if (ends_with(name, ".json")) {
    if (auto t = CharTokenizer::try_load(path)) return t;
    return HfTokenizer::load(path);
  }
  VOLT_FAIL("[tokenizer] ", path, ": unknown tokenizer file (expected tokenizer.json, vocab.json + "
            "merges.txt, *.tiktoken or a SentencePiece *.model)");
}

}  // namespace

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  VOLT_CHECK(fs::exists(path), "[tokenizer] ", path, ": no such file or directory");
  if (!fs::is_directory(path)) return load_file(path);
  const fs::path dir(path);
  for (const char* name : {"tokenizer.json", "vocab.json"}) {
    if (fs::exists(dir / name)) return load_file(dir / name);
  }
  for (const char* ext : {".tiktoken", ".model"}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (ends_with(entry.path().filename().string(), ext)) return load_file(entry.path());
    }
  }
  VOLT_FAIL("[tokenizer] ", path, ": no tokenizer in this directory (looked for tokenizer.json, "
            "vocab.json + merges.txt, *.tiktoken, *.model)");
}

}  // namespace volt

// volt tokenize --tokenizer PATH (--file F | --text T) [--bos] [--eos]   -> ids, space-separated
// volt tokenize --tokenizer PATH --decode [--file F]                     -> text (ids from stdin)
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {
namespace {

std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::vector<int64_t> parse_ids(const std::string& text, const std::string& source) {
  std::vector<int64_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    VOLT_CHECK(used == word.size() && id >= 0, "[tokenize] ", source, ": '", word,
               "' is not a token id (expected non-negative integers separated by whitespace)");
    ids.push_back(id);
  }
  return ids;
}

}  // namespace

Action add_tokenize(CLI::App& app) {
  struct Args {
    std::string tokenizer, file, text;
    bool bos = false, eos = false, decode = false, special = false, no_parse_special = false;
    bool skip_special = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--tokenizer", a->tokenizer,
                 "tokenizer.json, vocab.json/merges.txt, *.tiktoken, SentencePiece *.model, or a "
                 "directory holding one")
      ->required();
  auto* file =
      app.add_option("--file", a->file, "read the text (or, with --decode, the ids) from F");
  app.add_option("--text", a->text, "the text to encode")->excludes(file);
  app.add_flag("--bos", a->bos, "prepend the tokenizer's BOS id");
  app.add_flag("--eos", a->eos, "append the tokenizer's EOS id");
  app.add_flag("--add-special-tokens", a->special,
               "put the tokenizer's special tokens around the text, as Hugging Face's "
               "add_special_tokens does (e.g. Llama 3.1's and Gemma 3's BOS; none for Qwen3)");
  app.add_flag("--no-parse-special", a->no_parse_special,
               "treat special-token strings such as <|endoftext|> in the text as plain text");
  app.add_flag("--decode", a->decode, "ids (stdin or --file) to text");
  app.add_flag("--skip-special", a->skip_special, "with --decode: leave special tokens out");
  app.footer(
      "Encoding prints the ids of the whole input, as one text, as decimal numbers separated by "
      "single spaces; no special tokens are added unless asked. Decoding prints the text exactly.");
  return [a, file, &app]() {
    auto tok = load_tokenizer(a->tokenizer);
    if (a->decode) {
      const std::string source = a->file.empty() ? "stdin" : a->file;
      const auto ids = parse_ids(a->file.empty() ? read_stdin() : io::read_file(a->file), source);
      const std::string text = tok->decode(ids, a->skip_special);
      std::fwrite(text.data(), 1, text.size(), stdout);
      return 0;
    }
    VOLT_CHECK(file->count() > 0 || app.get_option("--text")->count() > 0,
               "[tokenize] give the text with --text T or --file F (or --decode to decode ids)");
    const std::string text = a->file.empty() ? a->text : io::read_file(a->file);
    EncodeOptions o;
    o.add_bos = a->bos;
    o.add_eos = a->eos;
    o.add_special_tokens = a->special;
    o.parse_special = !a->no_parse_special;
    check_utf8(text, a->file.empty() ? "--text" : a->file);
    const auto ids = tok->encode(text, o);
    std::string out;
    out.reserve(ids.size() * 6);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ' ';
      out += std::to_string(ids[i]);
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  };
}

}  // namespace volt::cli

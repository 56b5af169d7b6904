// volt tokenizer train --input FILE... --vocab-size N --out PATH [--min-frequency K]
//                      [--special-tokens "<|endoftext|>,..."]
//   Trains a byte-level BPE tokenizer (Hugging Face's BpeTrainer algorithm) and writes it as a
//   tokenizer.json; then prints the vocabulary, the merges, the compression on the training text
//   and the time taken.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "commands.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/core/progress_bar.h"
#include "volt/io/files.h"
#include "volt/tokenizers/bpe_trainer.h"

namespace volt::cli {
namespace {

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool ends_with_json(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

}  // namespace

Action add_tokenizer_train(CLI::App& app) {
  struct Args {
    std::vector<std::string> inputs;
    std::string out = "tokenizer";
    int64_t vocab_size = 4096;
    int64_t min_frequency = 2;
    std::string special_tokens = "<|endoftext|>";
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--input", a->inputs, "training text files (UTF-8; read one line at a time)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--vocab-size", a->vocab_size,
                 "final vocabulary size, special tokens and the 256 byte symbols included")
      ->capture_default_str()
      ->check(between(1, 1 << 30));
  app.add_option("--out", a->out,
                 "where to write: a path ending in .json (that file), or a directory "
                 "(tokenizer.json + tokenizer_config.json inside)")
      ->capture_default_str();
  app.add_option("--min-frequency", a->min_frequency,
                 "a pair merges only if it occurs at least K times")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--special-tokens", a->special_tokens,
                 "comma-separated special tokens, given ids 0..k-1 (\"\" for none)")
      ->capture_default_str();
  app.add_flag("--quiet", a->quiet, "no progress bars");
  app.footer(
      "Example: volt tokenizer train --input data/tinyshakespeare.txt --vocab-size 2048 "
      "--out tok/\n"
      "The result loads anywhere a tokenizer path is accepted (volt tokenize --tokenizer tok/) "
      "and in Hugging Face (PreTrainedTokenizerFast(tokenizer_file=...)).");

  return [a]() {
    const auto t0 = std::chrono::steady_clock::now();
    BpeTrainerOptions options;
    options.vocab_size = a->vocab_size;
    options.min_frequency = a->min_frequency;
    options.special_tokens = split_commas(a->special_tokens);

    // One bar per stage, on stderr so the summary on stdout stays clean.
    std::unique_ptr<ProgressBar> bar;
    std::string bar_stage;
    if (!a->quiet) {
      options.on_progress = [&](const BpeTrainerProgress& p) {
        if (!bar || p.stage != bar_stage) {
          if (bar) bar->finish();
          bar = std::make_unique<ProgressBar>(p.total, p.stage, stderr);
          bar_stage = p.stage;
        }
        bar->update(p.current, {});
      };
    }
    BpeTrainer trainer(options);
    for (const auto& path : a->inputs) trainer.feed_file(path);
    auto tok = trainer.tokenizer();
    if (bar) bar->finish();
    bar.reset();
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::string written;
    if (ends_with_json(a->out)) {
      const auto parent = std::filesystem::path(a->out).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      io::write_file_atomic(a->out, tok->json_text());
      written = a->out;
    } else {
      tok->save(a->out);
      written =
          (std::filesystem::path(a->out) / "tokenizer.json").string() + " + tokenizer_config.json";
    }

    // Compression on the training text itself: what the vocabulary was fitted to.
    int64_t bytes = 0, tokens = 0;
    for (const auto& path : a->inputs) {
      const std::string text = io::read_file(path);
      bytes += static_cast<int64_t>(text.size());
      tokens += static_cast<int64_t>(tok->encode(text).size());
    }
    const auto& s = trainer.stats();
    std::printf("wrote        %s\n", written.c_str());
    std::printf("vocab size   %lld (%zu special, 256 bytes, %lld merges)\n",
                static_cast<long long>(tok->vocab_size()), options.special_tokens.size(),
                static_cast<long long>(s.merges));
    std::printf("corpus       %lld bytes, %lld words (%lld distinct)\n",
                static_cast<long long>(s.bytes), static_cast<long long>(s.words),
                static_cast<long long>(s.unique_words));
    std::printf("compression  %.3f bytes/token (%lld tokens)\n",
                static_cast<double>(bytes) / static_cast<double>(std::max<int64_t>(tokens, 1)),
                static_cast<long long>(tokens));
    std::printf("time         %.2f s (merges %.2f s)\n", train_seconds, s.seconds);
    if (s.vocab_size < a->vocab_size) {
      std::printf("note         stopped at %lld < %lld: no pair left occurring %lld+ times\n",
                  static_cast<long long>(s.vocab_size), static_cast<long long>(a->vocab_size),
                  static_cast<long long>(std::max<int64_t>(a->min_frequency, 1)));
    }
    return 0;
  };
}

}  // namespace volt::cli

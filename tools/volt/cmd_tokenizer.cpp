// volt tokenizer bench --tokenizer PATH --file F [--threads N] [--repeats R]
//   Encodes the file as one text (or, with N threads, as N line-aligned chunks encoded in
//   parallel) R times after a warm-up run and prints the median MB/s and tokens/s, and the cold
//   first run.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "commands.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {
namespace {

// N pieces of about equal size, cut after a newline so words are not split.
std::vector<std::string> line_chunks(const std::string& text, int n) {
  std::vector<std::string> out;
  size_t start = 0;
  for (int i = 1; i <= n && start < text.size(); ++i) {
    size_t end =
        i == n ? text.size() : text.size() * static_cast<size_t>(i) / static_cast<size_t>(n);
    if (end < text.size()) {
      const size_t nl = text.find('\n', end);
      end = nl == std::string::npos ? text.size() : nl + 1;
    }
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

Action add_bench(CLI::App& app) {
  struct Args {
    std::string tokenizer, file;
    int threads = 1, repeats = 5;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--tokenizer", a->tokenizer, "tokenizer path (file or directory)")->required();
  app.add_option("--file", a->file, "text to encode")->required()->check(CLI::ExistingFile);
  app.add_option("--threads", a->threads, "encoding threads")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--repeats", a->repeats, "timed runs after the warm-up (median reported)")
      ->capture_default_str()
      ->check(at_least(1));
  return [a]() {
    auto tok = load_tokenizer(a->tokenizer);
    const std::string text = io::read_file(a->file);
    const auto chunks = line_chunks(text, a->threads);
    size_t tokens = 0;
    auto run = [&] {
      const auto t0 = std::chrono::steady_clock::now();
      if (a->threads == 1) {
        tokens = tok->encode(text).size();
      } else {
        tokens = 0;
        for (const auto& ids : tok->encode_batch(chunks, {}, a->threads)) tokens += ids.size();
      }
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const double cold = run();
    std::vector<double> times;
    for (int r = 0; r < a->repeats; ++r) times.push_back(run());
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("tokenizer  %s (%s)\n", a->tokenizer.c_str(), tok->kind().c_str());
    std::printf(
        "text       %s: %.3f MB, %zu tokens (%.2f bytes/token)\n", a->file.c_str(), mb, tokens,
        static_cast<double>(text.size()) / static_cast<double>(std::max<size_t>(tokens, 1)));
    std::printf("threads    %d\n", a->threads);
    std::printf("speed      %.1f MB/s, %.0f tokens/s (median of %d runs, %.1f ms)\n", mb / median,
                static_cast<double>(tokens) / median, a->repeats, median * 1e3);
    std::printf("cold run   %.1f MB/s (%.1f ms, empty word caches)\n", mb / cold, cold * 1e3);
    return 0;
  };
}

}  // namespace

Action add_tokenizer(CLI::App& app) {
  app.require_subcommand(1);
  auto* bench = app.add_subcommand("bench", "Measure encoding speed (MB/s, tokens/s)");
  auto bench_action = add_bench(*bench);
  auto* train =
      app.add_subcommand("train", "Train a byte-level BPE tokenizer (writes tokenizer.json)");
  auto train_action = add_tokenizer_train(*train);
  return [bench, bench_action, train, train_action]() {
    if (bench->parsed()) return bench_action();
    if (train->parsed()) return train_action();
    return 0;
  };
}

}  // namespace volt::cli

// volt data prepare --config FILE [--force] [--data.key=value ...]
//   Tokenizes the config's corpus into its token cache (or finds it current) and says how fast.
// volt data stats --config FILE [--split all|train|val|test] [--json] [--plot FILE] [overrides]
//   Documents, tokens, a document-length histogram (printed and plotted), and for each collator
//   the share of padding and the real tokens per batch at the config's block and batch size.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "recipe.h"
#include "sft_stats.h"
#include "usage.h"
#include "volt/core/svg_plot.h"

namespace volt::cli {
namespace {

namespace fs = std::filesystem;

std::string thousands(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > (v < 0 ? 1 : 0); i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

Action add_prepare(CLI::App& app) {
  struct Args {
    std::string config;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("-c,--config", a->config, "YAML recipe whose data section has module: llm or sft")
      ->required();
  app.add_flag("--force", a->force, "rebuild the token cache even if it is current");
  app.footer(
      "Overrides: --data.tokenizer=tokenizers/gpt2 --data.tokenize_threads=2 ...\n"
      "The cache lives in data.cache_dir (default $VOLT_CACHE_DIR or ~/.cache/volt/data).");
  return [&app, a]() {
    Config config = load_config(std::vector<std::string>{a->config}, collect_overrides(app));
    if (data_module_name(config) == "sft") return sft_data_prepare(config);
    auto dm = build_llm_data(config);
    if (a->force) {
      auto o = dm->options();
      o.cache.force_rebuild = true;
      dm = std::make_shared<LLMDataModule>(o);
    }
    dm->prepare_data();
    const auto& r = dm->cache_report();
    const auto& c = dm->cache();
    const double mb = static_cast<double>(r.input_bytes) / 1e6;
    std::printf("%s: %s documents, %s tokens (%s), %.1f MB of text\n", c.dir().c_str(),
                thousands(c.num_documents()).c_str(), thousands(c.num_tokens()).c_str(),
                c.bytes_per_token() == 2 ? "uint16" : "uint32", mb);
    if (r.built) {
      std::printf("built in %.2f s: %.1f MB/s (%s)\n", r.seconds, mb / std::max(r.seconds, 1e-9),
                  r.reason.c_str());
    } else {
      std::printf("current: reopened in %.3f s\n", r.seconds);
    }
    return 0;
  };
}

struct Histogram {
  std::vector<std::string> labels;
  std::vector<int64_t> counts;
};

// Powers-of-two bins: lengths span three or four orders of magnitude in real corpora.
Histogram length_histogram(const std::vector<int64_t>& lengths) {
  Histogram h;
  int64_t longest = lengths.empty() ? 1 : *std::max_element(lengths.begin(), lengths.end());
  int64_t lo = 0, hi = 16;
  while (lo <= longest) {
    h.labels.push_back(lo == 0 ? "<" + std::to_string(hi)
                               : std::to_string(lo) + "-" + std::to_string(hi - 1));
    int64_t n = 0;
    for (int64_t l : lengths) n += (l >= lo && l < hi) ? 1 : 0;
    h.counts.push_back(n);
    lo = hi;
    hi *= 2;
  }
  return h;
}

Action add_stats(CLI::App& app) {
  struct Args {
    std::string config, split = "all", plot;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("-c,--config", a->config, "YAML recipe whose data section has module: llm or sft")
      ->required();
  app.add_option("--split", a->split, "documents to describe: all, train, val or test")
      ->capture_default_str()
      ->check(one_of({"all", "train", "val", "test"}));
  app.add_flag("--json", a->json,
               "print {\"documents\", \"tokens\", \"padding_fraction\": {static, dynamic, packed, "
               "concat}, ...}");
  app.add_option("--plot", a->plot,
                 "where to write the length histogram (default: in the cache directory)");
  app.footer(
      "Block and batch size come from the config: --data.block_size=1024 --data.batch_size=8.");
  return [&app, a]() {
    Config config = load_config(std::vector<std::string>{a->config}, collect_overrides(app));
    if (data_module_name(config) == "sft") return sft_data_stats(config, a->split, a->json);
    auto dm = build_llm_data(config);
    dm->set_progress(!a->json);
    dm->setup("fit");
    const auto docs = dm->documents(a->split);
    std::vector<int64_t> lengths;
    int64_t tokens = 0;
    for (int64_t d : docs) {
      lengths.push_back(dm->cache().document_length(d));
      tokens += lengths.back();
    }
    std::vector<CollatorStats> stats;
    for (const auto& name : collator_names()) stats.push_back(dm->collator_stats(name, docs));

    const Histogram hist = length_histogram(lengths);
    std::vector<Bar> bars;
    for (size_t i = 0; i < hist.labels.size(); ++i)
      bars.push_back({hist.labels[i], static_cast<double>(hist.counts[i])});
    const std::string plot =
        a->plot.empty() ? (fs::path(dm->cache().dir()) / ("lengths-" + a->split + ".svg")).string()
                        : a->plot;
    write_bar_chart_svg(plot, bars, "Document lengths (" + a->split + ")", "tokens per document",
                        "documents");

    const auto& o = dm->options();
    // What the loader produces on one thread: batches of the configured collator, built from the
    // memory-mapped cache (the other side of the model's tokens/s).
    auto loader = dm->train_dataloader();
    const int64_t timed = std::min<int64_t>(loader->size(), 200);
    int64_t loaded = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < timed; ++i) loaded += loader->get(0, i).input_ids.numel();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double loader_tps = static_cast<double>(loaded) / std::max(secs, 1e-9);
    if (a->json) {
      nlohmann::json j;
      j["loader_tokens_per_sec"] = loader_tps;
      j["documents"] = static_cast<int64_t>(docs.size());
      j["tokens"] = tokens;
      j["split"] = a->split;
      j["block_size"] = o.block_size;
      j["batch_size"] = o.batch_size;
      for (const auto& s : stats) {
        j["padding_fraction"][s.collator] = s.padding.padding_fraction();
        j["tokens_per_batch"][s.collator] = s.padding.tokens_per_batch();
        j["rows"][s.collator] = s.rows;
      }
      j["plot"] = plot;
      std::printf("%s\n", j.dump().c_str());
      return 0;
    }
    std::vector<int64_t> sorted = lengths;
    std::sort(sorted.begin(), sorted.end());
    std::printf("documents: %s (%s split)   tokens: %s\n",
                thousands(static_cast<int64_t>(docs.size())).c_str(), a->split.c_str(),
                thousands(tokens).c_str());
    if (!sorted.empty()) {
      std::printf("tokens per document: min %lld, median %lld, mean %.0f, max %lld\n",
                  static_cast<long long>(sorted.front()),
                  static_cast<long long>(sorted[sorted.size() / 2]),
                  static_cast<double>(tokens) / static_cast<double>(sorted.size()),
                  static_cast<long long>(sorted.back()));
    }
    std::printf("\nlength histogram (tokens per document):\n");
    const int64_t most =
        std::max<int64_t>(1, *std::max_element(hist.counts.begin(), hist.counts.end()));
    for (size_t i = 0; i < hist.labels.size(); ++i) {
      const int width = static_cast<int>(
          std::lround(40.0 * static_cast<double>(hist.counts[i]) / static_cast<double>(most)));
      std::string bar;
      for (int k = 0; k < width; ++k) bar += "\u2588";
      std::printf("  %13s %7lld %s\n", hist.labels[i].c_str(),
                  static_cast<long long>(hist.counts[i]), bar.c_str());
    }
    std::printf("plot: %s\n\n", plot.c_str());
    std::printf("collators at block_size %lld, batch_size %lld:\n",
                static_cast<long long>(o.block_size), static_cast<long long>(o.batch_size));
    std::printf("  %-8s %8s %8s %9s %14s\n", "collator", "rows", "batches", "padding",
                "tokens/batch");
    for (const auto& s : stats) {
      std::printf("  %-8s %8lld %8lld %8.2f%% %14.1f\n", s.collator.c_str(),
                  static_cast<long long>(s.rows), static_cast<long long>(s.padding.batches),
                  100.0 * s.padding.padding_fraction(), s.padding.tokens_per_batch());
    }
    // The other sampler, for comparison: what length grouping does (or would do) to dynamic.
    const auto other = dm->collator_stats("dynamic", docs, !o.group_by_length);
    std::printf("  %-8s %8lld %8lld %8.2f%% %14.1f   (data.group_by_length=%s)\n", "dynamic",
                static_cast<long long>(other.rows), static_cast<long long>(other.padding.batches),
                100.0 * other.padding.padding_fraction(), other.padding.tokens_per_batch(),
                o.group_by_length ? "false" : "true");
    std::printf("\nloader (%s collator, one thread): %.0f batches/s = %.3g tokens/s\n",
                o.collator.c_str(), static_cast<double>(timed) / std::max(secs, 1e-9), loader_tps);
    std::printf(
        "static: padded to block_size; dynamic: to the longest row of each batch%s; packed: "
        "best-fit decreasing, no attention across documents; concat: nanoGPT's stream\n",
        o.group_by_length ? " (length-grouped)" : "");
    return 0;
  };
}

}  // namespace

Action add_data(CLI::App& app) {
  app.require_subcommand(1);
  auto* prepare = app.add_subcommand("prepare", "Tokenize a config's corpus into its token cache");
  auto* stats =
      app.add_subcommand("stats", "Documents, tokens, length histogram and padding per collator");
  auto run_prepare = add_prepare(*prepare);
  auto run_stats = add_stats(*stats);
  return [prepare, run_prepare, run_stats]() {
    return prepare->parsed() ? run_prepare() : run_stats();
  };
}

}  // namespace volt::cli

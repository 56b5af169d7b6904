// volt bench --config FILE --grid KEY=V1,V2 [KEY=V1,V2 ...] [--steps N] [--warmup W] [--out DIR]
//            [--json] [--section.key=value ...]
//   Trains the recipe at every point of the grid (the cartesian product of the values) for
//   warmup + steps optimizer steps and measures the median step time, tokens/s, the peak of
//   live tensor memory and MFU (train/throughput.h). Grid keys are config keys (trainer.precision)
//   or the short names precision, accumulate, micro_batch, block_size, activation_checkpointing.
//   Writes DIR/bench.csv, DIR/bench-tokens.svg and DIR/bench-memory.svg; prints a table.
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "recipe.h"
#include "usage.h"
#include "volt/core/atomic_file.h"
#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/core/cpu_runtime.h"
#include "volt/core/memory_stats.h"
#include "volt/core/svg_plot.h"
#include "volt/train/throughput.h"

namespace volt::cli {

namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::string>& short_keys() {
  static const std::map<std::string, std::string> m = {
      {"precision", "trainer.precision"},
      {"accumulate", "trainer.accumulate_grad_batches"},
      {"micro_batch", "data.batch_size"},
      {"block_size", "data.block_size"},
      {"activation_checkpointing", "model.activation_checkpointing"},
  };
  return m;
}

struct Axis {
  std::string name, key;  // as given, and the config key
  std::vector<std::string> values;
};

std::vector<Axis> parse_grid(const std::vector<std::string>& items) {
  std::vector<Axis> axes;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    VOLT_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < item.size(), "[bench] --grid item '",
               item, "' is not KEY=V1,V2 (e.g. precision=32-true,bf16-mixed)");
    Axis a;
    a.name = item.substr(0, eq);
    const auto it = short_keys().find(a.name);
    a.key = it != short_keys().end() ? it->second : a.name;
    VOLT_CHECK(a.key.find('.') != std::string::npos, "[bench] --grid key '", a.name,
               "' is neither a config key "
               "(section.key) nor one of precision, accumulate, micro_batch, block_size, "
               "activation_checkpointing");
    std::stringstream ss(item.substr(eq + 1));
    for (std::string v; std::getline(ss, v, ',');) {
      if (!v.empty()) a.values.push_back(v);
    }
    VOLT_CHECK(!a.values.empty(), "[bench] --grid item '", item, "' has no values");
    axes.push_back(a);
  }
  return axes;
}

// Every combination of the axes' values, the first axis varying slowest.
std::vector<std::vector<std::string>> points_of(const std::vector<Axis>& axes) {
  std::vector<std::vector<std::string>> points{{}};
  for (const auto& a : axes) {
    std::vector<std::vector<std::string>> next;
    for (const auto& p : points) {
      for (const auto& v : a.values) {
        auto q = p;
        q.push_back(v);
        next.push_back(q);
      }
    }
    points = next;
  }
  return points;
}

struct Result {
  std::vector<std::string> values;
  double step_seconds = 0, tokens_per_sec = 0, peak_bytes = 0, mfu = 0;
  int64_t tokens_per_step = 0;
  std::string error;  // a point that could not run (e.g. 16-mixed on a CPU) says why
};

// Tokens of a step, counted from the batches the steps really took.
class TokenCounter : public Callback {
 public:
  std::string name() const override { return "TokenCounter"; }
  void on_train_batch_end(Trainer& t, LightningModule& m, const torch::Tensor&, const Batch& b,
                          int64_t) override {
    tokens = m.tokens_in(b) * t.options().accumulate_grad_batches();
  }
  int64_t tokens = 0;
};

// The device the recipe's Trainer will pick (trainer.accelerator), known before anything is built
// so that the memory baseline precedes the model.
torch::Device device_of(const Config& config) {
  std::string accelerator = "auto";
  const auto& root = config.root();
  if (root["trainer"] && root["trainer"]["accelerator"])
    accelerator = root["trainer"]["accelerator"].as<std::string>();
  const bool cuda = accelerator == "cuda" || (accelerator == "auto" && compat::cuda_available());
  return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

std::string label_of(const std::vector<Axis>& axes, const std::vector<std::string>& values) {
  std::string s;
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? " " : "") + axes[i].name + "=" + values[i];
  return s;
}

// A bar's label, short enough to read under it: "bf16-mixed acc4 mb12".
std::string short_label(const std::vector<Axis>& axes, const std::vector<std::string>& values) {
  static const std::map<std::string, std::string> abbrev = {{"precision", ""},
                                                            {"accumulate", "acc"},
                                                            {"micro_batch", "mb"},
                                                            {"block_size", "T"},
                                                            {"activation_checkpointing", "ckpt="}};
  std::string s;
  for (size_t i = 0; i < axes.size(); ++i) {
    const auto it = abbrev.find(axes[i].name);
    const std::string name =
        it != abbrev.end() ? it->second : axes[i].name.substr(axes[i].name.rfind('.') + 1) + "=";
    s += (i ? " " : "") + name + values[i];
  }
  return s;
}

}  // namespace

Action add_train_bench(CLI::App& app) {
  struct Args {
    std::string config, out;
    std::vector<std::string> grid;
    int64_t steps = 10, warmup = 2;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("-c,--config", a->config, "YAML recipe, as for volt fit")->required();
  app.add_option("--grid", a->grid,
                 "KEY=V1,V2 ... : precision, accumulate, micro_batch, block_size, "
                 "activation_checkpointing, or any section.key")
      ->required()
      ->expected(1, -1);
  app.add_option("--steps", a->steps, "timed optimizer steps per point")->capture_default_str();
  app.add_option("--warmup", a->warmup, "untimed steps first (allocator, caches, thread pools)")
      ->capture_default_str();
  app.add_option("--out", a->out,
                 "where bench.csv and the plots go (default runs/bench-<config name>)");
  app.add_flag("--json", a->json, "print the results as JSON");
  app.footer(
      "Example: volt bench --config configs/babygpt-shakespeare-char.yaml --grid "
      "precision=32-true,bf16-mixed "
      "accumulate=1,4 micro_batch=4,12\nOther overrides apply to every point: --model.n_layer=2.");
  return [&app, a]() {
    VOLT_CHECK(a->steps >= 1 && a->warmup >= 0, "[bench] --steps must be >= 1 and --warmup >= 0");
    const auto overrides = collect_overrides(app);
    const auto axes = parse_grid(a->grid);
    const auto points = points_of(axes);
    std::string out = a->out;
    if (out.empty())
      out = (fs::path("runs") / ("bench-" + fs::path(a->config).stem().string())).string();
    fs::create_directories(out);

    memory::track_cpu_allocations();
    configure_cpu_threads(0);
    std::map<torch::Dtype, std::pair<double, std::string>> peaks;  // measured once per dtype
    std::vector<Result> results;
    for (size_t i = 0; i < points.size(); ++i) {
      Result r;
      r.values = points[i];
      const std::string label = label_of(axes, r.values);
      if (!a->json)
        std::fprintf(stderr, "[bench] %zu/%zu %s\n", i + 1, points.size(), label.c_str());
      try {
        auto assignments = overrides;
        for (size_t k = 0; k < axes.size(); ++k)
          assignments.push_back(axes[k].key + "=" + r.values[k]);
        const std::string run_dir = (fs::path(out) / ("point-" + std::to_string(i))).string();
        for (const auto& s :
             {"trainer.max_steps=" + std::to_string(a->warmup + a->steps),
              std::string("trainer.enable_checkpointing=false"),
              std::string("trainer.logger=false"), std::string("trainer.enable_progress_bar=false"),
              std::string("trainer.limit_val_batches=0"), "trainer.default_root_dir=" + run_dir}) {
          assignments.push_back(s);
        }
        Config config = load_config(std::vector<std::string>{a->config}, assignments);
        const torch::Device device = device_of(config);
        const int64_t before = memory::stats(device).current_bytes;
        memory::reset_peak(device);
        Recipe recipe = build_recipe(config);
        std::vector<std::shared_ptr<Callback>> callbacks;
        for (auto& c : recipe.callbacks) {
          if (!dynamic_cast<ModelCheckpoint*>(c.get())) callbacks.push_back(c);  // no disk writes
        }
        auto timer = std::make_shared<StepTimer>(a->warmup);
        auto counter = std::make_shared<TokenCounter>();
        callbacks.push_back(timer);
        callbacks.push_back(counter);
        Trainer trainer(recipe.trainer, callbacks);
        trainer.fit(*recipe.module, *recipe.data);
        r.peak_bytes = static_cast<double>(memory::stats(device).peak_bytes - before);
        r.step_seconds = timer->median();
        r.tokens_per_step = counter->tokens;
        r.tokens_per_sec =
            r.step_seconds > 0 ? static_cast<double>(r.tokens_per_step) / r.step_seconds : 0;
        const auto& mc = recipe.module->lm->config();
        const auto dtype = compute_dtype(recipe.trainer.precision());
        if (!peaks.count(dtype)) peaks[dtype] = peak_flops(device, dtype);
        const int64_t t = recipe.module->tokens_in(recipe.data->train_dataloader()->get(0, 0)) /
                          recipe.data->train_dataloader()->get(0, 0).batch_size();
        r.mfu = training_flops_per_token(mc, t) * r.tokens_per_sec / peaks[dtype].first;
      } catch (const Error& e) {
        r.error = e.what();
        if (!a->json) std::fprintf(stderr, "[bench] %s: %s\n", label.c_str(), e.what());
      }
      results.push_back(r);
    }

    size_t failed = 0;
    for (const auto& r : results) failed += r.error.empty() ? 0 : 1;
    VOLT_CHECK(failed < results.size(),
               "[bench] every point failed; the first: ", results.front().error);
    // CSV, plots, table.
    {
      std::vector<std::string> header;
      for (const auto& ax : axes) header.push_back(ax.name);
      std::string csv;
      for (const auto& h : header) csv += h + ",";
      csv += "step_seconds,tokens_per_step,tokens_per_sec,peak_mem_bytes,mfu,error\n";
      for (const auto& r : results) {
        for (const auto& v : r.values) csv += v + ",";
        char row[256];
        std::snprintf(row, sizeof row, "%.6f,%" PRId64 ",%.1f,%.0f,%.6f,", r.step_seconds,
                      r.tokens_per_step, r.tokens_per_sec, r.peak_bytes, r.mfu);
        std::string err = r.error;
        for (auto& ch : err) ch = ch == ',' || ch == '\n' ? ';' : ch;
        csv += row + err + "\n";
      }
      write_file_atomic((fs::path(out) / "bench.csv").string(), csv);
      std::vector<Bar> tps, mem;
      for (const auto& r : results) {
        if (!r.error.empty()) continue;
        const std::string label = short_label(axes, r.values);
        tps.push_back({label, r.tokens_per_sec});
        mem.push_back({label, r.peak_bytes / 1048576.0});
      }
      write_bar_chart_svg((fs::path(out) / "bench-tokens.svg").string(), tps, "Throughput", "",
                          "tokens/s");
      write_bar_chart_svg((fs::path(out) / "bench-memory.svg").string(), mem, "Peak tensor memory",
                          "", "MiB");
    }
    if (a->json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : results) {
        nlohmann::json p;
        for (size_t k = 0; k < axes.size(); ++k) p[axes[k].name] = r.values[k];
        p["step_seconds"] = r.step_seconds;
        p["tokens_per_step"] = r.tokens_per_step;
        p["tokens_per_sec"] = r.tokens_per_sec;
        p["peak_mem_bytes"] = r.peak_bytes;
        p["mfu"] = r.mfu;
        if (!r.error.empty()) p["error"] = r.error;
        j.push_back(p);
      }
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf("\n");
    for (const auto& [dtype, peak] : peaks) {
      std::printf("peak %s: %.1f GFLOP/s (%s)\n", c10::toString(dtype), peak.first / 1e9,
                  peak.second.c_str());
    }
    std::printf("%d timed steps per point after %d warm-up steps; medians\n\n",
                static_cast<int>(a->steps), static_cast<int>(a->warmup));
    for (const auto& ax : axes)
      std::printf("%-*s ", static_cast<int>(std::max<size_t>(ax.name.size(), 10)), ax.name.c_str());
    std::printf("%10s %10s %12s %10s %7s\n", "step ms", "tokens", "tokens/s", "peak MiB", "MFU");
    for (const auto& r : results) {
      for (size_t k = 0; k < axes.size(); ++k) {
        std::printf("%-*s ", static_cast<int>(std::max<size_t>(axes[k].name.size(), 10)),
                    r.values[k].c_str());
      }
      if (!r.error.empty()) {
        std::printf("failed: %s\n", r.error.c_str());
        continue;
      }
      std::printf("%10.1f %10" PRId64 " %12.0f %10.1f %6.2f%%\n", 1000 * r.step_seconds,
                  r.tokens_per_step, r.tokens_per_sec, r.peak_bytes / 1048576.0, 100 * r.mfu);
    }
    std::printf("\nwrote %s/bench.csv, bench-tokens.svg, bench-memory.svg\n", out.c_str());
    return 0;
  };
}

}  // namespace volt::cli

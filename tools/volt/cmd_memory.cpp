// volt memory --model PRESET|DIR [--precision P] [--optimizer adamw|sgd] [--micro-batch B]
//             [--seq-len T] [--activation-checkpointing] [--world-size N --strategy ddp|fsdp]
//             [--lora-rank R --lora-targets q_proj,v_proj] [--quant nf4] [--json] [--measure STEPS]
//   The memory a training run needs, by arithmetic (train/memory_estimate.h): weights, gradients,
//   optimizer states, activations and the loss head, per rank, and the bytes each trainable
//   parameter costs. --measure runs that many training steps of random tokens on this machine's
//   CPU and prints the peak of live tensor bytes (LibTorch's allocator, counted) beside it.
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "commands.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/models/pretrained.h"
#include "volt/train/memory_estimate.h"

namespace volt::cli {

namespace {

namespace fs = std::filesystem;

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) bytes /= 1024.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

Action add_memory(CLI::App& app) {
  struct Args {
    std::string model, precision = "32-true", optimizer = "adamw", strategy = "single",
                       targets = "q_proj,v_proj";
    std::string quant;
    int64_t micro_batch = 1, seq_len = 0, world_size = 1, lora_rank = 0, measure = 0;
    bool checkpointing = false, json = false, no_master = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--model", a->model,
                 "a preset (gpt2, llama-3-8b, babygpt-shakespeare, ...) or a Hugging Face "
                 "directory")
      ->required();
  app.add_option("--precision", a->precision, "32-true | bf16-mixed | 16-mixed | bf16-true")
      ->capture_default_str()
      ->check(one_of({"32-true", "32", "bf16-mixed", "16-mixed", "bf16-true"}));
  app.add_flag("--no-master-weights", a->no_master, "bf16-true without fp32 master weights");
  app.add_option("--optimizer", a->optimizer, "adamw | sgd")
      ->capture_default_str()
      ->check(one_of({"adamw", "sgd"}));
  app.add_option("--micro-batch", a->micro_batch, "rows per micro-batch")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--seq-len", a->seq_len,
                 "tokens per row (default: the model's context, at most 2048)")
      ->check(at_least(1));
  app.add_flag("--activation-checkpointing", a->checkpointing,
               "keep only each block's input for backward");
  app.add_option("--world-size", a->world_size, "processes (ranks)")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--strategy", a->strategy, "single | ddp | fsdp")
      ->capture_default_str()
      ->check(one_of({"single", "ddp", "fsdp"}));
  app.add_option("--lora-rank", a->lora_rank, "LoRA rank r (0: full fine-tuning)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--lora-targets", a->targets, "comma-separated Linear names, or all-linear")
      ->capture_default_str();
  app.add_option("--quant", a->quant, "nf4: 4-bit base weights (QLoRA)")->check(one_of({"nf4"}));
  app.add_flag("--json", a->json, "print the figures as JSON (bytes)");
  app.add_option("--measure", a->measure,
                 "train this many steps of random tokens on the CPU and print the "
                 "measured peak beside the estimate")
      ->check(at_least(0));
  return [a]() {
    MemoryPlan plan;
    plan.model =
        fs::is_directory(a->model) ? load_model_config(a->model) : ModelConfig::preset(a->model);
    plan.precision = a->precision == "32" ? "32-true" : a->precision;
    plan.master_weights = !a->no_master;
    plan.optimizer = a->optimizer;
    plan.micro_batch = a->micro_batch;
    // A fine-tune rarely uses a long model's whole context (Llama 3.1: 131072); 2048 unless asked.
    const bool seq_defaulted = a->seq_len == 0 && plan.model.block_size > 2048;
    plan.seq_len = a->seq_len > 0 ? a->seq_len : std::min<int64_t>(plan.model.block_size, 2048);
    plan.activation_checkpointing = a->checkpointing;
    plan.world_size = a->world_size;
    plan.strategy = a->world_size > 1 && a->strategy == "single" ? "ddp" : a->strategy;
    plan.lora_rank = a->lora_rank;
    plan.lora_targets = split_list(a->targets);
    plan.quant = a->quant;
    const MemoryEstimate e = estimate_memory(plan);
    const int64_t measured = a->measure > 0 ? measure_training_peak(plan, a->measure) : -1;
    const int64_t t = plan.seq_len > 0 ? plan.seq_len : plan.model.block_size;
    // Bytes per trainable parameter describe full training; under LoRA the frozen base dominates.
    const bool full = plan.lora_rank == 0 && plan.quant.empty();
    const double per_param =
        (e.weights + e.gradients + e.optimizer) / static_cast<double>(e.trainable_params);

    if (a->json) {
      nlohmann::json j;
      j["model"] = a->model;
      j["precision"] = plan.precision;
      j["total_params"] = e.total_params;
      j["active_params"] = e.active_params;
      j["trainable_params"] = e.trainable_params;
      j["weights_bytes"] = e.weights;
      j["gradients_bytes"] = e.gradients;
      j["optimizer_bytes"] = e.optimizer;
      j["activations_bytes"] = e.activations;
      j["head_bytes"] = e.head;
      j["peak_bytes"] = e.peak();
      if (full) j["bytes_per_trainable_param"] = per_param;
      j["seq_len"] = t;
      if (measured >= 0) j["measured_peak_bytes"] = measured;
      j["notes"] = e.notes;
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf(
        "%s: %s parameters, %s trainable (%.2f%%)\n", a->model.c_str(),
        with_commas(e.total_params).c_str(), with_commas(e.trainable_params).c_str(),
        100.0 * static_cast<double>(e.trainable_params) / static_cast<double>(e.total_params));
    if (e.active_params != e.total_params) {
      std::printf("mixture of experts: %s parameters active per token (%d of %d experts)\n",
                  with_commas(e.active_params).c_str(),
                  static_cast<int>(plan.model.n_experts_per_tok),
                  static_cast<int>(plan.model.n_experts));
    }
    std::printf("%s, %s, micro-batch %" PRId64 " x %" PRId64 " tokens%s, %s%s\n\n",
                plan.precision.c_str(), plan.optimizer.c_str(), plan.micro_batch, t,
                plan.activation_checkpointing ? ", checkpointed" : "",
                plan.strategy == "single" ? "one process" : plan.strategy.c_str(),
                plan.world_size > 1
                    ? (" x " + std::to_string(plan.world_size) + " ranks (per rank)").c_str()
                    : "");
    auto row = [](const char* what, double bytes) {
      std::printf("  %-28s %12s\n", what, human(bytes).c_str());
    };
    row("weights", e.weights);
    row("gradients", e.gradients);
    row("optimizer states", e.optimizer);
    row("activations (saved)", e.activations);
    row("loss head (B x T x V)", e.head);
    std::printf("  %-28s %12s\n", "----------------------------", "------------");
    row("peak (estimate)", e.peak());
    if (measured >= 0) {
      row("peak (measured, CPU)", static_cast<double>(measured));
      std::printf(
          "  %-28s %11.1f%%\n", "estimate vs measured",
          100.0 * (e.peak() - static_cast<double>(measured)) / static_cast<double>(measured));
    }
    if (full) {
      std::printf(
          "\n%.1f bytes per trainable parameter before activations (weights + gradients + "
          "optimizer)\n",
          per_param);
    } else {
      std::printf(
          "\nthe weights are the frozen base and the adapters; gradients and optimizer states are "
          "the "
          "adapters' alone\n");
    }
    if (seq_defaulted) {
      std::printf("note: --seq-len defaults to 2048 (the model's context is %" PRId64
                  " tokens; --seq-len sets it)\n",
                  plan.model.block_size);
    }
    for (const auto& n : e.notes) std::printf("note: %s\n", n.c_str());
    return 0;
  };
}

}  // namespace volt::cli

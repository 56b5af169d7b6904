#include "model_loading.h"

#include <filesystem>

#include "volt/core/check.h"
#include "volt/dist/fsdp.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"

namespace volt::cli {

namespace fs = std::filesystem;

bool is_sharded_checkpoint(const std::string& dir) {
  return fs::exists(fs::path(dir) / "fsdp_index.json");
}

void load_sharded_weights(CausalLMImpl& model, const std::string& dir) {
  load_named_parameters(model, dist::consolidate_sharded_checkpoint(dir), "lm.", dir);
}

std::string base_model_dir(const std::string& dir, std::string& adapter, const std::string& who) {
  std::string base = dir;
  if (adapter.empty() && !dir.empty() && fs::exists(fs::path(dir) / "adapter_config.json") &&
      !fs::exists(fs::path(dir) / "config.json")) {
    adapter = dir;  // a LoRA checkpoint: the adapter, on the base its config names
    base.clear();
  }
  if (base.empty() && !adapter.empty())
    base = peft::read_adapter_config(adapter).base_model_name_or_path;
  VOLT_CHECK(!base.empty(), who, " no model: pass --model DIR",
             adapter.empty() ? "" : " (the adapter's adapter_config.json names no base model)");
  VOLT_CHECK(fs::is_directory(base), who, " ", base, ": no such model directory");
  return base;
}

std::string tokenizer_dir(const std::string& dir, const std::string& adapter) {
  if (!adapter.empty()) {
    const fs::path a(adapter);
    if (fs::exists(a / "tokenizer.json") || fs::exists(a / "tokenizer.model") ||
        fs::exists(a / "vocab.json")) {
      return adapter;
    }
  }
  return dir;
}

CausalLM load_model(const std::string& dir, const std::string& adapter, bool merge) {
  CausalLM model{nullptr};
  if (is_sharded_checkpoint(dir)) {
    model = CausalLM(load_model_config(dir));
    load_sharded_weights(*model, dir);
  } else {
    model = from_pretrained(dir);
  }
  if (!adapter.empty()) {
    peft::load_adapter(*model, adapter);
    if (merge) peft::merge_lora(*model);
  }
  return model;
}

}  // namespace volt::cli

#include "volt/models/pretrained.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"

namespace volt {

namespace fs = std::filesystem;

namespace {

bool is_adapter_parameter(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

// Our module's parameters under their Hugging Face names (ours are transformers' already), plus
// the zero biases a bias-free GPT-2 still shows to transformers, whose GPT-2 always has biases.
struct HfEntry {
  std::string hf_name;
  torch::Tensor param;  // our parameter, or undefined for a virtual zero bias
  std::vector<int64_t> hf_shape;
  bool transposed = false;  // GPT-2's Conv1D: stored (in, out)
  nn::LinearImpl* deferred =
      nullptr;  // a Linear whose weight is still to be made (DeferLinearWeights)
};

std::vector<HfEntry> hf_entries(const CausalLMImpl& model_in) {
  auto& model = const_cast<CausalLMImpl&>(model_in);  // named_modules() is not const
  const auto& names = model.config().names;
  // Which parameters are a Linear's weight (GPT-2 stores those transposed), and which are deferred.
  std::map<const void*, std::pair<std::string, nn::LinearImpl*>> linear_weight;
  std::vector<std::pair<std::string, std::vector<int64_t>>> zero_biases;
  for (const auto& kv : model.named_modules("", false)) {
    if (auto* l = dynamic_cast<nn::LinearImpl*>(kv.value().get())) {
      if (is_adapter_parameter(kv.key() + ".")) continue;
      linear_weight[l->weight.unsafeGetTensorImpl()] = {kv.key(), l};
      if (names.zero_biases_on_disk && !l->bias.defined() && kv.key() != "lm_head") {
        zero_biases.push_back({kv.key() + ".bias", {l->out_features}});
      }
    } else if (auto* n = dynamic_cast<nn::NormImpl*>(kv.value().get())) {
      if (names.zero_biases_on_disk && !n->bias.defined())
        zero_biases.push_back({kv.key() + ".bias", {n->dim}});
    }
  }
  std::vector<HfEntry> out;
  std::set<const void*> seen;
  for (auto& kv : model.named_parameters()) {
    // LoRA adapters are not part of the model (peft/adapter.h saves them, PEFT's way).
    if (is_adapter_parameter(kv.key()) || !seen.insert(kv.value().unsafeGetTensorImpl()).second)
      continue;
    HfEntry e{kv.key(), kv.value(), kv.value().sizes().vec()};
    if (auto it = linear_weight.find(kv.value().unsafeGetTensorImpl()); it != linear_weight.end()) {
      auto* l = it->second.second;
      e.hf_shape = {l->out_features, l->in_features};  // a deferred weight's too
      if (l->deferred()) e.deferred = l;
      if (names.conv1d && it->second.first != "lm_head") {
        e.transposed = true;
        std::swap(e.hf_shape[0], e.hf_shape[1]);
      }
    }
    out.push_back(std::move(e));
  }
  for (auto& [name, shape] : zero_biases) out.push_back({name, torch::Tensor(), shape});
  return out;
}

// Every weight file of a model memory-mapped, and where each tensor is, by its canonical
// Hugging Face name. A base model's layout is accepted too (GPT2Model's names without
// "transformer.", LlamaModel's without "model."): its names get the body's prefix.
struct WeightFiles {
  WeightFiles(const std::vector<std::string>& paths, const std::string& body) {
    for (const auto& p : paths) files.push_back(std::make_unique<io::SafetensorsFile>(p));
    const std::string prefix = body + ".";
    for (size_t i = 0; i < files.size(); ++i) {
      for (const auto& n : files[i]->names()) {
        const bool prefixed = n.rfind(prefix, 0) == 0 || n.rfind("lm_head.", 0) == 0;
        const std::string canonical = prefixed ? n : prefix + n;
        VOLT_CHECK(!file_of.count(canonical), "[pretrained] tensor '", n, "' is in two files: ",
                   file_of.count(canonical) ? file_of[canonical]->path() : "", " and ", paths[i]);
        by_name[canonical] = n;
        file_of[canonical] = files[i].get();
      }
    }
  }
  std::vector<std::unique_ptr<io::SafetensorsFile>> files;
  std::map<std::string, std::string> by_name;  // canonical hf name -> name in the file
  std::map<std::string, const io::SafetensorsFile*> file_of;  // canonical name -> its file
};

// Tensors a checkpoint may carry that hold no weights: GPT-2's causal-mask buffers, older Llamas'
// RoPE frequencies, a tied head's copy of the embedding.
bool ignorable_tensor(const std::string& name, const ModelConfig& c) {
  auto ends = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name == "lm_head.weight" && c.tie_word_embeddings) return true;
  return ends(".attn.bias") || ends(".attn.masked_bias") ||
         name.find("rotary_emb.inv_freq") != std::string::npos;
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> to_hf_state_dict(const CausalLMImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  // A bias-free model's zero biases in the dtype of its weights (a float16 model is float16
  // through).
  const auto dtype = model.embedding_weight().scalar_type();
  for (const auto& e : hf_entries(model)) {
    VOLT_CHECK(
        !e.param.defined() || (e.param.numel() > 0 && !e.deferred), "[pretrained] ", e.hf_name,
        " is quantized or was never loaded: dequantize it (peft::merge_and_unload) before saving");
    torch::Tensor t =
        e.param.defined() ? e.param.detach().to(torch::kCPU) : torch::zeros(e.hf_shape, dtype);
    if (e.transposed) t = t.t();
    out.emplace_back(e.hf_name, t.contiguous());
  }
  return out;
}

void load_hf_safetensors(CausalLMImpl& model, const std::string& path) {
  load_hf_safetensors(model, std::vector<std::string>{path});
}

void load_hf_safetensors(CausalLMImpl& model, const std::vector<std::string>& paths,
                         const DeferredWeightLoader& on_deferred) {
  VOLT_CHECK(!paths.empty(), "[pretrained] no safetensors file to load");
  const std::string path = paths.size() == 1 ? paths[0] : fs::path(paths[0]).parent_path().string();
  // Every file memory-mapped; a tensor is read (and converted to the parameter's dtype) when
  // copied, so a sharded 16-bit checkpoint never sits in memory whole.
  const WeightFiles weights(paths, model.config().names.body);
  const auto& by_name = weights.by_name;
  const auto& file_of = weights.file_of;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (const auto& e : hf_entries(model)) {
    auto it = by_name.find(e.hf_name);
    if (it == by_name.end() && !e.param.defined()) continue;  // a bias-free model's zero bias
    VOLT_CHECK(it != by_name.end(), "[pretrained] ", path, ": missing tensor '", e.hf_name, "'");
    used.insert(it->first);
    const io::SafetensorsFile& file = *file_of.at(it->first);
    const auto& info = file.info(it->second);
    VOLT_CHECK(info.shape == e.hf_shape, "[pretrained] ", file.path(), ": tensor '", it->second,
               "' has shape ", c10::IntArrayRef(info.shape), ", the model expects ",
               c10::IntArrayRef(e.hf_shape));
    auto t = file.view(it->second);
    if (!e.param.defined()) {
      VOLT_CHECK(t.abs().max().item<double>() == 0.0, "[pretrained] ", file.path(), ": tensor '",
                 it->second, "' is not zero, but config.json says bias: false");
      continue;
    }
    if (e.transposed) t = t.t();
    // Linear weights made under nn::DeferLinearWeights: filled here one at a time (or handed to
    // on_deferred, which may quantize them), so the whole model is never materialised at once.
    if (e.deferred && on_deferred) {
      const std::string module =
          e.hf_name.substr(0, e.hf_name.size() - std::string(".weight").size());
      on_deferred(module, *e.deferred, t);
      VOLT_CHECK(!e.deferred->deferred(), "[pretrained] ", module,
                 ": the loader left the weight unloaded");
      continue;
    }
    if (e.deferred) e.deferred->materialize();
    e.deferred ? e.deferred->weight.copy_(t) : const_cast<torch::Tensor&>(e.param).copy_(t);
  }
  for (const auto& [canonical, name] : by_name) {
    if (used.count(canonical) || ignorable_tensor(canonical, model.config())) continue;
    VOLT_FAIL("[pretrained] ", path, ": unexpected tensor '", name, "'");
  }
}

ModelConfig load_model_config(const std::string& dir) {
  const auto path = (fs::path(dir) / "config.json").string();
  VOLT_CHECK(fs::exists(path), "[pretrained] ", dir, ": no config.json");
  return ModelConfig::from_hf_json(io::read_json(path), path);
}

void load_named_parameters(CausalLMImpl& model,
                           const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                           const std::string& prefix, const std::string& source) {
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  std::set<std::string> filled;
  for (const auto& [full_name, t] : tensors) {
    VOLT_CHECK(full_name.rfind(prefix, 0) == 0, "[pretrained] ", source, ": tensor '", full_name,
               "' does not start with '", prefix, "'");
    const std::string name = full_name.substr(prefix.size());
    auto* p = params.find(name);
    VOLT_CHECK(p != nullptr, "[pretrained] ", source, ": tensor '", full_name,
               "' is not a parameter of this ", model.config().model_type, " model");
    VOLT_CHECK(p->sizes() == t.sizes(), "[pretrained] ", source, ": tensor '", full_name,
               "' has shape ", t.sizes(), ", the model wants ", p->sizes());
    p->copy_(t);
    filled.insert(name);
  }
  for (const auto& kv : params) {
    VOLT_CHECK(filled.count(kv.key()), "[pretrained] ", source, ": no tensor for parameter '",
               prefix, kv.key(), "'");
  }
}

struct PretrainedSliceReader::Files : WeightFiles {
  using WeightFiles::WeightFiles;
};

PretrainedSliceReader::PretrainedSliceReader(const std::string& dir, const ModelConfig& config)
    : files_(std::make_unique<Files>(pretrained_weight_files(dir), config.names.body)),
      config_(config) {
  nn::MetaParameters meta;  // which parameters the files store transposed (GPT-2's Conv1D)
  CausalLM m(config);
  for (const auto& e : hf_entries(*m)) {
    if (e.transposed) transposed_.insert(e.hf_name);
  }
}

PretrainedSliceReader::~PretrainedSliceReader() = default;

torch::Tensor PretrainedSliceReader::read(const std::string& name, c10::IntArrayRef shape,
                                          int64_t begin, int64_t count, torch::Dtype dtype) {
  const std::string& hf = name;  // volt's names are transformers'
  auto it = files_->by_name.find(hf);
  VOLT_CHECK(it != files_->by_name.end(), "[pretrained] ", files_->files.front()->path(),
             ": missing tensor '", hf, "'");
  const io::SafetensorsFile& file = *files_->file_of.at(hf);
  std::vector<int64_t> want = shape.vec();
  const bool conv1d = transposed_.count(hf) > 0;
  if (conv1d) std::swap(want[0], want[1]);
  VOLT_CHECK(file.info(it->second).shape == want, "[pretrained] ", file.path(), ": tensor '",
             it->second, "' has shape ", c10::IntArrayRef(file.info(it->second).shape),
             ", the model expects ", c10::IntArrayRef(want));
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  VOLT_CHECK(begin >= 0 && count >= 0 && begin + count <= numel, "[pretrained] ", name,
             ": elements [", begin, ", ", begin + count, ") of ", numel);
  const auto v = file.view(it->second);  // zero-copy over the mapped file
  torch::Tensor out;
  if (!conv1d) {
    out = v.reshape({-1}).narrow(0, begin, count).to(dtype, /*non_blocking=*/false, /*copy=*/true);
  } else {
    // Stored (in, out), wanted (out, in) row-major: the rows of ours that the range touches are
    // columns of the file's; only those are copied.
    const int64_t cols = shape[1], r0 = begin / cols, r1 = (begin + count + cols - 1) / cols;
    const auto rows =
        v.narrow(1, r0, r1 - r0).t().to(dtype, false, true).contiguous().reshape({-1});
    out = rows.narrow(0, begin - r0 * cols, count).clone();
    bytes_ += static_cast<int64_t>(rows.nbytes() - out.nbytes());  // the partial rows' extra
  }
  bytes_ += static_cast<int64_t>(out.nbytes());
  return out;
}

namespace {

// Writes the tensors as model.safetensors, or, above max_shard_bytes, transformers' shards
// model-0000k-of-0000n.safetensors plus the index; produce(i) makes tensor i when it is written.
void write_weight_files(const std::string& dir, const std::vector<io::TensorInfo>& infos,
                        const std::function<torch::Tensor(size_t)>& produce,
                        int64_t max_shard_bytes) {
  auto bytes_of = [](const io::TensorInfo& t) {
    int64_t n = static_cast<int64_t>(c10::elementSize(t.dtype));
    for (auto d : t.shape) n *= d;
    return n;
  };
  int64_t total = 0;
  for (const auto& t : infos) total += bytes_of(t);
  const fs::path single = fs::path(dir) / "model.safetensors",
                 index = fs::path(dir) / "model.safetensors.index.json";
  if (max_shard_bytes <= 0 || total <= max_shard_bytes) {
    io::save_safetensors_streamed(single.string(), infos, produce, {{"format", "pt"}});
    fs::remove(index);  // one layout per directory: a stale index would win over this file
    return;
  }
  std::vector<std::vector<size_t>> shards(1);  // tensor indices, filled in order
  int64_t fill = 0;
  for (size_t i = 0; i < infos.size(); ++i) {
    const int64_t bytes = bytes_of(infos[i]);
    if (fill > 0 && fill + bytes > max_shard_bytes) shards.emplace_back(), fill = 0;
    shards.back().push_back(i);
    fill += bytes;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  char name[64];
  for (size_t k = 0; k < shards.size(); ++k) {
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
    std::vector<io::TensorInfo> part;
    for (size_t i : shards[k]) part.push_back(infos[i]), weight_map[infos[i].name] = name;
    io::save_safetensors_streamed((fs::path(dir) / name).string(), part,
                                  [&](size_t j) { return produce(shards[k][j]); },
                                  {{"format", "pt"}});
  }
  io::write_json(index.string(),
                 {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
  fs::remove(single);
}

}  // namespace

void save_model_config(const ModelConfig& config, const std::string& dir) {
  fs::create_directories(dir);
  io::write_json((fs::path(dir) / "config.json").string(), config.to_hf_json());
  io::write_json((fs::path(dir) / "generation_config.json").string(),
                 config.generation_config_json());
}

void set_special_ids(ModelConfig& config, const Tokenizer& tokenizer) {
  config.bos_token_id = tokenizer.bos_id();
  config.pad_token_id = tokenizer.pad_id();
  config.eos_token_ids.clear();
  if (auto eos = tokenizer.eos_id()) config.eos_token_ids.push_back(*eos);
}

void save_pretrained(const CausalLMImpl& model, const std::string& dir, int64_t max_shard_bytes) {
  save_model_config(model.config(), dir);
  const auto tensors = to_hf_state_dict(model);
  std::vector<io::TensorInfo> infos;
  for (const auto& [name, t] : tensors) {
    io::TensorInfo info;
    info.name = name, info.dtype = t.scalar_type(), info.shape = t.sizes().vec();
    infos.push_back(std::move(info));
  }
  write_weight_files(
      dir, infos, [&](size_t i) { return tensors[i].second; }, max_shard_bytes);
}

int64_t save_random_pretrained(const ModelConfig& config, const std::string& dir,
                               torch::Dtype dtype, int64_t max_shard_bytes) {
  CausalLM model{nullptr};
  {
    nn::DeferLinearWeights defer;  // the blocks' Linear weights: drawn one at a time below
    model = CausalLM(config);
  }
  const auto entries = hf_entries(*model);
  std::vector<io::TensorInfo> infos;
  int64_t largest = 0;
  for (const auto& e : entries) {
    if (e.deferred) largest = std::max(largest, e.hf_shape[0] * e.hf_shape[1]);
    io::TensorInfo info;
    info.name = e.hf_name, info.dtype = dtype, info.shape = e.hf_shape;
    infos.push_back(std::move(info));
  }
  fs::create_directories(dir);
  save_model_config(config, dir);
  write_weight_files(
      dir, infos,
      [&](size_t i) {
        const auto& e = entries[i];
        if (!e.param.defined())
          return torch::zeros(e.hf_shape, dtype);  // a bias-free GPT-2's zero bias
        torch::Tensor t;
        if (!e.deferred) {
          t = e.param.detach().to(dtype);
        } else {
          e.deferred->materialize();
          model->init_parameter(e.hf_name, e.deferred->weight);
          t = e.deferred->weight.detach().to(dtype, /*non_blocking=*/false, /*copy=*/true);
          e.deferred->weight.set_data(
              torch::empty({0}));  // freed: one drawn weight alive at a time
        }
        return e.transposed ? t.t().contiguous() : t;
      },
      max_shard_bytes);
  return largest;
}

std::vector<std::string> pretrained_weight_files(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors",
                 index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single)) return {single.string()};
  VOLT_CHECK(fs::exists(index), "[pretrained] ", dir,
             ": no model.safetensors and no model.safetensors.index.json");
  const auto j = io::read_json(index.string());
  VOLT_CHECK(j.contains("weight_map") && j["weight_map"].is_object() && !j["weight_map"].empty(),
             "[pretrained] ", index.string(), ": no weight_map");
  std::set<std::string> shards;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    VOLT_CHECK(file.is_string(), "[pretrained] ", index.string(), ": weight_map['", tensor,
               "'] is not a file name");
    const auto name = file.get<std::string>();
    VOLT_CHECK(name.find('/') == std::string::npos && fs::exists(fs::path(dir) / name),
               "[pretrained] ", index.string(), ": tensor '", tensor, "' is in '", name,
               "', which is not in ", dir);
    shards.insert(name);
  }
  std::vector<std::string> out;
  for (const auto& s : shards) out.push_back((fs::path(dir) / s).string());
  // The index must agree with the shards: every listed tensor is where it says.
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    io::SafetensorsFile f((fs::path(dir) / file.get<std::string>()).string());
    VOLT_CHECK(f.contains(tensor), "[pretrained] ", index.string(), ": tensor '", tensor,
               "' is not in ", file.get<std::string>());
  }
  return out;
}

CausalLM from_pretrained(const std::string& dir) {
  CausalLM model(load_model_config(dir));
  load_hf_safetensors(*model, pretrained_weight_files(dir));
  model->eval();  // as transformers' from_pretrained: dropout off until train() is called
  return model;
}

}  // namespace volt

// Hugging Face model directories: config.json, generation_config.json and the weights under
// transformers' names (volt's parameter names are the family's: model.layers.0.self_attn.q_proj
// .weight, transformer.h.0.attn.c_attn.weight), which transformers loads as they are. GPT-2's
// Conv1D weights are stored as (in, out). Reading also accepts a base model's layout (GPT2Model's
// names without `transformer.`, LlamaModel's without `model.`).
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "volt/models/causal_lm.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

/// The model's tensors under their Hugging Face names and layouts (CPU, contiguous).
std::vector<std::pair<std::string, torch::Tensor>> to_hf_state_dict(const CausalLMImpl& model);
/// Copies a Hugging Face safetensors file into the model. Every missing, unexpected or
/// mis-shaped tensor is an error naming it.
void load_hf_safetensors(CausalLMImpl& model, const std::string& path);
/// Called for each Linear weight left unallocated by nn::DeferLinearWeights, with its module name
/// and the file's tensor as (out, in) (a zero-copy view; any dtype): it must fill the layer (e.g.
/// quantize it). Without one, the weight is allocated and copied like any other.
using DeferredWeightLoader = std::function<void(
    const std::string& module_name, nn::LinearImpl& layer, const torch::Tensor& weight)>;
/// The same over the shards of one checkpoint (each tensor in exactly one file). Tensors are
/// converted to the parameters' dtype as they are copied (fp16 / bf16 / fp32 files alike).
void load_hf_safetensors(CausalLMImpl& model, const std::vector<std::string>& paths,
                         const DeferredWeightLoader& on_deferred = nullptr);

/// Writes config.json and the weights into dir (created if needed): model.safetensors, or, above
/// max_shard_bytes (0: never), transformers' model-0000k-of-0000n.safetensors shards plus
/// model.safetensors.index.json.
void save_pretrained(const CausalLMImpl& model, const std::string& dir,
                     int64_t max_shard_bytes = int64_t{5} << 30);
/// A randomly initialised model of `config` written into dir like save_pretrained, in `dtype`,
/// one tensor at a time: its blocks' Linear weights are drawn, written and freed one by one, so
/// a model larger than memory can be written (volt init). Returns the largest such weight's element
/// count.
int64_t save_random_pretrained(const ModelConfig& config, const std::string& dir,
                               torch::Dtype dtype, int64_t max_shard_bytes = int64_t{5} << 30);
/// The weight files of a directory: model.safetensors, else the shards its index names (checked
/// to exist and to hold the tensors the index says).
std::vector<std::string> pretrained_weight_files(const std::string& dir);
/// Builds the model from dir/config.json and loads its weights (single file or sharded).
CausalLM from_pretrained(const std::string& dir);
/// Reads dir/config.json.
ModelConfig load_model_config(const std::string& dir);
/// Copies tensors named as volt names them (with `prefix` in front, e.g. "lm." for a LMModule's)
/// into the model: every parameter must be there with its shape, and nothing else (errors name
/// `source`).
void load_named_parameters(CausalLMImpl& model,
                           const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                           const std::string& prefix, const std::string& source);
/// Reads parts of a Hugging Face directory's weights straight from its memory-mapped safetensors
/// files, by volt parameter name and in volt's layout: what each FSDP rank uses to load only its
/// slice of a model (dist/fsdp.h).
class PretrainedSliceReader {
 public:
  PretrainedSliceReader(const std::string& dir, const ModelConfig& config);
  ~PretrainedSliceReader();
  /// Elements [begin, begin + count) of parameter `name` (volt's name within the CausalLM, e.g.
  /// "transformer.h.0.attn.c_attn.weight"; its shape as volt has it), flattened in volt's layout,
  /// as dtype. GPT-2's Conv1D weights are stored transposed: their rows that the range touches are
  /// copied.
  torch::Tensor read(const std::string& name, c10::IntArrayRef shape, int64_t begin, int64_t count,
                     torch::Dtype dtype);
  /// Bytes copied out of the files so far.
  int64_t bytes_copied() const { return bytes_; }

 private:
  struct Files;
  std::unique_ptr<Files> files_;
  ModelConfig config_;
  std::set<std::string> transposed_;  // the weights stored (in, out) (GPT-2's Conv1D)
  int64_t bytes_ = 0;
};

/// Writes dir/config.json and dir/generation_config.json (dir created if needed).
void save_model_config(const ModelConfig& config, const std::string& dir);
/// The tokenizer's BOS, EOS and PAD ids as the config's special ids (what transformers' generate
/// stops on); a tokenizer without one gives null.
void set_special_ids(ModelConfig& config, const Tokenizer& tokenizer);

}  // namespace volt

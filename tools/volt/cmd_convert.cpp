// volt convert --in DIR --out DIR [--dtype float32|bfloat16|float16] [--max-shard-size GB]
//   A volt checkpoint (Hugging Face files + trainer state; or an fsdp run's sharded checkpoint,
//   whose shards are consolidated) or any Hugging Face model directory, rewritten as a plain
//   Hugging Face model directory: config.json, the weights (single file or shards, in the dtype
//   asked for) and the tokenizer; no trainer state. transformers loads the result, and so do volt
//   generate/score/fit --model.from_pretrained.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "model_loading.h"
#include "usage.h"
#include "volt/core/atomic_file.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

Action add_convert(CLI::App& app) {
  struct Args {
    std::string in, out, dtype = "float32";
    double max_shard_gb = 5.0;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--in", a->in,
                 "a volt checkpoint (an fsdp run's sharded one is consolidated) or Hugging Face "
                 "model directory")
      ->required();
  app.add_option("--out", a->out, "the Hugging Face directory to write")->required();
  app.add_option("--dtype", a->dtype, "weights' dtype in the output")
      ->capture_default_str()
      ->check(one_of({"float32", "bfloat16", "float16"}));
  app.add_option("--max-shard-size", a->max_shard_gb, "shard the weights above this many GB")
      ->capture_default_str()
      ->check(at_least(0, /*strict=*/true));
  return [a]() {
    namespace fs = std::filesystem;
    VOLT_CHECK(fs::weakly_canonical(a->in) != fs::weakly_canonical(a->out),
               "[convert] --out must differ from --in");
    // A sharded (fsdp) checkpoint: the ranks' shards put back together into the full model.
    CausalLM model = load_model(a->in);
    const auto dtype = a->dtype == "bfloat16"  ? torch::kBFloat16
                       : a->dtype == "float16" ? torch::kFloat16
                                               : torch::kFloat32;
    model->to(dtype);
    model->config_mutable().torch_dtype = a->dtype;
    StagedDirectory out(a->out);  // nothing half-written under --out if this fails
    const std::string dir = out.staging_path();
    save_pretrained(*model, dir, static_cast<int64_t>(a->max_shard_gb * 1e9));
    bool tokenizer = false;
    try {
      load_tokenizer(a->in)->save(dir);
      tokenizer = true;
    } catch (const Error&) {  // a model directory without a tokenizer converts all the same
    }
    out.commit();
    std::printf("%s: %lld parameters as %s%s\n", a->out.c_str(),
                static_cast<long long>(count_parameters(model->config())), a->dtype.c_str(),
                tokenizer ? ", with its tokenizer" : " (no tokenizer found)");
    return 0;
  };
}

}  // namespace volt::cli

// volt init --preset NAME --out DIR [--tokenizer PATH] [--seed S] [--dtype
// float32|bfloat16|float16]
//   A randomly initialised model as a Hugging Face directory (config.json, the weights and, with
//   --tokenizer, the tokenizer): what transformers' AutoModel.from_config gives. With a tokenizer,
//   the vocabulary and the special ids are the tokenizer's. For benchmarks, tests, and pretraining
//   from scratch. The blocks' weights are drawn and written one at a time, so a model larger than
//   memory (Llama 3 8B on a 24 GB machine) is written all the same; what must fit at once is
//   checked first.
#include <cstdio>
#include <fstream>
#include <string>

#include "commands.h"
#include "usage.h"
#include "volt/core/atomic_file.h"
#include "volt/core/check.h"
#include "volt/core/seed.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace {

// /proc/meminfo's MemAvailable in bytes (0 when unknown).
int64_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

// What init holds at once: the embeddings, norms and head (allocated in fp32 with the model), and
// one drawn block weight in fp32 beside its converted copy.
int64_t resident_bytes(const ModelConfig& c, int64_t element_bytes) {
  int64_t largest = 0, linear = 0;
  for (int64_t layer = 0; layer < c.n_layer; ++layer) {
    for (const auto& l : block_linears(c, layer))
      largest = std::max(largest, l.in * l.out), linear += l.in * l.out;
  }
  const int64_t rest = count_parameters(c) - linear;
  return 4 * rest + (4 + element_bytes) * largest + element_bytes * c.vocab_size * c.n_embd;
}

}  // namespace

Action add_init(CLI::App& app) {
  struct Args {
    std::string preset, out, tokenizer, dtype = "float32";
    uint64_t seed = 1337;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--preset", a->preset,
                 "a model preset (gpt2, babygpt-shakespeare, tinyllama-1.1b, ...)")
      ->required();
  app.add_option("--out", a->out, "the directory to write")->required();
  app.add_option("--tokenizer", a->tokenizer,
                 "a tokenizer file or directory to save beside the model");
  app.add_option("--seed", a->seed, "seed of the initial weights")->capture_default_str();
  app.add_option("--dtype", a->dtype, "the weights' dtype on disk")
      ->capture_default_str()
      ->check(one_of({"float32", "bfloat16", "float16"}));
  return [a]() {
    ModelConfig c = ModelConfig::preset(a->preset);
    c.torch_dtype = a->dtype;
    std::shared_ptr<Tokenizer> tok;
    if (!a->tokenizer.empty()) {
      tok = load_tokenizer(a->tokenizer);
      c.vocab_size = tok->vocab_size();
      set_special_ids(c, *tok);
    }
    const auto dtype = a->dtype == "bfloat16"  ? torch::kBFloat16
                       : a->dtype == "float16" ? torch::kFloat16
                                               : torch::kFloat32;
    const int64_t need = resident_bytes(c, static_cast<int64_t>(c10::elementSize(dtype)));
    const int64_t have = available_memory();
    const auto gib = [](int64_t b) { return static_cast<double>(b) / (1 << 30); };
    VOLT_CHECK(
        have == 0 || need < have, "[init] ", a->preset, " needs about ", str(gib(need)),
        " GiB of memory at once (its embeddings, head and one block weight); this machine has ",
        str(gib(have)), " GiB available");
    seed_everything(a->seed);
    StagedDirectory out(a->out);  // nothing half-written under --out if this fails
    save_random_pretrained(c, out.staging_path(), dtype);
    if (tok) tok->save(out.staging_path());
    out.commit();
    std::printf("%s: %s, %lld parameters, random weights (seed %llu), %s\n", a->out.c_str(),
                a->preset.c_str(), static_cast<long long>(count_parameters(c)),
                static_cast<unsigned long long>(a->seed), a->dtype.c_str());
    return 0;
  };
}

}  // namespace volt::cli

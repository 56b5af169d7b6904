// volt export --format gguf --in DIR [--adapter DIR] --out FILE.gguf [--dtype f32|f16|bf16|q8_0]
//   A Hugging Face directory (volt init / fit / merge / convert, or transformers') as one GGUF file
//   for llama.cpp, Ollama and LM Studio: the family's llama.cpp architecture and metadata, the
//   weights under llama.cpp's names, the tokenizer and its chat template. --adapter folds a LoRA
//   adapter in first (as volt merge). q8_0 is written by volt; smaller formats come from
//   llama-quantize on the f16 file. The file appears complete or not at all.
#include <cstdio>
#include <filesystem>
#include <map>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/gguf/gguf_export.h"
#include "volt/models/pretrained.h"
#include "volt/peft/adapter.h"

namespace volt::cli {

Action add_export(CLI::App& app) {
  struct Args {
    std::string format, in, adapter, out, dtype = "f16", name;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--format", a->format, "the file format: gguf")->required();
  app.add_option("--in", a->in, "the model: a Hugging Face directory with its tokenizer")
      ->required();
  app.add_option("--adapter", a->adapter, "a LoRA adapter directory to merge into the model first");
  app.add_option("--out", a->out, "the file to write (FILE.gguf)")->required();
  app.add_option("--dtype", a->dtype, "weights as f32, f16 (default), bf16 or q8_0");
  app.add_option("--name", a->name, "general.name (default: the --in directory's name)");
  return [a]() {
    VOLT_CHECK(a->format == "gguf", "[export] --format '", a->format, "' is not supported (gguf)");
    static const std::map<std::string, gguf::TensorType> types = {{"f32", gguf::TensorType::F32},
                                                                  {"f16", gguf::TensorType::F16},
                                                                  {"bf16", gguf::TensorType::BF16},
                                                                  {"q8_0", gguf::TensorType::Q8_0}};
    auto type = types.find(a->dtype);
    VOLT_CHECK(type != types.end(), "[export] --dtype '", a->dtype,
               "' is not one of f32, f16, bf16, q8_0 ",
               "(for Q4_K_M and the other k-quants, run llama-quantize on the f16 file)");
    // Refuse a family or config llama.cpp cannot run before reading any weights.
    gguf::gguf_architecture(load_model_config(a->in));
    auto model = from_pretrained(a->in);
    if (!a->adapter.empty()) {
      peft::load_adapter(*model, a->adapter);
      peft::merge_and_unload(*model);
    }
    std::string name = a->name;
    if (name.empty()) {
      // A checkpoint (runs/NAME/checkpoints/last, step-N) is named after its run.
      std::filesystem::path dir = std::filesystem::path(a->in).lexically_normal();
      if (dir.filename().empty()) dir = dir.parent_path();
      name = dir.filename().string();
      if (dir.parent_path().filename() == "checkpoints")
        name = dir.parent_path().parent_path().filename().string();
    }
    torch::NoGradGuard no_grad;
    const auto r = gguf::export_gguf(*model, a->in, a->out, type->second, name);
    std::printf("%s: %s, %lld tensors, %s, %.1f MB%s\n", a->out.c_str(), r.architecture.c_str(),
                static_cast<long long>(r.tensors), a->dtype.c_str(), r.bytes / 1e6,
                a->adapter.empty() ? "" : (" (+ " + a->adapter + ", merged)").c_str());
    for (const auto& note : r.notes) std::printf("  note: %s\n", note.c_str());
    return 0;
  };
}

}  // namespace volt::cli

// A volt model as a GGUF file llama.cpp runs: the architecture llama.cpp names for the family and
// its <arch>.* hyperparameters, the tensors under llama.cpp's names and layouts, the tokenizer.
//   gpt2                          -> gpt2      (Conv1D weights transposed to (out, in))
//   llama, mistral, mixtral       -> llama     (q, k rows permuted: llama.cpp's RoPE rotates
//                                               adjacent pairs, transformers' the two halves)
//   qwen2, qwen3, qwen3_moe       -> qwen2, qwen3, qwen3moe
//   phi3                          -> phi3
//   gemma2, gemma3_text           -> gemma2, gemma3  (norm weights stored as 1 + w)
// A config llama.cpp's graph for the architecture cannot compute (a RoPE scaling it lacks, a
// sliding window it ignores, ...) is an error naming the field: the file would run with numbers
// other than volt's.
#pragma once

#include <string>
#include <vector>

#include "volt/gguf/ggml_types.h"
#include "volt/models/causal_lm.h"

namespace volt::gguf {

struct ExportResult {
  std::string architecture;  // general.architecture
  int64_t tensors = 0;
  int64_t bytes = 0;
  std::vector<std::string> notes;  // what the user should know (tensors kept in F32/F16, ...)
};

/// The llama.cpp architecture for the config; throws volt::Error (exit 2) naming the field when
/// llama.cpp cannot express it.
std::string gguf_architecture(const ModelConfig& config);

/// `float` weights as `dtype` (F32, F16, BF16 or Q8_0; norms, biases and routers stay F32, a Q8_0
/// tensor whose rows are not whole blocks of 32 is F16), with the tokenizer saved in
/// tokenizer_dir, written atomically to path.
ExportResult export_gguf(const CausalLMImpl& model, const std::string& tokenizer_dir,
                         const std::string& path, TensorType dtype, const std::string& name);

}  // namespace volt::gguf

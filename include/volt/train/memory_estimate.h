// The memory a training run needs, by arithmetic (what `volt memory` prints): weights,
// gradients, optimizer states and activations, per rank, for a model config and the run's
// settings. The memory wall in one line: with AdamW in mixed precision every trainable parameter
// costs 16 bytes before a single activation (4 weight + 4 gradient + 4 + 4 moments in volt's fp32
// master layout; 2 + 2 + 12 in the 16-bit-weights layout of the ZeRO paper): a 70B model needs
// 1,120 GB, 840 GB of it the fp32 master weights and moments alone.
//
// Activations are counted from what volt's own modules keep for backward (layer by layer, the
// tensors autograd saves; see the .cpp), and the peak is where it happens: at the start of the
// backward pass, when every block's activations and the loss head's (B, T, V) tensors are alive
// at once. Checked against the counting allocator's measured peak (volt memory --measure, and
// tests/memory_estimate_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "volt/models/model_config.h"

namespace volt {

struct MemoryPlan {
  ModelConfig model;
  std::string precision = "32-true";  // 32-true | bf16-mixed | 16-mixed | bf16-true
  bool master_weights = true;         // bf16-true
  std::string optimizer = "adamw";    // adamw | sgd
  int64_t micro_batch = 1;
  int64_t seq_len = 0;  // 0: the model's block_size
  bool activation_checkpointing = false;
  std::string strategy = "single";  // single | ddp | fsdp
  int64_t world_size = 1;
  int64_t lora_rank = 0;                                         // 0: full fine-tuning
  std::vector<std::string> lora_targets = {"q_proj", "v_proj"};  // or {"all-linear"}
  std::string quant;                                             // "" or "nf4" (QLoRA base weights)
};

struct MemoryEstimate {
  int64_t total_params = 0;   // the model, plus LoRA adapters
  int64_t active_params = 0;  // a mixture of experts: what one token runs through (k of E experts)
  int64_t trainable_params = 0;
  // Bytes held by one rank.
  double weights = 0, gradients = 0, optimizer = 0;
  double activations = 0;  // saved for backward by the blocks and embeddings
  double head = 0;         // the loss head's (B, T, V) tensors at the backward's start
  double peak() const { return weights + gradients + optimizer + activations + head; }
  std::vector<std::string> notes;  // what was assumed
};

/// Throws volt::Error naming a bad field (unknown precision, strategy, LoRA target ...).
MemoryEstimate estimate_memory(const MemoryPlan& plan);

/// Trains `steps` optimizer steps of random tokens on the CPU with the plan's model, precision,
/// micro-batch, sequence length and checkpointing (a single-process full fine-tune with AdamW),
/// and returns the peak of live tensor bytes above what was alive before the model was built:
/// the figure estimate_memory predicts.
int64_t measure_training_peak(const MemoryPlan& plan, int64_t steps);

/// True for the messages LibTorch's allocators give when memory runs out (CPU and CUDA).
bool is_out_of_memory(const std::string& what);

/// The error text for a run that ran out of memory: volt memory's breakdown of the plan, and
/// what to change (a smaller micro-batch with more accumulation, 16-bit precision, activation
/// checkpointing), each with its estimated peak.
std::string out_of_memory_advice(const MemoryPlan& plan, int64_t accumulate,
                                 const std::string& detail);

/// Parameters LoRA adds at rank r to the targeted Linear layers (PEFT's count).
int64_t lora_parameters(const ModelConfig& cfg, int64_t rank,
                        const std::vector<std::string>& targets);

}  // namespace volt

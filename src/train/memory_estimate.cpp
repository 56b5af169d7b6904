#include "volt/train/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "volt/core/check.h"
#include "volt/core/memory_stats.h"
#include "volt/core/seed.h"
#include "volt/data/random_tokens.h"
#include "volt/models/causal_lm.h"
#include "volt/train/lm_module.h"
#include "volt/train/trainer.h"

namespace volt {

namespace fs = std::filesystem;

namespace {

// NF4 with double quantization (QLoRA): 4 bits a weight, one 8-bit absmax per block of 64
// weights, one fp32 scale per block of 256 absmaxes: 4 + 8/64 + 32/(64*256) bits.
constexpr double kNf4BitsPerWeight = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0);

bool targeted(const std::string& linear_name, const std::vector<std::string>& targets) {
  const std::string leaf = linear_name.substr(linear_name.rfind('.') + 1);
  for (const auto& t : targets) {
    if (t == "all-linear" || t == leaf || t == linear_name) return true;
  }
  return false;
}

// Every Linear of every block (a mixture of experts' layers differ from its dense ones).
std::vector<LinearShape> all_block_linears(const ModelConfig& cfg) {
  std::vector<LinearShape> out;
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    auto layer = block_linears(cfg, l);
    out.insert(out.end(), layer.begin(), layer.end());
  }
  return out;
}

void check_targets(const ModelConfig& cfg, const std::vector<std::string>& targets) {
  std::string known;
  const auto linears = block_linears(cfg);
  for (const auto& l : linears) {
    const std::string leaf = l.name.substr(l.name.rfind('.') + 1);
    if (known.find(leaf) == std::string::npos) known += (known.empty() ? "" : ", ") + leaf;
  }
  for (const auto& t : targets) {
    bool hit = t == "all-linear";
    for (const auto& l : linears) hit = hit || targeted(l.name, {t});
    VOLT_CHECK(hit, "[memory] LoRA target '", t, "' is not a Linear layer of a ", cfg.model_type,
               " block (", known, ", or all-linear)");
  }
}

// What one normalisation keeps for backward on a (B T, C) input, beyond its input: LayerNorm its
// output (the next matmul's input) and mean and 1/std; RMSNorm its normalised value and output
// (kept in the norm's dtype) and 1/rms.
double norm_bytes(const ModelConfig& c, double btc, double bt, double act, double mm) {
  return c.norm == "layernorm" ? btc * mm + 2 * bt * 4 : 2 * btc * act + bt * 4;
}

// What block `layer` keeps for backward, in bytes, for a micro-batch of B rows of T tokens (C =
// n_embd, A = n_head * head_dim the attention width, H the MLP width), read off volt's modules:
// the block input; its first norm's tensors; q and k, v repeated to n_head heads (A each; with
// QK-norm, the normalised q and k too); the attention probabilities (B, nh, T, T); the attention
// output (the output projection's input); the residual sum; the second norm's; the MLP's (plain:
// fc's output and the activation's, 2 BTH; gated: gate, act(gate), up and their product, 4 BTH; a
// mixture of experts: the router's logits and each token's k experts' 4 H_e and inputs); and
// Gemma's post-norms. Under autocast the matmuls keep 16-bit copies of their inputs (2 bytes) and
// the attention runs on 16-bit q, k, v; norms and residuals stay fp32. bf16-true keeps everything
// in 2 bytes. Gives GPT-2's 8 BTC + 2 BTH + B nh T^2 (+ 4 BT) and Llama's 10 BTC + 4 BTH (+ 2 BT)
// in fp32.
double block_activation_bytes(const ModelConfig& c, int64_t layer, double b, double t,
                              const std::string& precision) {
  const double C = static_cast<double>(c.n_embd), A = static_cast<double>(c.n_head * c.head_dim());
  const double nh = static_cast<double>(c.n_head);
  const double btc = b * t * C, bta = b * t * A, probs = b * nh * t * t, bt = b * t;
  const bool half = precision == "bf16-true";
  const bool mixed = precision == "bf16-mixed" || precision == "16-mixed";
  const double act = half ? 2 : 4;                          // norms, residuals
  const double mm = (half || mixed) ? 2 : 4;                // what the matmuls keep
  double bytes = btc * act                                  // block input
                 + norm_bytes(c, btc, bt, act, mm)          // the attention's norm
                 + 3 * bta * mm                             // q, k, v (key/value heads repeated)
                 + probs * mm                               // attention probabilities
                 + bta * mm                                 // the output projection's input
                 + btc * act                                // the residual sum
                 + norm_bytes(c, btc, bt, act, mm);         // the MLP's norm
  if (c.qk_norm) bytes += 2 * bta * act + 2 * bt * nh * 4;  // q and k normalised, their 1/rms
  if (c.post_attention_norm) bytes += 2 * btc * act + bt * 4;
  if (c.post_mlp_norm) bytes += 2 * btc * act + bt * 4;
  if (c.moe_layer(layer)) {
    const double k = static_cast<double>(c.n_experts_per_tok),
                 he = static_cast<double>(c.expert_width());
    bytes += bt * static_cast<double>(c.n_experts) * 4  // router logits (and their softmax, fp32)
             + k * btc * mm                             // each pick's gathered input
             + 4 * k * bt * he * mm;                    // each pick's gate, act(gate), up, product
  } else {
    const double bth = bt * static_cast<double>(c.mlp_width());
    bytes += (c.gated_mlp ? 4 : 2) * bth * mm;
  }
  return bytes;
}

}  // namespace

int64_t lora_parameters(const ModelConfig& cfg, int64_t rank,
                        const std::vector<std::string>& targets) {
  if (rank <= 0) return 0;
  check_targets(cfg, targets);
  int64_t n = 0;
  for (const auto& l : all_block_linears(cfg)) {
    if (targeted(l.name, targets)) n += rank * (l.in + l.out);  // A (r, in) and B (out, r)
  }
  return n;
}

MemoryEstimate estimate_memory(const MemoryPlan& p) {
  const auto& c = p.model;
  c.validate();
  const auto& pr = p.precision;
  VOLT_CHECK(pr == "32-true" || pr == "bf16-mixed" || pr == "16-mixed" || pr == "bf16-true",
             "[memory] precision '", pr,
             "' is not one of 32-true, bf16-mixed, 16-mixed, bf16-true");
  VOLT_CHECK(p.optimizer == "adamw" || p.optimizer == "sgd", "[memory] optimizer '", p.optimizer,
             "' is not one of adamw, sgd");
  VOLT_CHECK(p.strategy == "single" || p.strategy == "ddp" || p.strategy == "fsdp",
             "[memory] strategy '", p.strategy, "' is not one of single, ddp, fsdp");
  VOLT_CHECK(p.world_size >= 1, "[memory] world size must be >= 1, got ", p.world_size);
  VOLT_CHECK(p.micro_batch >= 1, "[memory] micro-batch must be >= 1, got ", p.micro_batch);
  VOLT_CHECK(p.quant.empty() || p.quant == "nf4", "[memory] quantization '", p.quant,
             "' is not nf4");
  VOLT_CHECK(p.quant.empty() || p.lora_rank > 0,
             "[memory] nf4 base weights are frozen: QLoRA needs a LoRA "
             "rank (--lora-rank)");
  const int64_t t = p.seq_len > 0 ? p.seq_len : c.block_size;
  VOLT_CHECK(t <= c.block_size, "[memory] sequence length ", t, " exceeds the model's context (",
             c.block_size, ")");

  MemoryEstimate e;
  const ParameterCount counts = count_model_parameters(c);
  const int64_t base = counts.total;
  const int64_t lora = lora_parameters(c, p.lora_rank, p.lora_targets);
  e.total_params = base + lora;
  e.active_params = counts.active + lora;
  e.trainable_params = p.lora_rank > 0 ? lora : base;

  // Weights, gradients, optimizer state: per parameter.
  const bool half_weights = pr == "bf16-true";
  const double wb = half_weights ? 2 : 4;
  double weights = 0;
  if (p.quant == "nf4") {
    int64_t quantized = 0;
    for (const auto& l : all_block_linears(c)) quantized += l.in * l.out;
    weights = static_cast<double>(quantized) * kNf4BitsPerWeight / 8.0 +
              static_cast<double>(base - quantized) * 2.0;
    e.notes.push_back(
        "nf4: block linears at 4.127 bits a weight (double-quantized absmax), the rest in bf16");
  } else {
    weights = static_cast<double>(base) * wb;
  }
  if (p.lora_rank > 0) weights += static_cast<double>(lora) * wb;
  const double trainable = static_cast<double>(e.trainable_params);
  double grads = trainable * wb;
  double optim = 0;
  if (p.optimizer == "adamw") {
    if (half_weights && p.master_weights) {
      optim = trainable * (4 + 4 + 4);  // fp32 master copy, exp_avg, exp_avg_sq
      e.notes.push_back(
          "bf16-true with master weights: fp32 copy + two fp32 moments per trainable parameter");
    } else {
      optim = trainable * 2 * wb;  // exp_avg, exp_avg_sq in the parameters' dtype
    }
  }
  if (p.strategy == "fsdp" && p.world_size > 1) {
    // Each rank holds 1/N of every flat parameter, its gradient and its optimizer state, and
    // gathers full weights in their own dtype (dist/fsdp.h): the root unit (embeddings, final
    // norm, head) for the whole step and one block at a time around its compute, and the same
    // units' full gradients until they are reduce-scattered.
    const double n = static_cast<double>(p.world_size);
    // The root unit: what lies outside the blocks (embeddings, GPT-2's positions, final norm, head).
    const int64_t root = base - counts.in_blocks;
    const int64_t per_block = (base - root) / c.n_layer;
    const double gathered = static_cast<double>(root + per_block) * wb;
    weights = weights / n + gathered;
    grads = grads / n + (p.lora_rank > 0 ? 0 : gathered);
    optim /= n;
    e.notes.push_back("fsdp: 1/" + std::to_string(p.world_size) +
                      " of weights, gradients and optimizer state a "
                      "rank, plus the gathered root unit (embeddings, head) and one block, weights "
                      "and gradients");
  } else if (p.strategy == "ddp" && p.world_size > 1) {
    e.notes.push_back("ddp: every rank holds the whole model, its gradients and optimizer state");
  }
  e.weights = weights, e.gradients = grads, e.optimizer = optim;

  // Activations.
  const double b = static_cast<double>(p.micro_batch), tt = static_cast<double>(t);
  const double C = static_cast<double>(c.n_embd), V = static_cast<double>(c.vocab_size);
  double block = 0, all_blocks = 0;  // the largest block's, and every block's
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const double bytes = block_activation_bytes(c, l, b, tt, pr);
    block = std::max(block, bytes), all_blocks += bytes;
  }
  const double act = half_weights ? 2 : 4;
  const double mm = pr == "32-true" ? 4 : 2;
  // The final norm's input and output (the head's matmul input), the token ids.
  const double tail = b * tt * C * (act + mm) + b * tt * 8;
  // The loss head at the start of backward: log-softmax's fp32 output (kept for backward), the
  // gradient flowing into it and the gradient of the logits: three (B, T, V) fp32 tensors. Under
  // autocast the logits are 16-bit and a fp32 copy is made for the loss: counted in the three.
  e.head = 3 * b * tt * V * 4;
  const double layers = static_cast<double>(c.n_layer);
  if (p.activation_checkpointing) {
    // Each block keeps only its input; backward recomputes one block at a time, after the head's
    // tensors are gone: the larger of the two is alive on top of the inputs.
    e.activations = layers * b * tt * C * act + tail + std::max(0.0, block - e.head);
    e.notes.push_back(
        "activation checkpointing: each block keeps only its input; one block's activations "
        "are recomputed at a time in backward");
  } else {
    e.activations = all_blocks + tail;
  }
  if (pr == "bf16-mixed" || pr == "16-mixed") {
    // Autocast caches a 16-bit copy of every weight a matmul reads, for the whole step.
    // NF4 weights are dequantized by each call and dropped after it (never cached): only the
    // largest one is alive at a time, as the dequantized fp32 value and its 16-bit cast.
    int64_t linear = 0, one_block = 0, largest = 0;
    for (const auto& l : all_block_linears(c))
      linear += l.in * l.out, largest = std::max(largest, l.in * l.out);
    for (const auto& l : block_linears(c)) one_block += l.in * l.out;
    if (p.quant == "nf4") {
      e.activations +=
          static_cast<double>(largest) * (4 + 2) + static_cast<double>(c.vocab_size * c.n_embd) * 2;
      e.notes.push_back(
          "autocast: a 16-bit copy of the output layer; nf4 weights dequantized one at a time");
    } else if (p.strategy == "fsdp" && p.world_size > 1) {
      // FSDP casts the gathered block as it computes and frees it after: one block at a time.
      e.activations += static_cast<double>(one_block + c.vocab_size * c.n_embd) * 2;
      e.notes.push_back(
          "autocast: 16-bit copies of one gathered block's weights and of the output layer");
    } else {
      e.activations += static_cast<double>(linear + c.vocab_size * c.n_embd) * 2;
      e.notes.push_back("autocast: 16-bit copies of the matmul weights live through the step");
    }
  }
  return e;
}

bool is_out_of_memory(const std::string& what) {
  for (const char* marker : {"out of memory", "can't allocate memory", "Cannot allocate memory",
                             "bad_alloc", "std::bad_alloc"}) {
    if (what.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string out_of_memory_advice(const MemoryPlan& plan, int64_t accumulate,
                                 const std::string& detail) {
  auto gib = [](double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return std::string(buf);
  };
  const auto e = estimate_memory(plan);
  std::string msg = str("[trainer] out of memory (", detail, "). volt memory estimates a peak of ",
                        gib(e.peak()), ": weights ", gib(e.weights), ", gradients ",
                        gib(e.gradients), ", optimizer ", gib(e.optimizer), ", activations ",
                        gib(e.activations), ", loss head ", gib(e.head), ". HINT:");
  if (plan.micro_batch > 1) {
    MemoryPlan half = plan;
    half.micro_batch = plan.micro_batch / 2;
    msg += str(" --data.batch_size=", half.micro_batch,
               " --trainer.accumulate_grad_batches=", accumulate * 2,
               " (same tokens per step) needs ", gib(estimate_memory(half).peak()), ";");
  }
  if (plan.precision == "32-true") {
    MemoryPlan bf = plan;
    bf.precision = "bf16-mixed";
    msg += str(" --trainer.precision=bf16-mixed needs ", gib(estimate_memory(bf).peak()), ";");
  }
  if (!plan.activation_checkpointing) {
    MemoryPlan ck = plan;
    ck.activation_checkpointing = true;
    msg +=
        str(" --model.activation_checkpointing=true needs ", gib(estimate_memory(ck).peak()), ";");
  }
  msg += str(" volt memory --model DIR --micro-batch ", plan.micro_batch, " --seq-len ",
             plan.seq_len > 0 ? plan.seq_len : plan.model.block_size, " --precision ",
             plan.precision, " shows the breakdown.");
  return msg;
}

int64_t measure_training_peak(const MemoryPlan& plan, int64_t steps) {
  VOLT_CHECK(plan.lora_rank == 0 && plan.quant.empty() && plan.strategy == "single",
             "[memory] --measure runs a single-process full fine-tune; LoRA, nf4 and ddp/fsdp are "
             "estimated only");
  VOLT_CHECK(plan.optimizer == "adamw", "[memory] --measure trains with adamw");
  memory::track_cpu_allocations();
  const torch::Device cpu(torch::kCPU);
  const int64_t before = memory::stats(cpu).current_bytes;
  memory::reset_peak(cpu);
  seed_everything(1337);
  AdamWOptions adamw;
  adamw.lr = 1e-4;
  LMModule module(plan.model, adamw, nullptr, nullptr);
  module.lm->set_activation_checkpointing(plan.activation_checkpointing);
  RandomTokenOptions ro;
  ro.batch_size = plan.micro_batch;
  ro.block_size = plan.seq_len > 0 ? plan.seq_len : plan.model.block_size;
  ro.vocab_size = plan.model.vocab_size;
  ro.batches = steps;
  RandomTokenDataModule data(ro);
  Trainer trainer(
      TrainerOptions()
          .accelerator("cpu")
          .max_steps(steps)
          .precision(plan.precision)
          .master_weights(plan.master_weights)
          .enable_progress_bar(false)
          .enable_model_summary(false)  // stdout may be --json's
          .enable_checkpointing(false)
          .logger(false)
          .val_check_interval(steps + 1)
          .limit_val_batches(0.0)
          .default_root_dir((fs::temp_directory_path() / "volt-memory-measure").string()));
  trainer.fit(module, data);
  return memory::stats(cpu).peak_bytes - before;
}

}  // namespace volt

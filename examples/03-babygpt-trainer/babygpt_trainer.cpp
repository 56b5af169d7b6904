// Example 03 (Module 3 project): the BabyGPT Trainer — pretrain, ship as a Hugging Face model,
// fine-tune from that directory, and measure what fine-tuning bought in perplexity.
//
// The companion of docs/03-llm-core.md. No pretrained GPT-2 can be downloaded on this machine, so
// the recipe makes its own "pretrained model" first; on a machine that has a real one, --base
// points at its directory and part 1 is skipped:
//   1. pretrain: a small GPT-2 (BabyGPT 4 x 128, GPT-2's BPE vocabulary) on English prose
//      (Wikitext-2's articles) or Python code (the standard library's .py files), packed rows;
//   2. ship: save it as a Hugging Face directory (config.json, model.safetensors, tokenizer.json)
//      and load it back from there, as anyone receiving it would (the logits must be identical);
//   3. before: perplexity e^{val loss} of the loaded model on Tiny Shakespeare's held-out tail,
//      and a sample;
//   4. fine-tune: volt::Trainer on Tiny Shakespeare from the loaded weights (lower rate, warmup);
//   5. after: the same perplexity and sample, the fine-tuned model saved as a Hugging Face
//      directory, and — for comparison — the same architecture trained from random weights for
//      the same number of steps (what pretraining bought).
//
//   cmake --build build --target example03_babygpt_trainer -j1
//   ./build/bin/example03_babygpt_trainer                          # ~15 min on 2 CPU cores
//   ./build/bin/example03_babygpt_trainer --corpus python
//   ./build/bin/example03_babygpt_trainer --base ~/models/gpt2     # a real GPT-2 directory
//
// Exits 1 when fine-tuning does not lower the perplexity, a loss is not finite, or the reloaded
// model's logits differ from the saved one's, so ctest can run it (small).
#include <torch/torch.h>

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "example_data.h"
#include "volt/core/check.h"
#include "volt/core/seed.h"
#include "volt/data/llm_datamodule.h"
#include "volt/data/text_datamodule.h"
#include "volt/models/generate.h"
#include "volt/models/model_config.h"
#include "volt/models/pretrained.h"
#include "volt/train/lm_module.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/optim.h"
#include "volt/train/trainer.h"

namespace fs = std::filesystem;

// Pretraining: nanoGPT's CPU BabyGPT with GPT-2's vocabulary, on rows of 128 tokens.
constexpr const char* kDefaultPreset = "babygpt-shakespeare";  // 4 blocks, 4 heads, 128 wide
constexpr int64_t kDefaultBlock = 128;
constexpr int64_t kBatch = 8;
constexpr int64_t kDefaultPretrainSteps = 1000;
constexpr double kPretrainLR = 1e-3, kPretrainMinLR = 1e-4;
// Fine-tuning: a short warmup so the first steps do not undo what pretraining learned, cosine to a
// tenth. A model this small (0.8M weights outside the embedding) is still far from what it could
// learn and takes pretraining's rate; a real GPT-2 wants nanoGPT's finetune_shakespeare rate,
// --finetune-lr 3e-5. The from-scratch comparison uses the same rate and schedule, so the only
// difference between the two runs is where the weights start.
constexpr int64_t kDefaultFinetuneSteps = 300;
constexpr double kDefaultFinetuneLR = 1e-3;
constexpr double kWeightDecay = 0.1, kClipNorm = 1.0;
constexpr int64_t kValBatches = 20;  // Tiny Shakespeare's fixed validation set: 20 x 8 windows
constexpr uint64_t kSeed = 1337;
constexpr const char* kPrompt = "ROMEO:\nBut soft, what light";

namespace {

using volt::examples::data_file;

struct Args {
  std::string base, corpus = "wikitext", out, preset = kDefaultPreset;
  int64_t pretrain_steps = kDefaultPretrainSteps, finetune_steps = kDefaultFinetuneSteps;
  int64_t block = kDefaultBlock, sample_tokens = 48;
  double finetune_lr = kDefaultFinetuneLR;
  bool scratch = true;
};

fs::path default_out() { return fs::temp_directory_path() / "volt-example03-babygpt-trainer"; }

std::string cache_dir() {
  if (const char* env = std::getenv("VOLT_CACHE_DIR"); env != nullptr && *env != '\0') return env;
  return (default_out() / "cache").string();
}

// Pretraining data: whole documents (articles or source files), tokenized once into the token
// cache, split by document, packed best-fit-decreasing with attention kept inside each document.
std::shared_ptr<volt::LLMDataModule> pretraining_data(const Args& a) {
  volt::LLMDataOptions o;
  if (a.corpus == "wikitext") {
    o.corpus.format = "wikitext";  // an article starts at a " = Title = " line
    o.corpus.paths = {data_file("corpora/wikitext-2/valid.txt"), data_file("corpora/wikitext-2/test.txt")};
  } else {
    o.corpus.format = "files";  // every .py file of the standard library is one document
    o.corpus.paths = {"/usr/lib/python3.11/**/*.py"};
  }
  o.tokenizer = data_file("tokenizers/gpt2");
  o.cache.cache_dir = cache_dir();
  o.cache.append_eos = true;  // <|endoftext|> ends every document
  o.block_size = a.block;
  o.batch_size = kBatch;
  o.collator = "packed";
  o.splits.val = 0.05;
  o.seed = static_cast<int64_t>(kSeed);
  o.val_batches = kValBatches;
  auto dm = std::make_shared<volt::LLMDataModule>(o);
  dm->set_progress(false);
  dm->setup("fit");
  return dm;
}

// Fine-tuning data, as nanoGPT's shakespeare recipe: the first 90% of the play trains on random
// windows, the last 10% gives a fixed validation set — the same windows before and after.
std::shared_ptr<volt::TextDataModule> shakespeare(const Args& a, std::shared_ptr<volt::Tokenizer> tok) {
  volt::TextDataOptions o;
  o.path = data_file("corpora/tinyshakespeare/input.txt");
  o.block_size = a.block;
  o.batch_size = kBatch;
  o.val_fraction = 0.1;
  o.val_batches = kValBatches;
  o.seed = static_cast<int64_t>(kSeed);
  auto dm = std::make_shared<volt::TextDataModule>(o);
  dm->set_tokenizer(std::move(tok));  // the model directory's own tokenizer
  dm->setup("fit");
  return dm;
}

volt::Trainer make_trainer(int64_t steps, const fs::path& run_dir) {
  fs::remove_all(run_dir);
  return volt::Trainer(volt::TrainerOptions()
                           .max_steps(steps)
                           .val_check_interval(std::max<int64_t>(1, steps / 4))
                           .limit_val_batches(static_cast<double>(kValBatches))
                           .log_every_n_steps(std::max<int64_t>(1, steps / 20))
                           .gradient_clip_val(kClipNorm)
                           .seed(static_cast<int64_t>(kSeed))
                           .default_root_dir(run_dir.string())
                           .enable_progress_bar(true)
                           .enable_checkpointing(false));  // the model is saved by hand, below
}

volt::AdamWOptions adamw(double lr) {
  volt::AdamWOptions o;
  o.lr = lr;
  o.beta2 = 0.99;
  o.weight_decay = kWeightDecay;
  return o;
}

std::shared_ptr<volt::LRScheduler> cosine(int64_t steps, double lr, double min_lr) {
  const int64_t warmup = std::max<int64_t>(1, steps / 10);
  return std::make_shared<volt::CosineWithWarmup>(warmup, steps, min_lr, lr);
}

// The validation loss: fit() ends with a validation (its metrics are the trainer's); otherwise
// one pass over the validation set.
double val_loss(volt::Trainer& trainer, volt::LightningModule& m, volt::LightningDataModule& dm) {
  auto metrics = trainer.callback_metrics();
  if (trainer.global_step() == 0 || !metrics.count("val_loss")) metrics = trainer.validate(m, dm);
  const auto it = metrics.find("val_loss");
  VOLT_CHECK(it != metrics.end() && std::isfinite(it->second), "[example03] validation gave no finite val_loss");
  return it->second;
}

std::string sample(volt::LMModule& m, int64_t tokens) {
  volt::GenerationOptions g;
  g.max_new_tokens = tokens;
  g.temperature = 0.8;
  g.top_k = 200;
  g.seed = kSeed;
  const auto prompt = m.tokenizer->encode(kPrompt);
  m.lm->eval();
  const auto ids = volt::generate(*m.lm, prompt, g);
  return kPrompt + m.tokenizer->decode(ids);
}

void print_sample(const char* when, const std::string& text) {
  std::printf("\n--- sample %s ---\n%s\n---\n", when, text.c_str());
}

// Part 1: pretrain, save as a Hugging Face directory.
void pretrain(const Args& a, const fs::path& base_dir) {
  auto dm = pretraining_data(a);
  const auto& cache = dm->cache();
  std::printf("Part 1 — pretraining on %s: %" PRId64 " documents, %" PRId64 " GPT-2 tokens (%zu train, "
              "%zu val documents)\n", a.corpus == "wikitext" ? "Wikitext-2 (English articles)"
                                                             : "the Python 3.11 standard library",
              cache.num_documents(), cache.num_tokens(), dm->splits().train.size(), dm->splits().val.size());
  volt::ModelConfig mc = volt::ModelConfig::preset(a.preset);
  mc.block_size = a.block;
  mc.vocab_size = (dm->tokenizer()->vocab_size() + 63) / 64 * 64;  // 50,257 -> 50,304, as nanoGPT
  volt::seed_everything(kSeed);
  volt::LMModule model(mc, adamw(kPretrainLR), cosine(a.pretrain_steps, kPretrainLR, kPretrainMinLR),
                       dm->tokenizer());
  std::printf("model: %s, %" PRId64 " blocks x %" PRId64 " wide, %.2fM parameters, context %" PRId64 "\n",
              a.preset.c_str(), mc.n_layer, mc.n_embd, static_cast<double>(volt::count_parameters(mc)) / 1e6,
              mc.block_size);
  auto trainer = make_trainer(a.pretrain_steps, fs::path(a.out) / "pretrain");
  trainer.fit(model, *dm);
  const double loss = val_loss(trainer, model, *dm);
  std::printf("pretraining val loss %.4f (perplexity %.1f on held-out %s)\n", loss, std::exp(loss),
              a.corpus == "wikitext" ? "articles" : "files");
  model.save_pretrained(base_dir.string());  // config.json, model.safetensors, tokenizer.json
  std::printf("saved as a Hugging Face model: %s\n", base_dir.c_str());
}

// Builds an LMModule from a Hugging Face directory (what `volt fit --model.from_pretrained=DIR`
// does): architecture from config.json, weights from the safetensors, the directory's tokenizer.
std::unique_ptr<volt::LMModule> load(const fs::path& dir, int64_t steps, double lr) {
  const volt::ModelConfig mc = volt::load_model_config(dir.string());
  auto m = std::make_unique<volt::LMModule>(mc, adamw(lr), cosine(steps, lr, lr / 10),
                                            volt::load_tokenizer(dir.string()));
  m->load_pretrained_weights(dir.string());
  return m;
}

// Loading what was saved must give the same function: compare logits on a fixed batch.
bool same_logits(volt::LMModule& a, volt::LMModule& b, int64_t vocab_limit) {
  torch::NoGradGuard no_grad;
  const int64_t T = std::min(a.lm->config().block_size, int64_t{32});
  auto ids = torch::randint(vocab_limit, {2, T}, torch::TensorOptions().dtype(torch::kLong));
  a.lm->eval(), b.lm->eval();
  return torch::equal(a.lm->forward(ids), b.lm->forward(ids));
}

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-scratch") {
      a.scratch = false;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    std::string* text = arg == "--base" ? &a.base : arg == "--corpus" ? &a.corpus : arg == "--out" ? &a.out
                        : arg == "--preset" ? &a.preset : nullptr;
    if (text != nullptr) {
      *text = value;
      continue;
    }
    int64_t* number = arg == "--pretrain-steps" ? &a.pretrain_steps : arg == "--finetune-steps" ? &a.finetune_steps
                      : arg == "--block-size" ? &a.block : arg == "--sample-tokens" ? &a.sample_tokens : nullptr;
    if (arg == "--finetune-lr") {
      char* end = nullptr;
      a.finetune_lr = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(a.finetune_lr > 0)) return false;
      continue;
    }
    if (number == nullptr) return false;
    char* end = nullptr;
    *number = std::strtoll(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || *number < (number == &a.sample_tokens ? 0 : 1)) return false;
  }
  return a.corpus == "wikitext" || a.corpus == "python";
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    const std::string first = argc > 1 ? argv[1] : "";
    std::printf(
        "usage: %s [--base HF_DIR] [--corpus wikitext|python] [--pretrain-steps %" PRId64 "]\n"
        "          [--finetune-steps %" PRId64 "] [--block-size %" PRId64 "] [--preset %s] [--out DIR]\n"
        "          [--finetune-lr %g] [--sample-tokens 48] [--no-scratch]\n"
        "The BabyGPT Trainer: pretrains a small GPT-2 on Wikitext-2 or Python code (or takes a Hugging\n"
        "Face GPT-2 directory with --base), saves and reloads it as a Hugging Face model, fine-tunes it\n"
        "on Tiny Shakespeare and prints the perplexity before and after, against the same model trained\n"
        "from scratch for as many steps (--no-scratch skips that). Results go to --out (default %s).\n"
        "Data: $VOLT_DATA_DIR, else ../shared/data beside the repository.\n",
        argv[0], kDefaultPretrainSteps, kDefaultFinetuneSteps, kDefaultBlock, kDefaultPreset, kDefaultFinetuneLR,
        default_out().c_str());
    return first == "--help" || first == "-h" ? 0 : 2;
  }
  if (args.out.empty()) args.out = default_out().string();
  try {
    const fs::path out(args.out);
    fs::create_directories(out);
    // Parts 1 and 2: the base model, as a Hugging Face directory, loaded from there.
    fs::path base_dir = args.base;
    if (args.base.empty()) {
      base_dir = out / "base";
      pretrain(args, base_dir);
    } else {
      std::printf("Part 1 — skipped: the base model is %s\n", base_dir.c_str());
    }
    auto model = load(base_dir, args.finetune_steps, args.finetune_lr);
    const auto& mc = model->lm->config();
    VOLT_CHECK(args.block <= mc.block_size, "[example03] --block-size ", args.block, " exceeds the base model's "
               "context (", mc.block_size, " in ", base_dir.string(), "/config.json)");
    std::printf("\nPart 2 — loaded %s: %s, %" PRId64 " blocks x %" PRId64 " wide, vocabulary %" PRId64 "\n",
                base_dir.c_str(), mc.model_type.c_str(), mc.n_layer, mc.n_embd, mc.vocab_size);
    {  // Save the loaded model again and reload it: a round trip changes nothing.
      const fs::path again = out / "base-resaved";
      model->save_pretrained(again.string());
      auto reloaded = load(again, args.finetune_steps, args.finetune_lr);
      const bool same = same_logits(*model, *reloaded, model->tokenizer->vocab_size());
      std::printf("save -> load round trip: logits %s\n", same ? "identical" : "DIFFER");
      if (!same) return 1;
    }

    // Part 3: before fine-tuning.
    auto data = shakespeare(args, model->tokenizer);
    std::printf("\nPart 3 — Tiny Shakespeare: %" PRId64 " train tokens, %" PRId64 " held-out tokens "
                "(validation: %" PRId64 " batches of %" PRId64 " x %" PRId64 ")\n", data->train_tokens(),
                data->val_tokens(), kValBatches, kBatch, args.block);
    auto before_trainer = make_trainer(1, out / "before");
    const double before = val_loss(before_trainer, *model, *data);
    std::printf("before fine-tuning: val loss %.4f nats/token, perplexity %.2f\n", before, std::exp(before));
    if (args.sample_tokens > 0) print_sample("before fine-tuning", sample(*model, args.sample_tokens));

    // Part 4: fine-tune from the loaded weights.
    std::printf("\nPart 4 — fine-tuning %" PRId64 " steps (lr %.0e, cosine to %.0e, %" PRId64 " warmup)\n",
                args.finetune_steps, args.finetune_lr, args.finetune_lr / 10, std::max<int64_t>(1, args.finetune_steps / 10));
    auto trainer = make_trainer(args.finetune_steps, out / "finetune");
    trainer.fit(*model, *data);
    const double after = val_loss(trainer, *model, *data);
    const fs::path tuned_dir = out / "finetuned";
    model->save_pretrained(tuned_dir.string());

    // Part 5: after, and the same steps from random weights.
    std::printf("\nPart 5 — after fine-tuning: val loss %.4f, perplexity %.2f (saved: %s)\n", after,
                std::exp(after), tuned_dir.c_str());
    if (args.sample_tokens > 0) print_sample("after fine-tuning", sample(*model, args.sample_tokens));
    double scratch = std::nan("");
    if (args.scratch) {
      volt::seed_everything(kSeed);
      volt::LMModule fresh(mc, adamw(args.finetune_lr), cosine(args.finetune_steps, args.finetune_lr,
                                                               args.finetune_lr / 10),
                           model->tokenizer);
      std::printf("\nFor comparison: the same architecture from random weights, %" PRId64 " steps at the same "
                  "rate and schedule\n", args.finetune_steps);
      auto scratch_trainer = make_trainer(args.finetune_steps, out / "scratch");
      scratch_trainer.fit(fresh, *data);
      scratch = val_loss(scratch_trainer, fresh, *data);
    }

    std::printf("\n%-40s %12s %12s\n", "Tiny Shakespeare, held-out tail", "val loss", "perplexity");
    std::printf("%-40s %12.4f %12.2f\n", "base model, before fine-tuning", before, std::exp(before));
    std::printf("%-40s %12.4f %12.2f\n", ("fine-tuned, " + std::to_string(args.finetune_steps) + " steps").c_str(),
                after, std::exp(after));
    if (args.scratch) {
      std::printf("%-40s %12.4f %12.2f\n", ("from scratch, " + std::to_string(args.finetune_steps) + " steps").c_str(),
                  scratch, std::exp(scratch));
    }
    if (!(after < before)) {
      std::printf("fine-tuning did not lower the perplexity\n");
      return 1;
    }
    return 0;
  } catch (const volt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}

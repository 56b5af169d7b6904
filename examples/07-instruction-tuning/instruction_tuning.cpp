// Example 07 (Module 7): instruction tuning. GSM8K's grade-school math as conversations in
// Llama 3's chat format (the Llama 3.1 tokenizer and its chat_template), with the loss on the
// assistant's tokens only:
//   1. one conversation rendered by the template, its tokens, the ones with loss marked;
//   2. the SFT DataModule: the share of tokens with loss, and what packing saves over padding;
//   3. SFT of a random-weight Llama-3-shaped model (llama-tiny, context 512) through
//      volt::Trainer, with a 2,048-token BPE trained here on GSM8K that carries Llama 3.1's real
//      chat template and special tokens (the real 128,256-token vocabulary would make each CPU
//      step ~100x dearer); the held-out loss on assistant tokens before and after;
//   4. a greedy reply to a training question, rendered with the generation prompt, stopped at
//      <|eot_id|>, as `volt chat` does.
//
//   cmake --build build --target example07_instruction_tuning
//   ./build/bin/example07_instruction_tuning            # 2,000 conversations, 600 steps
//   ./build/bin/example07_instruction_tuning --quick    # 400 conversations, 150 steps (ctest)
//
// Exits 1 if the held-out loss does not fall.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "example_data.h"
#include "volt/data/sft_datamodule.h"
#include "volt/io/files.h"
#include "volt/models/generate.h"
#include "volt/models/pretrained.h"
#include "volt/tokenizers/bpe_trainer.h"
#include "volt/train/lm_module.h"
#include "volt/train/lr_scheduler.h"
#include "volt/train/trainer.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct Options {
  int64_t conversations = 2000, steps = 600, batch = 8, block = 384;
  double lr = 1e-2;
};

// Step 1: what the model sees, and which tokens it is scored on.
void show_one_conversation(const volt::Tokenizer& tok, const volt::ChatTemplate& tmpl,
                           const volt::data::Conversation& conv) {
  const auto t = volt::data::tokenize_conversation(conv, tmpl, tok);
  std::printf("1. one conversation, %zu tokens, %lld with loss ([...] = the loss mask):\n\n",
              t.ids.size(), static_cast<long long>(t.target_tokens()));
  bool in = false;
  for (size_t i = 0; i < t.ids.size(); ++i) {
    if (t.loss_mask[i] != in) std::printf(in ? "]" : "["), in = t.loss_mask[i];
    std::printf("%s", tok.decode({t.ids[i]}).c_str());
  }
  std::printf("%s\n\n", in ? "]" : "");
}

// A small byte-level BPE trained on the conversations' text, with Llama 3's special tokens and
// Llama 3.1's chat template: the format is the real one, the vocabulary 60x smaller.
std::string small_chat_tokenizer(const std::vector<volt::data::Conversation>& convs,
                                 const std::string& llama_dir, const fs::path& dir) {
  volt::BpeTrainerOptions bo;
  bo.vocab_size = 2048;
  bo.special_tokens = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                       "<|end_header_id|>", "<|eot_id|>"};
  volt::BpeTrainer trainer(bo);
  for (const auto& c : convs) {
    for (const auto& m : c.messages) trainer.feed(m["content"].get<std::string>() + "\n");
  }
  fs::create_directories(dir);
  volt::io::write_file_atomic((dir / "tokenizer.json").string(), trainer.train().dump());
  const auto llama = volt::io::read_json(llama_dir + "/tokenizer_config.json");
  volt::io::write_json((dir / "tokenizer_config.json").string(),
                       {{"bos_token", "<|begin_of_text|>"},
                        {"eos_token", "<|eot_id|>"},
                        {"chat_template", llama.at("chat_template")}});
  return dir.string();
}

double val_loss(volt::Trainer& trainer, volt::LMModule& module, volt::SFTDataModule& data) {
  return trainer.validate(module, data).at("val_loss");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      o.conversations = 400, o.steps = 150, o.batch = 4;
    } else {
      std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
      return 2;
    }
  }
  try {
    torch::set_num_threads(2);
    const std::string tok_dir = volt::examples::data_file("tokenizers/llama3_1");
    const std::string gsm8k = volt::examples::data_file("corpora/gsm8k/train.jsonl");
    std::shared_ptr<volt::Tokenizer> tok = volt::load_tokenizer(tok_dir);
    const auto tmpl = volt::ChatTemplate::from_tokenizer_config(tok_dir);
    const auto records = volt::data::read_sft_file(gsm8k, {});
    show_one_conversation(*tok, tmpl, records.front());

    const auto run = fs::temp_directory_path() / "volt-example07-instruction-tuning";
    fs::remove_all(run);

    // 2. The DataModule: the same conversations, split, tokenized with their masks, packed.
    volt::SFTDataOptions d;
    d.paths = {gsm8k};
    d.tokenizer = tok_dir;
    d.limit = o.conversations;
    d.block_size = o.block;
    d.batch_size = o.batch;
    d.splits.val = 0.1;
    d.num_workers = 0;
    volt::SFTDataModule real(d);
    real.set_progress(false);
    real.setup("fit");
    const auto& r = real.report();
    std::printf("2. %lld conversations, %lld tokens, %.1f%% of them with loss\n",
                static_cast<long long>(r.conversations), static_cast<long long>(r.tokens),
                100.0 * static_cast<double>(r.target_tokens) / static_cast<double>(r.tokens));
    const auto train = real.conversation_indices("train");
    for (const auto& name : volt::sft_collator_names()) {
      const auto s = real.collator_stats(name, train);
      std::printf("   %-8s %5lld rows, %5.1f%% padding\n", name.c_str(),
                  static_cast<long long>(s.rows), 100.0 * s.padding.padding_fraction());
    }

    // 3. The same data through a small tokenizer with the same template, and a random
    //    llama-tiny with its vocabulary and a context of 512, every weight trained.
    const std::string small = small_chat_tokenizer(records, tok_dir, run / "tokenizer");
    d.tokenizer = small;
    volt::SFTDataModule data(d);
    data.set_progress(false);
    data.setup("fit");
    tok = data.tokenizer();
    auto cfg = volt::ModelConfig::preset("llama-tiny");
    cfg.vocab_size = tok->vocab_size();
    cfg.block_size = 512;
    volt::set_special_ids(cfg, *tok);
    torch::manual_seed(1337);
    volt::AdamWOptions adamw;
    adamw.lr = o.lr;
    adamw.weight_decay = 0;
    auto sched = std::make_shared<volt::CosineWithWarmup>(5, o.steps, o.lr / 10, o.lr);
    volt::LMModule module(cfg, adamw, sched, tok);
    volt::TrainerOptions t;
    t.max_steps(o.steps).val_check_interval(o.steps).limit_val_batches(5).log_every_n_steps(10);
    t.accelerator("cpu").num_threads(1).enable_checkpointing(false).enable_progress_bar(false);
    t.enable_model_summary(false).default_root_dir(run.string()).gradient_clip_val(1.0);
    volt::Trainer trainer(t);
    const double before = val_loss(trainer, module, data);
    trainer.fit(module, data);
    const double after = val_loss(trainer, module, data);
    std::printf("\n3. SFT, %lld steps: held-out loss on the assistant's tokens %.3f -> %.3f\n",
                static_cast<long long>(o.steps), before, after);

    // 4. A training question, rendered with the generation prompt; greedy until <|eot_id|>.
    Json prompt = Json::array({records.front().messages[0]});
    volt::ChatRenderOptions ro;
    ro.add_generation_prompt = true;
    volt::EncodeOptions enc;
    enc.add_special_tokens = false;  // the template writes <|begin_of_text|> itself
    const auto small_tmpl = volt::ChatTemplate::from_tokenizer_config(small);
    const auto ids = tok->encode(small_tmpl.render(prompt, ro), enc);
    volt::GenerationOptions g;
    g.temperature = 0;
    g.max_new_tokens = 160;
    g.stop_ids = {*tok->token_to_id("<|eot_id|>"), *tok->eos_id()};
    g.vocab_limit = tok->vocab_size();
    auto reply = volt::generate(*module.lm, ids, g);
    const bool stopped = !reply.empty() && std::find(g.stop_ids.begin(), g.stop_ids.end(),
                                                     reply.back()) != g.stop_ids.end();
    if (stopped) reply.pop_back();
    std::printf("\n4. %s\n   -> %s\n   (%zu tokens, %s)\n",
                prompt[0]["content"].get<std::string>().c_str(), tok->decode(reply).c_str(),
                reply.size(), stopped ? "stopped at <|eot_id|>" : "cut at max_new_tokens");
    fs::remove_all(run);
    if (!(after < before)) {
      std::fprintf(stderr, "FAIL: the held-out loss did not fall\n");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

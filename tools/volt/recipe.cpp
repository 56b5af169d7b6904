#include "recipe.h"

#include <filesystem>

#include "volt/core/check.h"
#include "volt/core/seed.h"
#include "volt/models/pretrained.h"
#include "volt/dist/ddp_strategy.h"
#include "volt/dist/fsdp.h"
#include "volt/nn/linear.h"
#include "volt/peft/lora.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace fs = std::filesystem;

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config c = Config::from_file(path);
  for (const auto& o : overrides) c.set_override(o);
  return c;
}

std::string fresh_run_dir(const std::string& root, const std::string& name) {
  fs::path p = fs::path(root) / name;
  for (int v = 1; fs::exists(p); ++v) p = fs::path(root) / (name + "-v" + std::to_string(v));
  return p.string();
}

namespace {

ModelConfig model_config_from(ConfigSection& s) {
  ModelConfig c;
  if (s.has("preset")) c = ModelConfig::preset(s.get<std::string>("preset", ""));
  s.mark("preset");
  c.n_layer = s.get<int64_t>("n_layer", c.n_layer);
  c.n_head = s.get<int64_t>("n_head", c.n_head);
  c.n_embd = s.get<int64_t>("n_embd", c.n_embd);
  c.block_size = s.get<int64_t>("block_size", c.block_size);
  c.vocab_size = s.get<int64_t>("vocab_size", 0);  // 0: the tokenizer's
  c.n_inner = s.get<int64_t>("n_inner", c.n_inner);
  c.bias = s.get<bool>("bias", c.bias);
  c.dropout = s.get<double>("dropout", c.dropout);
  c.tie_word_embeddings = s.get<bool>("tie_word_embeddings", c.tie_word_embeddings);
  c.layer_norm_eps = s.get<double>("layer_norm_eps", c.layer_norm_eps);
  c.activation = s.get<std::string>("activation", c.activation);
  c.initializer_range = s.get<double>("initializer_range", c.initializer_range);
  return c;
}

AdamWOptions adamw_from(ConfigSection& s) {
  AdamWOptions o;
  const auto name = s.get<std::string>("name", "adamw");
  VOLT_CHECK(name == "adamw" || name == "AdamW", "[config] optimizer.name '", name,
             "' is not supported (adamw)");
  o.lr = s.get<double>("lr", 1e-3);
  if (s.has("betas")) {
    auto b = s.get<std::vector<double>>("betas", {});
    VOLT_CHECK(b.size() == 2, "[config] optimizer.betas must be two numbers, e.g. [0.9, 0.99]");
    o.beta1 = b[0], o.beta2 = b[1];
  }
  s.mark("betas");
  o.weight_decay = s.get<double>("weight_decay", 0.1);
  o.eps = s.get<double>("eps", o.eps);
  o.decay_embeddings = s.get<bool>("decay_embeddings", o.decay_embeddings);
  return o;
}

ModelCheckpointOptions checkpoint_from(ConfigSection& s, bool has_val) {
  ModelCheckpointOptions o;
  o.monitor = s.get<std::string>("monitor", has_val ? "val_loss" : "");
  // Lightning's monitor=None: no metric, the newest k checkpoints are kept (keep-last-k).
  if (o.monitor == "none" || o.monitor == "None") o.monitor.clear();
  o.mode = s.get<std::string>("mode", o.mode);
  o.save_top_k = s.get<int64_t>("save_top_k", o.save_top_k);
  o.save_last = s.get<bool>("save_last", o.save_last);
  o.every_n_train_steps = s.get<int64_t>("every_n_train_steps", o.every_n_train_steps);
  o.dirpath = s.get<std::string>("dirpath", o.dirpath);
  return o;
}

// model.peft: LoRA / QLoRA (PEFT's LoraConfig; `alpha` or PEFT's `lora_alpha`, `dropout` or
// `lora_dropout`). Returns the type ("" when there is no peft section).
std::string peft_from(ConfigSection& s, peft::LoraConfig& lora) {
  if (s.keys().empty()) return "";
  const auto type = s.get<std::string>("type", "lora");
  VOLT_CHECK(type == "lora" || type == "qlora", "[config] model.peft.type '", type,
             "' is not one of lora, qlora (LoRA on 4-bit NF4 base weights)");
  lora.r = s.get<int64_t>("r", lora.r);
  lora.alpha = s.get<double>("lora_alpha", s.get<double>("alpha", lora.alpha));
  lora.dropout = s.get<double>("lora_dropout", s.get<double>("dropout", lora.dropout));
  if (s.has("target_modules")) {
    try {
      lora.target_modules = s.get<std::vector<std::string>>("target_modules", {});
    } catch (const Error&) {  // one name, or all-linear
      lora.target_modules = {s.get<std::string>("target_modules", "")};
    }
  }
  lora.use_rslora = s.get<bool>("use_rslora", lora.use_rslora);
  lora.bias = s.get<std::string>("bias", lora.bias);
  lora.validate("[config] model.peft");
  return type;
}

}  // namespace

Recipe build_recipe(Config& config, const std::string& tokenizer_dir) {
  ConfigSection root(config.root(), "", config.source());
  Recipe r;
  r.run_name = root.get<std::string>("name", fs::path(config.source()).stem().string());

  auto trainer_s = root.child("trainer");
  auto ckpt_s = trainer_s.child("checkpoint");
  r.trainer = trainer_options_from(trainer_s);
  // Data parallel: ddp by name, or auto under a launcher. data.batch_size is per process (as in
  // Lightning): the loaders draw world x batch_size rows and each rank keeps its slice.
  // fsdp: trainer.fsdp.sharding (full_shard | shard_grad_op | no_shard), trainer.fsdp.cpu_offload.
  const auto denv = dist::env_from();
  const bool ddp = r.trainer.strategy() == "ddp" || (r.trainer.strategy() == "auto" && denv.distributed());
  const bool fsdp = r.trainer.strategy() == "fsdp";
  auto fsdp_s = trainer_s.child("fsdp");
  dist::FsdpOptions fo;
  fo.sharding = dist::parse_sharding(fsdp_s.get<std::string>("sharding", "full_shard"));
  fo.cpu_offload = fsdp_s.get<bool>("cpu_offload", fo.cpu_offload);
  fsdp_s.finish();
  if (ddp) r.trainer.strategy_plugin(std::make_shared<dist::DDPStrategy>());
  const int64_t world = ddp || fsdp ? denv.world_size : 1;
  auto model_s = root.child("model");
  // Fine-tuning: the architecture, the weights and the tokenizer come from a Hugging Face
  // directory (a volt checkpoint is one too); only dropout may be changed.
  const std::string pretrained = model_s.get<std::string>("from_pretrained", "");
  // Not part of the architecture: how the blocks keep their activations for backward.
  const bool activation_checkpointing = model_s.get<bool>("activation_checkpointing", false);
  ModelConfig mc;
  if (!pretrained.empty()) {
    VOLT_CHECK(fs::is_directory(pretrained), "[config] model.from_pretrained ", pretrained,
               ": no such directory");
    mc = load_model_config(pretrained);
    mc.dropout = model_s.get<double>("dropout", mc.dropout);
    for (const auto& k : model_s.keys()) {
      VOLT_CHECK(k == "from_pretrained" || k == "dropout" || k == "activation_checkpointing" || k == "peft",
                 "[config] model.", k,
                 " cannot be set "
                 "with model.from_pretrained (the architecture comes from ", pretrained, "/config.json)");
    }
  } else {
    mc = model_config_from(model_s);
  }
  auto peft_s = model_s.child("peft");
  peft::LoraConfig lora;
  const std::string peft_type = peft_from(peft_s, lora);
  peft_s.finish();
  VOLT_CHECK(peft_type.empty() || !pretrained.empty(), "[config] model.peft (", peft_type,
             ") adapts a pretrained model: set model.from_pretrained (`volt init` makes a random one)");
  lora.base_model_name_or_path = pretrained;
  model_s.finish();
  // The tokenizer: a resumed checkpoint's, else the pretrained directory's, else data.tokenizer.
  const std::string tok_dir = !tokenizer_dir.empty() ? tokenizer_dir : pretrained;

  auto data_s = root.child("data");
  const std::string data_module = data_s.get<std::string>("module", "text");
  VOLT_CHECK(data_module == "text" || data_module == "llm", "[config] data.module '", data_module,
             "' is not one of text (one file, random windows, as nanoGPT) or llm (LLMDataModule)");
  // Checked before any data is read: a block longer than the context is a config error.
  auto check_block = [&](int64_t block_size) {
    VOLT_CHECK(block_size <= mc.block_size, "[config] data.block_size ", block_size,
               " exceeds the model's context (model.block_size ", mc.block_size, ")");
  };
  if (data_module == "text") {
    TextDataOptions data_defaults;
    data_defaults.block_size = mc.block_size;  // the window defaults to the model's context
    data_defaults.seed = r.trainer.seed();
    TextDataOptions dopt = text_data_options_from(data_s, data_defaults);
    dopt.batch_size *= world;
    data_s.finish();
    check_block(dopt.block_size);
    auto text = std::make_shared<TextDataModule>(dopt);
    if (!tok_dir.empty()) text->set_tokenizer(load_tokenizer(tok_dir));
    text->prepare_data();
    text->setup("fit");
    r.tokenizer = text->tokenizer();
    r.data = text;
  } else {
    LLMDataOptions defaults;
    defaults.block_size = mc.block_size;
    defaults.seed = r.trainer.seed();
    LLMDataOptions dopt = llm_data_options_from(data_s, defaults);
    dopt.batch_size *= world;
    data_s.finish();
    check_block(dopt.block_size);
    auto llm = std::make_shared<LLMDataModule>(dopt);
    if (!tok_dir.empty()) llm->set_tokenizer(load_tokenizer(tok_dir), data::fingerprint_path(tok_dir));
    llm->set_progress(r.trainer.enable_progress_bar());
    llm->prepare_data();
    llm->setup("fit");
    r.tokenizer = llm->tokenizer();
    r.data = llm;
  }
  const int64_t tok_vocab = r.tokenizer->vocab_size();
  if (mc.vocab_size == 0) mc.vocab_size = tok_vocab;
  VOLT_CHECK(mc.vocab_size >= tok_vocab, "[config] model.vocab_size ", mc.vocab_size,
             " is smaller than the tokenizer's vocabulary (", tok_vocab, ")");

  auto opt_s = root.child("optimizer");
  const AdamWOptions adamw = adamw_from(opt_s);
  opt_s.finish();
  auto sched_s = root.child("scheduler");
  auto scheduler = scheduler_from(sched_s, adamw.lr, r.trainer.max_steps());
  sched_s.finish();

  // Without validation batches (val_fraction 0, or a split too short) monitor nothing.
  const auto val = r.data->val_dataloader();
  r.callbacks.push_back(std::make_shared<ModelCheckpoint>(checkpoint_from(ckpt_s, val && val->size() > 0)));
  ckpt_s.finish();
  trainer_s.finish();
  r.callbacks.push_back(std::make_shared<LearningRateMonitor>());
  root.finish();

  // Seed before the weights are drawn (Lightning's seed_everything), so a config is one run.
  seed_everything(static_cast<uint64_t>(r.trainer.seed()));
  {
    // QLoRA: the blocks' Linear weights are left unallocated and quantized as they load.
    nn::DeferLinearWeights defer(peft_type == "qlora");
    r.module = std::make_shared<LMModule>(mc, adamw, scheduler, r.tokenizer);
  }
  if (fsdp && !pretrained.empty()) {
    // fsdp: each rank reads only its slices of the pretrained weights, from the mapped files.
    VOLT_CHECK(peft_type.empty(), "[config] trainer.strategy fsdp with model.peft (", peft_type, "): fsdp shards "
               "trainable parameters only in this version; use ddp or one process for LoRA / QLoRA");
    auto reader = std::make_shared<PretrainedSliceReader>(pretrained, mc);
    fo.init_slices = [reader](const std::string& name, c10::IntArrayRef shape, int64_t begin, int64_t count) {
      VOLT_CHECK(name.rfind("lm.", 0) == 0, "[fsdp] parameter '", name, "' is not the language model's");
      return reader->read(name.substr(3), shape, begin, count, torch::kFloat32);
    };
  } else if (!pretrained.empty()) {
    r.module->load_base_weights(pretrained, peft_type == "qlora");
  }
  if (fsdp) r.trainer.strategy_plugin(std::make_shared<dist::FSDPStrategy>(fo));
  if (!peft_type.empty()) r.module->enable_lora(lora);
  r.module->lm->set_activation_checkpointing(activation_checkpointing);
  return r;
}

std::shared_ptr<LLMDataModule> build_llm_data(Config& config) {
  ConfigSection root(config.root(), "", config.source());
  LLMDataOptions defaults;
  auto model_s = root.child("model");
  if (model_s.has("preset")) {
    defaults.block_size = ModelConfig::preset(model_s.get<std::string>("preset", "")).block_size;
  }
  defaults.block_size = model_s.get<int64_t>("block_size", defaults.block_size);
  auto trainer_s = root.child("trainer");
  defaults.seed = trainer_s.get<int64_t>("seed", defaults.seed);
  auto data_s = root.child("data");
  const std::string module = data_s.get<std::string>("module", "text");
  VOLT_CHECK(module == "llm", "[config] ", config.source(), ": `volt data` works on data.module: "
             "llm (this config's data.module is '", module, "')");
  auto dm = std::make_shared<LLMDataModule>(llm_data_options_from(data_s, defaults));
  data_s.finish();
  return dm;
}

}  // namespace volt::cli

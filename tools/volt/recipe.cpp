#include "recipe.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "usage.h"
#include "volt/core/check.h"
#include "volt/core/seed.h"
#include "volt/dist/ddp_strategy.h"
#include "volt/dist/env.h"
#include "volt/models/pretrained.h"
#include "volt/nn/linear.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace fs = std::filesystem;

void add_config_options(CLI::App& app, ConfigArgs& args, const std::string& help) {
  app.add_option("-c,--config", args.configs, help + "; repeat it to merge several files in order")
      ->expected(1)  // one file per --config: a stray word after it is not a second file
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--print_config,--print-config", args.print_config,
               "print the resolved config (every default filled in) and exit");
}

Config load_config(const std::vector<std::string>& paths,
                   const std::vector<std::string>& overrides) {
  Config c = Config::from_file(paths.at(0));
  for (size_t i = 1; i < paths.size(); ++i) c.merge(Config::from_file(paths[i]));
  for (const auto& o : overrides) c.set_override(o);
  return c;
}

Config load_config(const CLI::App& app, const ConfigArgs& args) {
  const auto overrides = collect_overrides(app);  // an unknown option first: "--confg" explains it
  VOLT_CHECK(!args.configs.empty(), "[cli] ", command_path(app),
             " needs --config FILE (a YAML recipe)");
  return load_config(args.configs, overrides);
}

bool print_config_if_asked(Config& config, const ConfigArgs& args) {
  if (!args.print_config) return false;
  read_recipe(config);
  std::printf("%s", config.resolved_dump().c_str());
  return true;
}

std::string fresh_run_dir(const std::string& root, const std::string& name) {
  fs::create_directories(root);
  for (int v = 0;; ++v) {
    const fs::path p = fs::path(root) / (v == 0 ? name : name + "-v" + std::to_string(v));
    // mkdir is atomic: of two fits started at once, one gets name, the other name-v1.
    if (::mkdir(p.c_str(), 0755) == 0) return p.string();
    VOLT_CHECK(errno == EEXIST, "[fit] cannot create the run directory ", p.string(), ": ",
               errno_message(errno));
  }
}

std::string newest_last_checkpoint(const std::string& root, const std::string& name) {
  std::string best;
  fs::file_time_type best_time;
  std::vector<std::string> seen;
  for (int v = 0; v < 10000; ++v) {
    const fs::path run = fs::path(root) / (v == 0 ? name : name + "-v" + std::to_string(v));
    if (!fs::exists(run)) {
      if (v > 0) break;
      continue;
    }
    const fs::path state = run / "checkpoints" / "last" / "trainer_state.json";
    if (!fs::exists(state)) continue;
    seen.push_back(run.filename().string());
    const auto t = fs::last_write_time(state);
    if (best.empty() || t > best_time)
      best = (run / "checkpoints" / "last").string(), best_time = t;
  }
  VOLT_CHECK(!best.empty(), "[fit] --ckpt_path last: no run named '", name, "' under ", root,
             " has a checkpoints/last to resume (give the checkpoint directory instead)");
  return best;
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
  c.set_bias(s.get<bool>("bias", c.qkv_bias));
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
  VOLT_CHECK(name == "adamw" || name == "AdamW", s.where("name"), ": optimizer.name '", name,
             "' is not supported (adamw)");
  o.lr = s.get<double>("lr", 1e-3);
  VOLT_CHECK(o.lr >= 0, s.where("lr"), ": optimizer.lr must be >= 0, got ", o.lr);
  if (s.has("betas")) {
    auto b = s.get<std::vector<double>>("betas", {});
    VOLT_CHECK(b.size() == 2, s.where("betas"),
               ": optimizer.betas must be two numbers, e.g. [0.9, 0.99]");
    o.beta1 = b[0], o.beta2 = b[1];
  }
  s.mark("betas");
  o.weight_decay = s.get<double>("weight_decay", 0.1);
  o.eps = s.get<double>("eps", o.eps);
  o.decay_embeddings = s.get<bool>("decay_embeddings", o.decay_embeddings);
  return o;
}

ModelCheckpointOptions checkpoint_from(ConfigSection& s) {
  ModelCheckpointOptions o;
  // Lightning's default monitor=None: no metric, the newest k checkpoints are kept.
  o.monitor = s.get<std::string>("monitor", "none");
  if (o.monitor == "none" || o.monitor == "None") o.monitor.clear();
  o.mode = s.get<std::string>("mode", o.mode);
  o.save_top_k = s.get<int64_t>("save_top_k", o.save_top_k);
  o.save_last = s.get<bool>("save_last", o.save_last);
  o.every_n_train_steps = s.get<int64_t>("every_n_train_steps", o.every_n_train_steps);
  o.dirpath = s.get<std::string>("dirpath", o.dirpath);
  return o;
}

// trainer.early_stopping: Lightning's EarlyStopping (absent or `enabled: false`: none).
std::optional<EarlyStoppingOptions> early_stopping_from(ConfigSection& s) {
  if (s.keys().empty() || !s.get<bool>("enabled", true)) return std::nullopt;
  EarlyStoppingOptions o;
  o.monitor = s.get<std::string>("monitor", o.monitor);
  o.mode = s.get<std::string>("mode", o.mode);
  o.patience = s.get<int64_t>("patience", o.patience);
  o.min_delta = s.get<double>("min_delta", o.min_delta);
  o.check_finite = s.get<bool>("check_finite", o.check_finite);
  o.strict = s.get<bool>("strict", o.strict);
  return o;
}

// model.peft: LoRA / QLoRA (PEFT's LoraConfig; `alpha` or PEFT's `lora_alpha`, `dropout` or
// `lora_dropout`). Returns the type ("" when there is no peft section).
std::string peft_from(ConfigSection& s, peft::LoraConfig& lora) {
  if (s.keys().empty()) return "";
  const auto type = s.get<std::string>("type", "lora");
  VOLT_CHECK(type == "lora" || type == "qlora", s.where("type"), ": model.peft.type '", type,
             "' is not one of lora, qlora (LoRA on 4-bit NF4 base weights)");
  lora.r = s.get<int64_t>("r", lora.r);
  lora.alpha = s.has("lora_alpha") ? s.get<double>("lora_alpha", lora.alpha)
                                   : s.get<double>("alpha", lora.alpha);
  s.mark("lora_alpha");
  lora.dropout = s.has("lora_dropout") ? s.get<double>("lora_dropout", lora.dropout)
                                       : s.get<double>("dropout", lora.dropout);
  s.mark("lora_dropout");
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

RecipeSpec read_recipe(Config& config) {
  ConfigSection root(config);
  RecipeSpec r;
  r.run_name = root.get<std::string>(
      "name", fs::path(config.source().substr(0, config.source().find(','))).stem().string());

  auto trainer_s = root.child("trainer");
  r.trainer = trainer_options_from(trainer_s);
  // Data parallel: ddp or fsdp by name, or ddp when a launcher describes several processes.
  // data.batch_size is per process (as in Lightning).
  const auto denv = dist::env_from();
  const std::string& st = r.trainer.strategy();
  r.strategy = st == "ddp" || (st == "auto" && denv.distributed()) ? "ddp"
               : st == "fsdp"                                      ? "fsdp"
                                                                   : "single";
  r.world_size = r.strategy == "single" ? 1 : denv.world_size;
  auto fsdp_s = trainer_s.child("fsdp");
  r.fsdp.sharding = dist::parse_sharding(fsdp_s.get<std::string>("sharding", "full_shard"));
  r.fsdp.cpu_offload = fsdp_s.get<bool>("cpu_offload", r.fsdp.cpu_offload);
  fsdp_s.finish();
  auto ckpt_s = trainer_s.child("checkpoint");
  r.checkpoint = checkpoint_from(ckpt_s);
  ckpt_s.finish();
  auto stop_s = trainer_s.child("early_stopping");
  r.early_stopping = early_stopping_from(stop_s);
  stop_s.finish();
  trainer_s.finish();

  auto model_s = root.child("model");
  // Fine-tuning: the architecture, the weights and the tokenizer come from a Hugging Face
  // directory (a volt checkpoint is one too); only dropout may be changed.
  r.pretrained = model_s.get<std::string>("from_pretrained", "");
  // Not part of the architecture: how the blocks keep their activations for backward.
  r.activation_checkpointing = model_s.get<bool>("activation_checkpointing", false);
  if (!r.pretrained.empty()) {
    VOLT_CHECK(fs::is_directory(r.pretrained), model_s.where("from_pretrained"),
               ": model.from_pretrained ", r.pretrained, ": no such directory");
    r.model = load_model_config(r.pretrained);
    r.model.dropout = model_s.get<double>("dropout", r.model.dropout);
    for (const auto& k : model_s.keys()) {
      VOLT_CHECK(k == "from_pretrained" || k == "dropout" || k == "activation_checkpointing" ||
                     k == "peft",
                 model_s.where(k), ": model.", k,
                 " cannot be set with model.from_pretrained (the architecture "
                 "comes from ",
                 r.pretrained, "/config.json)");
    }
  } else {
    r.model = model_config_from(model_s);
  }
  auto peft_s = model_s.child("peft");
  r.peft_type = peft_from(peft_s, r.lora);
  peft_s.finish();
  VOLT_CHECK(
      r.peft_type.empty() || !r.pretrained.empty(), "[config] model.peft (", r.peft_type,
      ") adapts a pretrained model: set model.from_pretrained (`volt init` makes a random one)");
  r.lora.base_model_name_or_path = r.pretrained;
  model_s.finish();

  auto data_s = root.child("data");
  r.data_module = data_s.get<std::string>("module", "text");
  VOLT_CHECK(r.data_module == "text" || r.data_module == "llm" || r.data_module == "sft",
             data_s.where("module"), ": data.module '", r.data_module,
             "' is not one of text (one file, random windows, as nanoGPT), llm (LLMDataModule) "
             "or sft (conversations, loss on the assistant's replies)");
  int64_t block_size = 0;
  if (r.data_module == "text") {
    TextDataOptions defaults;
    defaults.block_size = r.model.block_size;  // the window defaults to the model's context
    defaults.seed = r.trainer.seed();
    r.text = text_data_options_from(data_s, defaults);
    block_size = r.text.block_size;
  } else if (r.data_module == "sft") {
    SFTDataOptions defaults;
    defaults.block_size = r.model.block_size;
    defaults.seed = r.trainer.seed();
    r.sft = sft_data_options_from(data_s, defaults);
    block_size = r.sft.block_size;
  } else {
    LLMDataOptions defaults;
    defaults.block_size = r.model.block_size;
    defaults.seed = r.trainer.seed();
    r.llm = llm_data_options_from(data_s, defaults);
    block_size = r.llm.block_size;
  }
  data_s.finish();
  // A block longer than the context is a config error, found before any data is read.
  VOLT_CHECK(block_size <= r.model.block_size, "[config] data.block_size ", block_size,
             " exceeds the model's context (model.block_size ", r.model.block_size, ")");

  auto opt_s = root.child("optimizer");
  r.adamw = adamw_from(opt_s);
  opt_s.finish();
  auto sched_s = root.child("scheduler");
  // max_steps 0 trains nothing: the schedule's length is then moot.
  const int64_t steps = r.trainer.max_steps() == 0 ? int64_t{1} << 30 : r.trainer.max_steps();
  r.scheduler = scheduler_from(sched_s, r.adamw.lr, steps);
  sched_s.finish();
  root.finish();
  return r;
}

Recipe build_recipe(Config& config, const std::string& tokenizer_dir) {
  RecipeSpec spec = read_recipe(config);
  Recipe r;
  r.run_name = spec.run_name;
  r.trainer = spec.trainer;
  if (spec.strategy == "ddp") r.trainer.strategy_plugin(std::make_shared<dist::DDPStrategy>());
  ModelConfig& mc = spec.model;
  // The tokenizer: a resumed checkpoint's, else the pretrained directory's, else data.tokenizer.
  const std::string tok_dir = !tokenizer_dir.empty() ? tokenizer_dir : spec.pretrained;
  // The loaders draw world x batch_size rows and each rank keeps its slice.
  if (spec.data_module == "text") {
    spec.text.batch_size *= spec.world_size;
    auto text = std::make_shared<TextDataModule>(spec.text);
    if (!tok_dir.empty()) text->set_tokenizer(load_tokenizer(tok_dir));
    text->prepare_data();
    text->setup("fit");
    r.tokenizer = text->tokenizer();
    r.data = text;
  } else if (spec.data_module == "sft") {
    spec.sft.batch_size *= spec.world_size;
    auto sft = std::make_shared<SFTDataModule>(spec.sft);
    if (!tok_dir.empty()) sft->set_tokenizer_dir(tok_dir);
    sft->set_progress(r.trainer.enable_progress_bar());
    sft->setup("fit");
    r.tokenizer = sft->tokenizer();
    r.data = sft;
  } else {
    spec.llm.batch_size *= spec.world_size;
    auto llm = std::make_shared<LLMDataModule>(spec.llm);
    if (!tok_dir.empty())
      llm->set_tokenizer(load_tokenizer(tok_dir), data::fingerprint_path(tok_dir));
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
  if (spec.pretrained.empty()) {
    config.resolved()["model"]["vocab_size"] = mc.vocab_size;
    set_special_ids(mc, *r.tokenizer);  // config.json's bos / eos are this tokenizer's, not GPT-2's
  }

  if (r.trainer.enable_checkpointing())
    r.callbacks.push_back(std::make_shared<ModelCheckpoint>(spec.checkpoint));
  if (spec.early_stopping)
    r.callbacks.push_back(std::make_shared<EarlyStopping>(*spec.early_stopping));
  r.callbacks.push_back(std::make_shared<LearningRateMonitor>());

  // Seed before the weights are drawn (Lightning's seed_everything), so a config is one run.
  seed_everything(static_cast<uint64_t>(r.trainer.seed()));
  {
    // QLoRA: the blocks' Linear weights are left unallocated and quantized as they load.
    nn::DeferLinearWeights defer(spec.peft_type == "qlora");
    r.module = std::make_shared<LMModule>(mc, spec.adamw, spec.scheduler, r.tokenizer);
  }
  const bool fsdp = spec.strategy == "fsdp";
  dist::FsdpOptions fo = spec.fsdp;
  if (fsdp && !spec.pretrained.empty()) {
    // fsdp: each rank reads only its slices of the pretrained weights, from the mapped files.
    VOLT_CHECK(spec.peft_type.empty(), "[config] trainer.strategy fsdp with model.peft (",
               spec.peft_type,
               "): fsdp shards trainable parameters only in this version; use ddp or one process "
               "for LoRA / QLoRA");
    auto reader = std::make_shared<PretrainedSliceReader>(spec.pretrained, mc);
    fo.init_slices = [reader](const std::string& name, c10::IntArrayRef shape, int64_t begin,
                              int64_t count) {
      VOLT_CHECK(name.rfind("lm.", 0) == 0, "[fsdp] parameter '", name,
                 "' is not the language model's");
      return reader->read(name.substr(3), shape, begin, count, torch::kFloat32);
    };
  } else if (!spec.pretrained.empty()) {
    r.module->load_base_weights(spec.pretrained, spec.peft_type == "qlora");
  }
  if (fsdp) r.trainer.strategy_plugin(std::make_shared<dist::FSDPStrategy>(fo));
  if (!spec.peft_type.empty()) r.module->enable_lora(spec.lora);
  r.module->lm->set_activation_checkpointing(spec.activation_checkpointing);
  return r;
}

std::shared_ptr<LLMDataModule> build_llm_data(Config& config) {
  ConfigSection root(config);
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
  VOLT_CHECK(module == "llm", "[config] ", config.source(),
             ": `volt data` works on data.module: "
             "llm (this config's data.module is '",
             module, "')");
  auto dm = std::make_shared<LLMDataModule>(llm_data_options_from(data_s, defaults));
  data_s.finish();
  return dm;
}

std::string data_module_name(Config& config) {
  ConfigSection root(config);
  auto data_s = root.child("data");
  return data_s.get<std::string>("module", "text");
}

std::shared_ptr<SFTDataModule> build_sft_data(Config& config) {
  ConfigSection root(config);
  SFTDataOptions defaults;
  auto model_s = root.child("model");
  const std::string pretrained = model_s.get<std::string>("from_pretrained", "");
  if (!pretrained.empty()) {
    defaults.block_size = load_model_config(pretrained).block_size;
  } else if (model_s.has("preset")) {
    defaults.block_size = ModelConfig::preset(model_s.get<std::string>("preset", "")).block_size;
  }
  defaults.block_size = model_s.get<int64_t>("block_size", defaults.block_size);
  auto trainer_s = root.child("trainer");
  defaults.seed = trainer_s.get<int64_t>("seed", defaults.seed);
  auto data_s = root.child("data");
  data_s.mark("module");
  auto dm = std::make_shared<SFTDataModule>(sft_data_options_from(data_s, defaults));
  data_s.finish();
  if (!pretrained.empty()) dm->set_tokenizer_dir(pretrained);
  return dm;
}

}  // namespace volt::cli

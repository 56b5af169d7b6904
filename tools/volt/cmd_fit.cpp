// volt fit --config FILE [--section.key=value ...] [--ckpt_path DIR|last]
#include <filesystem>
#include <fstream>
#include <tuple>
#include <utility>

#include "commands.h"
#include "recipe.h"
#include "usage.h"
#include "volt/dist/launch.h"
#include "volt/dist/process_group.h"
#include "volt/train/memory_estimate.h"

namespace volt::cli {

namespace fs = std::filesystem;

namespace {

// This process's own command line (/proc/self/cmdline), to start copies of it.
std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  VOLT_CHECK(!args.empty(), "[fit] cannot read /proc/self/cmdline to start the workers");
  args[0] = fs::read_symlink("/proc/self/exe").string();
  return args;
}

// What the recipe trains, as volt memory sees it (for the out-of-memory message).
MemoryPlan memory_plan_of(const Recipe& r) {
  MemoryPlan p;
  p.model = r.module->lm->config();
  p.precision = r.trainer.precision() == "32" ? "32-true" : r.trainer.precision();
  p.master_weights = r.trainer.master_weights();
  const Batch b = r.data->train_dataloader()->get(0, 0);
  p.micro_batch = b.batch_size();
  p.seq_len = b.input_ids.size(1);
  p.activation_checkpointing = r.module->lm->activation_checkpointing();
  return p;
}

// The run directory and the checkpoint to resume: a fresh directory (name, name-v1, ...) under
// trainer.default_root_dir; with --ckpt_path last the newest run of that name; with a checkpoint
// <root>/<run>/checkpoints/<tag>, that run (it continues its metrics.csv); any other checkpoint
// starts a fresh run from its state. Only rank 0 decides (it creates the directory).
std::pair<std::string, std::string> run_dir_and_checkpoint(const std::string& root,
                                                           const std::string& name,
                                                           const std::string& ckpt_path) {
  if (ckpt_path.empty()) return {fresh_run_dir(root, name), ""};
  if (ckpt_path == "last") {
    const std::string last = newest_last_checkpoint(root, name);
    return {fs::path(last).parent_path().parent_path().string(), last};
  }
  VOLT_CHECK(fs::is_directory(ckpt_path), "[fit] --ckpt_path ", ckpt_path, ": no such directory");
  const fs::path ckpt = fs::weakly_canonical(ckpt_path);
  const fs::path run = ckpt.parent_path().parent_path();
  const bool own_run = ckpt.parent_path().filename() == "checkpoints" &&
                       fs::weakly_canonical(root) == run.parent_path();
  return {own_run ? run.string() : fresh_run_dir(root, name), ckpt.string()};
}

}  // namespace

Action add_fit(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    std::string ckpt_path;
  };
  auto args = std::make_shared<Args>();
  add_config_options(app, args->config,
                     "YAML recipe (sections trainer, model, data, optimizer, scheduler)");
  app.add_option(
      "--ckpt_path,--ckpt-path", args->ckpt_path,
      "resume from a checkpoint directory, or 'last' (the newest run of this recipe's name)");
  app.footer(
      "Any config key can be overridden: --trainer.max_steps=100 --optimizer.lr=3e-4 "
      "--model.n_layer=2 --name=my-run.\nThe run directory (default runs/<config name>, then -v1, "
      "-v2, ...) gets "
      "config.yaml (the resolved config), metrics.csv, checkpoints/ and report.md with loss.svg.\n"
      "trainer.checkpoint: monitor (default none: keep the newest), mode, save_top_k, "
      "every_n_train_steps; "
      "trainer.early_stopping: monitor, patience, min_delta, mode.\n"
      "Data parallel: --trainer.strategy=ddp|fsdp --trainer.devices=N starts N processes "
      "(data.batch_size is per "
      "process); under volt launch, torchrun or srun each process joins the group by itself. fsdp "
      "shards weights, "
      "gradients and optimizer state over the processes: "
      "--trainer.fsdp.sharding=full_shard|shard_grad_op|no_shard, "
      "--trainer.fsdp.cpu_offload=true; its checkpoints are sharded (volt convert consolidates "
      "them).\n"
      "Fine-tune with LoRA / QLoRA: a model.peft section with model.from_pretrained "
      "(configs/local-lora-llama.yaml).");
  return [&app, args]() {
    Config config = load_config(app, args->config);
    if (print_config_if_asked(config, args->config)) return 0;
    // --trainer.strategy=ddp --trainer.devices=N: start the N processes here (as Lightning does),
    // each of them this same command under torchrun's variables.
    {
      const YAML::Node t = std::as_const(config).root()["trainer"];  // const: reading adds no keys
      const int64_t devices = t && t["devices"] ? t["devices"].as<int64_t>() : 1;
      const std::string strategy = t && t["strategy"] ? t["strategy"].as<std::string>() : "auto";
      if (devices > 1 && !dist::env_from().distributed()) {
        VOLT_CHECK(strategy == "ddp" || strategy == "fsdp" || strategy == "auto",
                   "[fit] trainer.devices ", devices, " needs trainer.strategy ddp or fsdp, not '",
                   strategy, "'");
        dist::LaunchOptions lo;
        lo.nproc_per_node = devices;
        lo.master_port = dist::free_port();
        return dist::launch(lo, own_command_line());
      }
    }
    const std::string resume = args->ckpt_path;
    // A checkpoint's own tokenizer wins over the data section's (a resumed run keeps its ids).
    std::string resume_dir = resume;
    if (resume == "last") {
      const RecipeSpec spec = read_recipe(config);
      resume_dir = newest_last_checkpoint(spec.trainer.default_root_dir(), spec.run_name);
    }
    Recipe r = build_recipe(config, resume_dir);
    // Every rank writes into (and resumes from) rank 0's choice.
    const auto group = r.trainer.strategy_plugin() ? dist::default_group() : nullptr;
    const bool rank0 = !group || group->rank() == 0;
    std::string run_dir, ckpt;
    if (rank0)
      std::tie(run_dir, ckpt) =
          run_dir_and_checkpoint(r.trainer.default_root_dir(), r.run_name, resume);
    if (group) run_dir = group->broadcast_string(run_dir), ckpt = group->broadcast_string(ckpt);
    r.trainer.default_root_dir(run_dir);
    Trainer trainer(r.trainer, r.callbacks);
    trainer.set_config_yaml(config.resolved_dump());
    if (rank0) {
      std::printf("volt fit: run directory %s (%lld parameters)%s\n", run_dir.c_str(),
                  static_cast<long long>(count_parameters(r.module->lm->config())),
                  group ? str(", ", r.trainer.strategy_plugin()->name(), " over ", group->size(),
                              " processes")
                              .c_str()
                        : "");
      if (!ckpt.empty()) std::printf("volt fit: resuming from %s\n", ckpt.c_str());
      std::fflush(stdout);
    }
    try {
      trainer.fit(*r.module, *r.data, ckpt);
    } catch (const c10::Error& e) {
      if (!is_out_of_memory(e.what())) throw;
      throw Error(out_of_memory_advice(memory_plan_of(r), r.trainer.accumulate_grad_batches(),
                                       e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      throw Error(out_of_memory_advice(memory_plan_of(r), r.trainer.accumulate_grad_batches(),
                                       "std::bad_alloc"));
    }
    if (!rank0) return 0;
    const auto& m = trainer.callback_metrics();
    std::printf("done: %lld steps in %.1f s", static_cast<long long>(trainer.global_step()),
                trainer.elapsed_seconds());
    if (auto it = m.find("val_loss"); it != m.end()) std::printf(", val_loss %.4f", it->second);
    std::printf("\nrun directory: %s\n", run_dir.c_str());
    for (const auto& c : trainer.callbacks()) {
      if (auto* mc = dynamic_cast<ModelCheckpoint*>(c.get());
          mc && !mc->best_model_path().empty()) {
        std::printf("best checkpoint: %s\n", mc->best_model_path().c_str());
      }
    }
    return 0;
  };
}

}  // namespace volt::cli

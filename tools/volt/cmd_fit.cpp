// volt fit --config FILE [--section.key=value ...] [--ckpt_path DIR|last]
#include <filesystem>
#include <fstream>
#include <utility>

#include "commands.h"
#include "overrides.h"
#include "recipe.h"
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

}  // namespace

Action add_fit(CLI::App& app) {
  struct Args {
    std::string config, ckpt_path;
  };
  auto args = std::make_shared<Args>();
  app.add_option("-c,--config", args->config, "YAML recipe (sections trainer, model, data, optimizer, scheduler)")
      ->required();
  app.add_option("--ckpt_path,--ckpt-path", args->ckpt_path,
                 "resume from a checkpoint directory (or 'last' of this run's directory)");
  app.allow_extras();
  app.footer(
      "Any config key can be overridden: --trainer.max_steps=100 --optimizer.lr=3e-4 "
      "--model.n_layer=2.\nThe run directory (default runs/<config name>) gets config.yaml, "
      "metrics.csv, checkpoints/ and report.md with loss.svg.\n"
      "Data parallel: --trainer.strategy=ddp|fsdp --trainer.devices=N starts N processes (data.batch_size is per "
      "process); under volt launch, torchrun or srun each process joins the group by itself. fsdp shards weights, "
      "gradients and optimizer state over the processes: --trainer.fsdp.sharding=full_shard|shard_grad_op|no_shard, "
      "--trainer.fsdp.cpu_offload=true; its checkpoints are sharded (volt convert consolidates them).\n"
      "Fine-tune with LoRA / QLoRA: a model.peft section with model.from_pretrained (configs/local-lora-llama.yaml).");
  return [&app, args]() {
    Config config = load_config(args->config, collect_overrides(app.remaining()));
    // --trainer.strategy=ddp --trainer.devices=N: start the N processes here (as Lightning does),
    // each of them this same command under torchrun's variables.
    {
      const YAML::Node t = std::as_const(config).root()["trainer"];  // const: reading adds no keys
      const int64_t devices = t && t["devices"] ? t["devices"].as<int64_t>() : 1;
      const std::string strategy = t && t["strategy"] ? t["strategy"].as<std::string>() : "auto";
      if (devices > 1 && !dist::env_from().distributed()) {
        VOLT_CHECK(strategy == "ddp" || strategy == "fsdp" || strategy == "auto", "[fit] trainer.devices ", devices,
                   " needs trainer.strategy ddp or fsdp, not '", strategy, "'");
        dist::LaunchOptions lo;
        lo.nproc_per_node = devices;
        lo.master_port = dist::free_port();
        return dist::launch(lo, own_command_line());
      }
    }
    std::string resume = args->ckpt_path;
    std::string run_dir;
    if (!resume.empty() && resume != "last") {
      // Resuming continues the checkpoint's own run: checkpoints/<tag>/ lives in <run>/.
      VOLT_CHECK(fs::is_directory(resume), "[fit] --ckpt_path ", resume, ": no such directory");
      run_dir = fs::absolute(resume).parent_path().parent_path().lexically_normal().string();
    }
    Recipe r = build_recipe(config, resume.empty() || resume == "last" ? "" : resume);
    if (run_dir.empty()) {
      const std::string root = r.trainer.default_root_dir();
      run_dir = resume == "last" ? (fs::path(root) / r.run_name).string() : fresh_run_dir(root, r.run_name);
    }
    // Every rank writes into (and resumes from) rank 0's choice.
    const auto group = r.trainer.strategy_plugin() ? dist::default_group() : nullptr;
    if (group) run_dir = group->broadcast_string(run_dir);
    const bool rank0 = !group || group->rank() == 0;
    r.trainer.default_root_dir(run_dir);
    Trainer trainer(r.trainer, r.callbacks);
    trainer.set_config_yaml(config.dump());
    if (rank0) {
      std::printf("volt fit: run directory %s (%lld parameters)%s\n", run_dir.c_str(),
                  static_cast<long long>(count_parameters(r.module->lm->config())),
                  group ? str(", ", r.trainer.strategy_plugin()->name(), " over ", group->size(), " processes").c_str() : "");
      std::fflush(stdout);
    }
    try {
      trainer.fit(*r.module, *r.data, resume);
    } catch (const c10::Error& e) {
      if (!is_out_of_memory(e.what())) throw;
      throw Error(out_of_memory_advice(memory_plan_of(r), r.trainer.accumulate_grad_batches(),
                                       e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      throw Error(out_of_memory_advice(memory_plan_of(r), r.trainer.accumulate_grad_batches(), "std::bad_alloc"));
    }
    if (!rank0) return 0;
    const auto& m = trainer.callback_metrics();
    std::printf("done: %lld steps in %.1f s", static_cast<long long>(trainer.global_step()),
                trainer.elapsed_seconds());
    if (auto it = m.find("val_loss"); it != m.end()) std::printf(", val_loss %.4f", it->second);
    std::printf("\nrun directory: %s\n", run_dir.c_str());
    for (const auto& c : trainer.callbacks()) {
      if (auto* mc = dynamic_cast<ModelCheckpoint*>(c.get()); mc && !mc->best_model_path().empty()) {
        std::printf("best checkpoint: %s\n", mc->best_model_path().c_str());
      }
    }
    return 0;
  };
}

}  // namespace volt::cli

// FSDP (dist/fsdp.h): ranks as threads, to look inside the shards (each rank holds 1/N, the
// reduce-scattered gradients are one process's gradient of the global batch, the shards
// consolidate bit for bit), and ranks as processes through `volt fit`, against one process with
// the same global batch: 2 and 3 ranks (uneven padding), every sharding mode, accumulation,
// sharded checkpoints with exact resume, and consolidation by `volt convert`.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "cli_helpers.h"
#include "dist_helpers.h"
#include "test_helpers.h"
#include "test_util.h"
#include "volt/core/seed.h"
#include "volt/data/text_datamodule.h"
#include "volt/dist/fsdp.h"
#include "volt/dist/rank_slice.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/models/pretrained.h"
#include "volt/train/lm_module.h"
#include "volt/train/trainer.h"

namespace volt {
namespace {

using test::column;
using test::on_ranks;
using test::ScopedTempDir;
using namespace test::cli;

// Two blocks whose flat sizes (and the root's) do not divide by 2 or 3: every rank's shard has
// padding somewhere.
ModelConfig tiny_config() {
  ModelConfig mc = ModelConfig::preset("babygpt-tiny");
  mc.n_layer = 2, mc.n_embd = 24, mc.n_head = 2, mc.block_size = 16, mc.vocab_size = 67, mc.dropout = 0;
  return mc;
}

std::unique_ptr<LMModule> make_module() {
  seed_everything(11);
  return std::make_unique<LMModule>(tiny_config(), AdamWOptions{}, nullptr, nullptr);
}

// A global batch of 6 rows of 16 tokens (some labels ignored, so rows weigh differently).
Batch global_batch() {
  torch::manual_seed(5);
  Batch b;
  b.input_ids = torch::randint(67, {6, 16}, torch::kLong);
  b.labels = torch::randint(67, {6, 16}, torch::kLong);
  b.labels.index_put_({torch::indexing::Slice(0, 2), torch::indexing::Slice(10, 16)}, -100);
  return b;
}

// For N = 1, 2, 3 ranks: what each rank holds is its 1/N; one forward/backward of each rank's
// rows (its loss weighted by its share of the global batch's target tokens) leaves in the shards
// exactly the slices of one process's gradient over the whole batch; the shards written and
// consolidated equal the unsharded weights bit for bit.
TEST(Fsdp, ShardsHoldOneNthAndReduceToTheGlobalGradientAndConsolidateBitForBit) {
  const Batch batch = global_batch();
  auto ref = make_module();
  std::map<std::string, torch::Tensor> weights, grads;
  {
    auto loss = causal_lm_loss(ref->lm(batch.input_ids), batch.labels);
    loss.backward();
    for (const auto& [name, p] : unique_named_parameters(*ref)) {
      weights[name] = p.detach().clone();
      grads[name] = p.grad().clone();
    }
  }
  int64_t total_bytes = 0;
  for (const auto& [name, w] : weights) total_bytes += static_cast<int64_t>(w.nbytes());
  const double total_targets = batch.num_target_tokens();

  for (int64_t world : {1, 2, 3}) {
    SCOPED_TRACE("world " + std::to_string(world));
    ScopedTempDir dir;
    std::vector<std::unique_ptr<LMModule>> modules;
    for (int64_t r = 0; r < world; ++r) modules.push_back(make_module());
    std::vector<std::map<std::string, torch::Tensor>> shard_grads(static_cast<size_t>(world));
    std::vector<dist::FsdpHeldBytes> held(static_cast<size_t>(world));
    on_ranks(world, [&](dist::ProcessGroup& g) {
      const auto r = static_cast<size_t>(g.rank());
      std::shared_ptr<dist::ProcessGroup> alias(&g, [](dist::ProcessGroup*) {});
      dist::FSDPStrategy fsdp({}, alias);
      LMModule& m = *modules[r];
      fsdp.setup(m);
      EXPECT_EQ(fsdp.num_units(), 3u);  // two blocks and the root
      const auto groups = fsdp.optimizer_groups(weight_decay_groups(m, 0.1));
      const Batch mine = dist::slice_for_rank(batch, g.rank(), g.size());
      fsdp.begin_step();
      fsdp.before_backward(true);
      const auto loss = causal_lm_loss(m.lm(mine.input_ids), mine.labels);
      (loss * (mine.num_target_tokens() / total_targets)).backward();
      fsdp.finish_gradients();
      held[r] = fsdp.held_bytes();
      for (const auto& grp : groups) {
        for (size_t i = 0; i < grp.params.size(); ++i) shard_grads[r][grp.names[i]] = grp.params[i].grad().clone();
      }
      // A sharded checkpoint's model part, as the Trainer writes it.
      io::save_safetensors(dir / shard_file_name(g.rank(), g.size()), fsdp.shard_state());
      if (g.rank() == 0) io::write_json(dir / "fsdp_index.json", fsdp.shard_index());
    });
    // Each rank holds its 1/N of the weights (the shards together are the model, nothing twice),
    // and no gathered weights once the step is done.
    int64_t sum = 0, most = 0;
    for (const auto& h : held) {
      sum += h.parameters, most = std::max(most, h.parameters);
      EXPECT_EQ(h.gathered, 0);
      EXPECT_EQ(h.gradients, h.parameters);
      EXPECT_GT(h.peak_gathered, 0);
    }
    EXPECT_EQ(sum, total_bytes);
    EXPECT_LE(most, total_bytes / world + 3 * 4 * world);  // 1/N, give or take each unit's padding
    // The ranks' slices of each gradient, in rank order, are one process's gradient of the batch.
    for (const auto& [name, full] : grads) {
      std::vector<torch::Tensor> parts;
      for (const auto& sg : shard_grads) {
        if (auto it = sg.find(name); it != sg.end()) parts.push_back(it->second);
      }
      ASSERT_FALSE(parts.empty()) << name;
      const auto joined = torch::cat(parts);
      ASSERT_EQ(joined.numel(), full.numel()) << name;
      EXPECT_TRUE(torch::allclose(joined, full.reshape({-1}), 1e-5, 1e-6)) << name << ": max diff "
          << (joined - full.reshape({-1})).abs().max().item<double>();
    }
    // Consolidation: bit for bit the weights the ranks started from.
    const auto back = dist::consolidate_sharded_checkpoint(dir.path());
    ASSERT_EQ(back.size(), weights.size());
    for (const auto& [name, t] : back) {
      ASSERT_TRUE(weights.count(name)) << name;
      EXPECT_TRUE(torch::equal(t, weights.at(name))) << name;
    }
  }
}

// Loading a pretrained model into FSDP: each rank reads only its slices from the memory-mapped
// files (GPT-2's transposed Conv1D weights included), and the shards are the file's weights bit
// for bit.
TEST(Fsdp, APretrainedModelLoadsOnlyEachRanksSliceFromTheMappedFiles) {
  ModelConfig llama = ModelConfig::preset("llama-tiny");
  llama.n_embd = 48, llama.n_inner = 100, llama.block_size = 16;
  for (const ModelConfig& mc : {tiny_config(), llama}) {
    SCOPED_TRACE(mc.model_type);
    ScopedTempDir dir;
    seed_everything(3);
    CausalLM source(mc);
    save_pretrained(*source, dir / "hf");
    int64_t total = 0;
    for (const auto& p : source->parameters()) total += static_cast<int64_t>(p.nbytes());
    const int64_t world = 3;
    std::vector<std::unique_ptr<LMModule>> modules;
    for (int64_t r = 0; r < world; ++r) {
      seed_everything(100 + static_cast<uint64_t>(r));  // random weights the files must replace
      modules.push_back(std::make_unique<LMModule>(mc, AdamWOptions{}, nullptr, nullptr));
    }
    std::vector<int64_t> copied(world);
    on_ranks(world, [&](dist::ProcessGroup& g) {
      std::shared_ptr<dist::ProcessGroup> alias(&g, [](dist::ProcessGroup*) {});
      auto reader = std::make_shared<PretrainedSliceReader>(dir / "hf", mc);
      dist::FsdpOptions o;
      o.init_slices = [reader](const std::string& name, c10::IntArrayRef shape, int64_t begin, int64_t count) {
        return reader->read(name.substr(3), shape, begin, count, torch::kFloat32);
      };
      dist::FSDPStrategy fsdp(o, alias);
      fsdp.setup(*modules[static_cast<size_t>(g.rank())]);
      copied[static_cast<size_t>(g.rank())] = reader->bytes_copied();
      io::save_safetensors(dir / shard_file_name(g.rank(), g.size()), fsdp.shard_state());
      if (g.rank() == 0) io::write_json(dir / "fsdp_index.json", fsdp.shard_index());
    });
    int64_t sum = 0;
    for (int64_t c : copied) {
      EXPECT_LE(c, total / world + total / 20) << "a rank copied more than its third";
      sum += c;
    }
    EXPECT_GE(sum, total);
    const auto back = dist::consolidate_sharded_checkpoint(dir.path());
    auto params = source->named_parameters();
    ASSERT_EQ(back.size(), params.size());
    for (const auto& [name, t] : back) {
      const auto* p = params.find(name.substr(3));
      ASSERT_NE(p, nullptr) << name;
      EXPECT_TRUE(torch::equal(*p, t)) << name;
    }
  }
}

// After fit the module is whole again (teardown gathers the trained weights back), usable without
// the strategy: at world size 1 its logits equal those of the same run without FSDP, bit for bit.
TEST(Fsdp, AfterFitTheModuleIsWholeAndUsableOnItsOwn) {
  TextDataOptions o;
  o.path = volt_test_data("corpora/tinyshakespeare/input.txt");
  o.block_size = 16, o.batch_size = 4, o.val_batches = 2, o.train_batches_per_epoch = 6;
  auto data = std::make_shared<TextDataModule>(o);
  data->prepare_data();
  data->setup("fit");
  ModelConfig mc = tiny_config();
  mc.vocab_size = data->tokenizer()->vocab_size();
  ScopedTempDir dir;
  auto fit = [&](std::shared_ptr<Strategy> strategy) {
    seed_everything(21);
    auto m = std::make_unique<LMModule>(mc, AdamWOptions{}, nullptr, data->tokenizer());
    auto opts = test::quiet_options(dir.path());
    opts.max_steps(5).val_check_interval(0).limit_val_batches(0.0).strategy_plugin(strategy);
    Trainer(opts).fit(*m, *data);
    return m;
  };
  auto plain = fit(nullptr);
  std::unique_ptr<LMModule> sharded;
  {
    auto fsdp = std::make_shared<dist::FSDPStrategy>();
    sharded = fit(fsdp);
    EXPECT_EQ(fsdp->held_bytes().gathered, fsdp->held_bytes().parameters);  // one rank: all of it, gathered
  }  // the strategy is gone; the module goes on
  const auto x = torch::randint(mc.vocab_size, {2, 16}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(sharded->lm(x), plain->lm(x)));
}

TEST(Fsdp, BadShardingAndTheOptimizerCheckSayWhatIsWrong) {
  EXPECT_CONTAINS(test::error_of([&] { dist::parse_sharding("zero3"); }), "not one of full_shard, shard_grad_op, no_shard");
  auto m = make_module();
  dist::FSDPStrategy fsdp;  // one process
  fsdp.setup(*m);
  // An optimizer built on the module's own parameters instead of optimizer_groups(...).
  fsdp.optimizer_groups(weight_decay_groups(*m, 0.1));
  std::vector<ParamGroup> wrong(1);
  wrong[0].name = "all";
  wrong[0].params = {torch::zeros({3}, torch::requires_grad())};
  wrong[0].names = {"x"};
  AdamW opt(wrong, AdamWOptions{});
  EXPECT_CONTAINS(test::error_of([&] { fsdp.check_optimizer(opt); }), "strategy().optimizer_groups");
  ScopedTempDir dir;
  EXPECT_CONTAINS(test::error_of([&] { dist::consolidate_sharded_checkpoint(dir.path()); }), "no fsdp_index.json");
}

const std::string kFsdpCommon = " --model.n_layer=2 --model.n_embd=32 --model.block_size=32 --trainer.seed=7"
                                " --model.dropout=0 --trainer.gradient_clip_val=1.0";

// The must-show: 2- and 3-process FSDP (and each sharding mode, and accumulation) give one
// process's per-step train loss with the same global batch, to 1e-5 over 20 steps.
TEST(Fsdp, TwoAndThreeProcessesMatchOneProcessWithTheGlobalBatch) {
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const std::string common = "fit --config " + recipe + kFsdpCommon +
                             " --trainer.max_steps=20 --trainer.val_check_interval=20 --trainer.enable_checkpointing=false";
  auto one = run_cli(dir, common + " --data.batch_size=6 --trainer.default_root_dir=" + (dir / "one"));
  ASSERT_EQ(one.code, 0) << one.err;
  auto acc = run_cli(dir, common + " --data.batch_size=3 --trainer.accumulate_grad_batches=2"
                               " --trainer.default_root_dir=" + (dir / "acc"));
  ASSERT_EQ(acc.code, 0) << acc.err;
  struct Case {
    std::string name;
    int devices;
    std::string args, reference;
  };
  const std::vector<Case> cases = {
      {"full_shard x 2", 2, "--data.batch_size=3", "one"},
      {"full_shard x 3", 3, "--data.batch_size=2", "one"},
      {"shard_grad_op x 2", 2, "--data.batch_size=3 --trainer.fsdp.sharding=shard_grad_op", "one"},
      {"no_shard x 2", 2, "--data.batch_size=3 --trainer.fsdp.sharding=no_shard", "one"},
      {"full_shard x 3, 2 micro-batches", 3, "--data.batch_size=1 --trainer.accumulate_grad_batches=2", "acc"},
      {"full_shard x 2, activation checkpointing", 2, "--data.batch_size=3 --model.activation_checkpointing=true",
       "one"},
  };
  const auto a1 = column(dir / "one/tiny-cli/metrics.csv", "train_loss");
  ASSERT_EQ(a1.size(), 20u);
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(cases[c].name);
    const std::string root = dir / ("fsdp" + std::to_string(c));
    auto run = run_cli(dir, common + " " + cases[c].args + " --trainer.strategy=fsdp --trainer.devices=" +
                                std::to_string(cases[c].devices) + " --trainer.default_root_dir=" + root);
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_CONTAINS(run.out, "fsdp over " + std::to_string(cases[c].devices) + " processes");
    test::expect_same_train_loss(dir / (cases[c].reference + "/tiny-cli/metrics.csv"), root + "/tiny-cli/metrics.csv", 20);
    const auto vr = column(dir / (cases[c].reference + "/tiny-cli/metrics.csv"), "val_loss");
    const auto vg = column(root + "/tiny-cli/metrics.csv", "val_loss");
    ASSERT_EQ(vg.size(), 1u);
    EXPECT_NEAR(vg[0], vr[0], 1e-5);
  }
  EXPECT_LT(a1.back(), a1.front());
}

// Sharded checkpoints: 8 steps straight against 4 + resume + 4 on 3 ranks (byte-identical
// metrics.csv); resuming at another world size, or under ddp, is refused with what to do; volt
// convert consolidates the shards into a plain Hugging Face model.
TEST(Fsdp, ShardedResumeEqualsAnUninterruptedRunAndConvertConsolidates) {
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const std::string args = "fit --config " + recipe + kFsdpCommon +
                           " --data.batch_size=2 --trainer.strategy=fsdp --trainer.devices=3"
                           " --trainer.max_steps=8 --trainer.val_check_interval=4"
                           " --trainer.checkpoint.every_n_train_steps=4 --trainer.checkpoint.monitor=none"
                           " --trainer.checkpoint.save_top_k=3";
  const std::string run = test::expect_resume_equals_straight(dir, args);
  const std::string step4 = run + "/checkpoints/step-000004";
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(fs::exists(step4 + "/" + shard_file_name(r, 3)));
  EXPECT_TRUE(fs::exists(step4 + "/fsdp_index.json"));
  EXPECT_FALSE(fs::exists(step4 + "/model.safetensors"));  // no rank ever holds the whole model

  auto two = run_cli(dir, args + " --trainer.devices=2 --ckpt_path " + step4);
  EXPECT_NE(two.code, 0);
  EXPECT_CONTAINS(two.err, "was written by 3 ranks; this run has 2");
  auto one = run_cli(dir, "fit --config " + recipe + kFsdpCommon + " --trainer.max_steps=8 --ckpt_path " + step4);
  EXPECT_NE(one.code, 0);
  EXPECT_CONTAINS(one.err, "is a sharded (fsdp) checkpoint of 3 ranks");

  auto conv = run_cli(dir, "convert --in " + run + "/checkpoints/step-000008 --out " + (dir / "hf"));
  ASSERT_EQ(conv.code, 0) << conv.err;
  auto model = from_pretrained(dir / "hf");
  const auto back = dist::consolidate_sharded_checkpoint(run + "/checkpoints/step-000008");
  ASSERT_EQ(back.size(), model->parameters().size());
  for (const auto& [name, t] : back) {
    auto* p = model->named_parameters().find(name.substr(3));  // "lm." + the model's name
    ASSERT_NE(p, nullptr) << name;
    EXPECT_TRUE(torch::equal(*p, t)) << name;
  }

  // Fine-tuning the consolidated model under fsdp (each rank reads only its slices of it) trains
  // as one process does.
  std::string yaml = test::read_text(recipe);
  const std::string preset = "  preset: babygpt-tiny\n";
  yaml.replace(yaml.find(preset), preset.size(), "  from_pretrained: " + (dir / "hf") + "\n");
  test::write_text(dir / "ft.yaml", yaml);
  const std::string ft = "fit --config " + (dir / "ft.yaml") + " --trainer.seed=7 --model.dropout=0"
                         " --trainer.max_steps=6 --trainer.val_check_interval=6 --trainer.enable_checkpointing=false";
  auto ft1 = run_cli(dir, ft + " --data.batch_size=6 --trainer.default_root_dir=" + (dir / "ft1"));
  ASSERT_EQ(ft1.code, 0) << ft1.err;
  auto ft3 = run_cli(dir, ft + " --data.batch_size=2 --trainer.strategy=fsdp --trainer.devices=3"
                               " --trainer.default_root_dir=" + (dir / "ft3"));
  ASSERT_EQ(ft3.code, 0) << ft3.err;
  test::expect_same_train_loss(dir / "ft1/tiny-cli/metrics.csv", dir / "ft3/tiny-cli/metrics.csv", 6);
}

// Consolidation equals the one-process model bit for bit: at world size 1 FSDP computes exactly
// what one process does (the same gradients, the same AdamW arithmetic on each element), so the
// consolidated checkpoint and the one-process checkpoint hold the same bytes.
TEST(Fsdp, WorldSizeOneConsolidatesToTheOneProcessModelBitForBit) {
  ScopedTempDir dir;
  const std::string recipe = write_recipe(dir);
  const std::string args = "fit --config " + recipe +
                           " --model.n_layer=2 --model.n_embd=32 --model.block_size=32 --trainer.seed=7"
                           " --model.dropout=0 --data.batch_size=4 --trainer.max_steps=8"
                           " --trainer.val_check_interval=8 --trainer.checkpoint.monitor=none";
  auto plain = run_cli(dir, args + " --trainer.default_root_dir=" + (dir / "plain"));
  ASSERT_EQ(plain.code, 0) << plain.err;
  auto fsdp = run_cli(dir, args + " --trainer.strategy=fsdp --trainer.default_root_dir=" + (dir / "fsdp"));
  ASSERT_EQ(fsdp.code, 0) << fsdp.err;
  auto conv = run_cli(dir, "convert --in " + (dir / "fsdp/tiny-cli/checkpoints/last") + " --out " + (dir / "hf"));
  ASSERT_EQ(conv.code, 0) << conv.err;
  // A one-process checkpoint cannot resume an fsdp run (its optimizer state is not sharded).
  auto mixed = run_cli(dir, args + " --trainer.strategy=fsdp --trainer.max_steps=9 --ckpt_path " +
                                (dir / "plain/tiny-cli/checkpoints/last"));
  EXPECT_NE(mixed.code, 0);
  EXPECT_CONTAINS(mixed.err, "is a full checkpoint; under strategy fsdp a run resumes only from its own sharded checkpoints");
  io::SafetensorsFile a(dir / "plain/tiny-cli/checkpoints/last/model.safetensors");
  io::SafetensorsFile b(dir / "hf/model.safetensors");
  ASSERT_EQ(a.names(), b.names());
  for (const auto& name : a.names()) EXPECT_TRUE(torch::equal(a.load(name), b.load(name))) << name;
}

}  // namespace
}  // namespace volt

#include "volt/dist/fsdp.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <filesystem>
#include <map>
#include <set>

#include "volt/core/check.h"
#include "volt/core/compat.h"
#include "volt/dist/ddp.h"
#include "volt/io/files.h"
#include "volt/io/safetensors.h"
#include "volt/train/lightning_module.h"

namespace volt::dist {

namespace fs = std::filesystem;

Sharding parse_sharding(const std::string& name) {
  if (name == "full_shard") return Sharding::kFullShard;
  if (name == "shard_grad_op") return Sharding::kShardGradOp;
  if (name == "no_shard") return Sharding::kNoShard;
  VOLT_FAIL("[fsdp] sharding '", name, "' is not one of full_shard, shard_grad_op, no_shard");
}

std::string sharding_name(Sharding s) {
  switch (s) {
    case Sharding::kFullShard: return "full_shard";
    case Sharding::kShardGradOp: return "shard_grad_op";
    case Sharding::kNoShard: return "no_shard";
  }
  return "?";
}

struct FSDPStrategy::Unit {
  std::string key;    // "fsdp.3": its tensor in a sharded checkpoint
  std::string label;  // "block 3" / "root"
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;  // the module's parameters: views into `full`
  std::vector<int64_t> offsets;
  int64_t total = 0, padded = 0;
  int64_t begin = 0, length = 0;      // this rank's shard: flat [begin, begin + length)
  torch::Tensor full;                 // the gathered flat weights; storage freed when released
  // The shard cut at parameter boundaries: segments[k] is flat [seg_begin[k], + numel) of
  // params[seg_param[k]]. These are what the optimizer updates.
  std::vector<torch::Tensor> segments;
  std::vector<size_t> seg_param;
  std::vector<int64_t> seg_begin;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept: autograd holds them weakly
  std::vector<char> got;              // which parameters' gradients this backward has accumulated
  size_t ready = 0;
  bool fresh = false;                 // `full` holds the current weights
};

namespace {

// Runs after AccumulateGrad has added a parameter's gradient into .grad.
struct AfterAccumulate : torch::autograd::FunctionPostHook {
  explicit AfterAccumulate(std::function<void()> f) : fn(std::move(f)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    fn();
    return outputs;
  }
  std::function<void()> fn;
};

torch::Dtype reduce_dtype(torch::Dtype d) { return d == torch::kFloat64 ? d : torch::kFloat32; }

}  // namespace

FSDPStrategy::FSDPStrategy(FsdpOptions options, std::shared_ptr<ProcessGroup> group)
    : DataParallelStrategy(std::move(group)), options_(options) {}

// The module may outlive the strategy (or die first: no call into it here); its wrapper then
// refuses to run, since its weights are shards only the strategy can put together.
FSDPStrategy::~FSDPStrategy() { *alive_ = false; }

void FSDPStrategy::setup(LightningModule& m) {
  VOLT_CHECK(units_.empty(), "[fsdp] setup() called twice");
  torch::NoGradGuard no_grad;
  module_ = &m;
  const int64_t world = world_size(), r = rank();
  std::map<const void*, std::string> name_of;
  std::vector<torch::Tensor> all;
  for (const auto& kv : m.named_parameters()) {
    const auto& p = kv.value();
    if (!name_of.emplace(p.unsafeGetTensorImpl(), kv.key()).second) continue;  // tied: once
    VOLT_CHECK(p.requires_grad(), "[fsdp] parameter '", kv.key(), "' is frozen: fsdp shards trainable "
               "parameters only in this version (LoRA / frozen layers: use ddp or one process)");
    VOLT_CHECK(!p.device().is_cuda() || world == 1, "[fsdp] the model is on ", p.device(), ": CUDA tensors "
               "need NCCL, which this build of volt does not use yet (fsdp runs on CPU with Gloo)");
    all.push_back(p);
  }
  VOLT_CHECK(!all.empty(), "[fsdp] the module has no parameters");
  // Every rank starts from rank 0's weights, unless each reads its own slices of a model's files.
  if (distributed() && !options_.init_slices) broadcast_module(*group_, m);

  // Units: each block's parameters, then whatever is left (the root).
  std::set<const void*> taken;
  auto add_unit = [&](const std::string& label, const std::vector<torch::Tensor>& ps) {
    auto u = std::make_unique<Unit>();
    u->label = label;
    u->key = "fsdp." + std::to_string(units_.size());
    for (const auto& p : ps) {
      if (!taken.insert(p.unsafeGetTensorImpl()).second) continue;
      u->params.push_back(p);
      u->names.push_back(name_of.at(p.unsafeGetTensorImpl()));
    }
    if (!u->params.empty()) units_.push_back(std::move(u));
  };
  const auto blocks = m.blocks();
  for (size_t i = 0; i < blocks.size(); ++i) add_unit("block " + std::to_string(i), blocks[i]->parameters());
  VOLT_CHECK(units_.size() == blocks.size(), "[fsdp] a block shares all its parameters with an earlier one");
  add_unit("root", all);
  root_ = units_.size() > blocks.size() ? units_.back().get() : nullptr;

  for (auto& up : units_) {
    Unit& u = *up;
    const auto opts = u.params.front().options();
    for (size_t i = 0; i < u.params.size(); ++i) {
      VOLT_CHECK(u.params[i].options().dtype() == opts.dtype() && u.params[i].device() == opts.device(), "[fsdp] ",
                 u.label, ": parameter '", u.names[i], "' is ", u.params[i].scalar_type(), " on ",
                 u.params[i].device(), ", unlike '", u.names[0], "' (", u.params[0].scalar_type(), " on ",
                 u.params[0].device(), "): a unit's parameters must share dtype and device");
      u.offsets.push_back(u.total);
      u.total += u.params[i].numel();
    }
    const int64_t n = sharded() ? world : 1;
    u.padded = (u.total + n - 1) / n * n;
    u.length = sharded() ? u.padded / n : u.total;
    u.begin = sharded() ? r * u.length : 0;
    u.full = torch::zeros({u.padded}, opts.requires_grad(false));
    resident_ += static_cast<int64_t>(u.full.storage().nbytes());
    const auto shard_device = options_.cpu_offload ? torch::Device(torch::kCPU) : opts.device();
    for (size_t i = 0; i < u.params.size(); ++i) {
      auto& p = u.params[i];
      const int64_t off = u.offsets[i], numel = p.numel();
      u.full.narrow(0, off, numel).copy_(p.detach().reshape({-1}));
      const int64_t lo = std::max(off, u.begin), hi = std::min(off + numel, u.begin + u.length);
      if (lo < hi) {
        torch::Tensor values;
        if (options_.init_slices) {
          values = options_.init_slices(u.names[i], p.sizes(), lo - off, hi - lo);
          VOLT_CHECK(values.numel() == hi - lo, "[fsdp] the weights' source gave ", values.numel(), " values of '",
                     u.names[i], "', not ", hi - lo);
          values = values.reshape({-1}).to(shard_device, opts.dtype().toScalarType(), false, /*copy=*/true);
        } else {
          values = u.full.slice(0, lo, hi).to(shard_device, /*non_blocking=*/false, /*copy=*/true);
        }
        u.segments.push_back(values.requires_grad_(true));
        u.seg_param.push_back(i);
        u.seg_begin.push_back(lo);
      }
      // The parameter becomes a view into the unit's storage; its own storage is freed.
      p.set_data(u.full.narrow(0, off, numel).view(p.sizes()));
      u.accumulators.push_back(torch::autograd::impl::grad_accumulator(p));
      Unit* up_raw = &u;
      // The hook outlives nothing it should not: it checks the strategy is still there.
      u.accumulators.back()->add_post_hook(std::make_unique<AfterAccumulate>([this, up_raw, i, alive = alive_] {
        if (*alive && active_) on_gradient_ready(*up_raw, i);
      }));
    }
    u.got.assign(u.params.size(), 0);
    u.fresh = !options_.init_slices;  // read from files: the gathered buffer is filled on first use
    release(u);
  }
  peak_resident_ = resident_;  // what a step gathers is measured from here
  m.set_block_wrapper([this, alive = alive_](size_t index, const nn::BlockFn& run, const torch::Tensor& x) {
    VOLT_CHECK(*alive, "[fsdp] the module's weights are sharded and its FSDPStrategy is gone: save a checkpoint "
               "and consolidate it (volt convert) to use the model");
    return run_block(index, run, x);
  });
}

std::vector<ParamGroup> FSDPStrategy::optimizer_groups(std::vector<ParamGroup> groups) {
  VOLT_CHECK(!units_.empty(), "[fsdp] optimizer_groups() before setup()");
  std::map<const void*, const torch::Tensor*> segment_of;
  for (const auto& u : units_) {
    for (size_t k = 0; k < u->segments.size(); ++k) {
      segment_of[u->params[u->seg_param[k]].unsafeGetTensorImpl()] = &u->segments[k];
    }
  }
  handed_out_.clear();
  for (auto& g : groups) {
    ParamGroup sharded_group = g;
    sharded_group.names.clear();
    sharded_group.params.clear();
    for (size_t i = 0; i < g.params.size(); ++i) {
      auto it = segment_of.find(g.params[i].unsafeGetTensorImpl());
      if (it == segment_of.end()) continue;  // none of this parameter lies in this rank's shard
      sharded_group.names.push_back(g.names[i]);
      sharded_group.params.push_back(*it->second);
      handed_out_.push_back(it->second->unsafeGetTensorImpl());
    }
    g = std::move(sharded_group);
  }
  return groups;
}

void FSDPStrategy::check_optimizer(const Optimizer& opt) const {
  size_t segments = 0;
  for (const auto& u : units_) segments += u->segments.size();
  std::set<const void*> held;
  for (const auto& g : opt.param_groups()) {
    for (const auto& p : g.params) held.insert(p.unsafeGetTensorImpl());
  }
  const std::set<const void*> given(handed_out_.begin(), handed_out_.end());
  VOLT_CHECK(given.size() == segments && held == given, "[fsdp] the optimizer does not update this rank's shards "
             "(it holds ", held.size(), " tensors, the rank has ", segments, " shard segments): configure_optimizers "
             "must pass its parameter groups through trainer()->strategy().optimizer_groups(...), as LMModule does");
}

void FSDPStrategy::teardown(LightningModule& m) {
  if (!active_) return;
  for (auto& u : units_) gather(*u);
  active_ = false;
  m.set_block_wrapper(nullptr);
}

torch::Tensor FSDPStrategy::local_flat(const Unit& u) const {
  auto flat = torch::zeros({u.length}, u.full.options());  // the padding stays zero
  for (size_t k = 0; k < u.segments.size(); ++k) {
    flat.narrow(0, u.seg_begin[k] - u.begin, u.segments[k].numel()).copy_(u.segments[k].detach());
  }
  return flat;
}

void FSDPStrategy::gather(Unit& u) {
  if (u.fresh) return;
  torch::NoGradGuard no_grad;
  const auto before = static_cast<int64_t>(u.full.storage().nbytes());
  compat::resize_storage_bytes(u.full, static_cast<size_t>(u.padded) * u.full.element_size());
  resident_ += static_cast<int64_t>(u.full.storage().nbytes()) - before;
  peak_resident_ = std::max(peak_resident_, resident_);
  const auto local = local_flat(u);
  if (!sharded() || !distributed()) {
    u.full.narrow(0, 0, u.length).copy_(local);
  } else {
    const auto parts = group_->all_gather(local);
    for (size_t r = 0; r < parts.size(); ++r) u.full.narrow(0, static_cast<int64_t>(r) * u.length, u.length).copy_(parts[r]);
  }
  u.fresh = true;
}

void FSDPStrategy::release(Unit& u) {
  if (!sharded()) return;  // no_shard: every rank keeps the whole unit
  resident_ -= static_cast<int64_t>(u.full.storage().nbytes());
  compat::resize_storage_bytes(u.full, 0);
  u.fresh = false;
}

torch::Tensor FSDPStrategy::run_block(size_t index, const nn::BlockFn& run, const torch::Tensor& x) {
  VOLT_CHECK(index < units_.size() && units_[index].get() != root_, "[fsdp] block ", index, " is not a unit");
  Unit& u = *units_[index];
  gather(u);
  auto y = run(x);
  if (torch::GradMode::is_enabled() && y.requires_grad()) {
    // full_shard frees the weights now and gathers them again just before this block's backward.
    if (options_.sharding == Sharding::kFullShard) release(u);
    Unit* up = &u;
    y.register_hook([this, up](const torch::Tensor&) { gather(*up); });
  } else {
    release(u);  // no backward follows (validation)
  }
  return y;
}

void FSDPStrategy::on_gradient_ready(Unit& u, size_t param) {
  VOLT_CHECK(!u.got[param], "[fsdp] ", u.names[param], " received two gradients in one backward");
  u.got[param] = 1;
  if (++u.ready == u.params.size()) reduce(u);
}

void FSDPStrategy::reduce(Unit& u) {
  torch::NoGradGuard no_grad;
  // The unit's full gradient, flat and padded, summed over ranks in fp32; each rank keeps its slice.
  auto flat = torch::zeros({u.padded}, u.full.options().dtype(reduce_dtype(u.full.scalar_type())));
  for (size_t i = 0; i < u.params.size(); ++i) {
    auto& p = u.params[i];
    if (p.grad().defined()) {
      flat.narrow(0, u.offsets[i], p.numel()).copy_(p.grad().reshape({-1}));
      p.mutable_grad().reset();
    }
  }
  torch::Tensor part = flat;
  if (distributed()) {
    if (sharded()) {
      part = group_->reduce_scatter_sum(flat);
    } else {
      group_->all_reduce_sum(flat);
    }
  }
  for (size_t k = 0; k < u.segments.size(); ++k) {
    auto& s = u.segments[k];
    const auto piece = part.narrow(0, u.seg_begin[k] - u.begin, s.numel()).to(s.device()).to(s.scalar_type());
    if (s.grad().defined()) {
      s.mutable_grad().add_(piece);
    } else {
      s.mutable_grad() = piece.clone();
    }
  }
  u.ready = 0;
  std::fill(u.got.begin(), u.got.end(), 0);
  if (&u != root_) release(u);  // the root stays gathered until the step's last backward is done
}

void FSDPStrategy::flush_partial() {
  // A unit some of whose parameters got no gradient in the last backward: reduce what it has (the
  // missing ones as zeros), in unit order on every rank.
  for (auto& u : units_) {
    if (u->ready > 0) reduce(*u);
  }
}

void FSDPStrategy::begin_step() {
  if (root_) gather(*root_);
}

void FSDPStrategy::before_backward(bool) { flush_partial(); }

void FSDPStrategy::finish_gradients() {
  flush_partial();
  for (auto& u : units_) {
    release(*u);
    u->fresh = false;  // the optimizer step comes next: what is gathered is stale after it
  }
}

void FSDPStrategy::begin_eval() {
  if (root_) gather(*root_);
}

void FSDPStrategy::end_eval() {
  if (root_) release(*root_);
}

FsdpHeldBytes FSDPStrategy::held_bytes() const {
  FsdpHeldBytes h;
  for (const auto& u : units_) {
    for (const auto& s : u->segments) {
      h.parameters += static_cast<int64_t>(s.nbytes());
      if (s.grad().defined()) h.gradients += static_cast<int64_t>(s.grad().nbytes());
    }
    h.gathered += static_cast<int64_t>(u->full.storage().nbytes());
  }
  h.peak_gathered = peak_resident_;
  return h;
}

std::vector<std::pair<std::string, torch::Tensor>> FSDPStrategy::shard_state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  torch::NoGradGuard no_grad;
  for (const auto& u : units_) out.emplace_back(u->key, local_flat(*u).cpu());
  return out;
}

void FSDPStrategy::load_shard_state(const std::map<std::string, torch::Tensor>& shards) {
  torch::NoGradGuard no_grad;
  for (auto& u : units_) {
    auto it = shards.find(u->key);
    VOLT_CHECK(it != shards.end(), "[fsdp] the checkpoint has no shard '", u->key, "' (", u->label, ")");
    VOLT_CHECK(it->second.numel() == u->length, "[fsdp] shard '", u->key, "' (", u->label, ") holds ",
               it->second.numel(), " values; this rank's shard of it has ", u->length,
               " (a checkpoint of a different model or sharding)");
    for (size_t k = 0; k < u->segments.size(); ++k) {
      u->segments[k].copy_(it->second.narrow(0, u->seg_begin[k] - u->begin, u->segments[k].numel()));
    }
    u->fresh = false;  // gathered copies (no_shard's) are refilled from the loaded shards
  }
}

nlohmann::json FSDPStrategy::shard_index() const {
  nlohmann::json units = nlohmann::json::array();
  for (const auto& u : units_) {
    nlohmann::json params = nlohmann::json::array();
    for (size_t i = 0; i < u->params.size(); ++i) {
      params.push_back({{"name", u->names[i]}, {"shape", u->params[i].sizes().vec()}, {"offset", u->offsets[i]}});
    }
    units.push_back({{"key", u->key}, {"label", u->label}, {"numel", u->total}, {"padded", u->padded},
                     {"shard_numel", u->length}, {"dtype", std::string(c10::toString(u->full.scalar_type()))},
                     {"params", params}});
  }
  return {{"format", "volt-fsdp-1"}, {"world_size", world_size()}, {"sharding", sharding_name(options_.sharding)},
          {"units", units}};
}

std::vector<std::pair<std::string, torch::Tensor>> consolidate_sharded_checkpoint(const std::string& dir) {
  const auto index_path = (fs::path(dir) / "fsdp_index.json").string();
  VOLT_CHECK(fs::exists(index_path), "[fsdp] ", dir, ": no fsdp_index.json (not a sharded checkpoint)");
  const auto index = io::read_json(index_path);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  try {
    const int64_t world = index.at("world_size").get<int64_t>();
    VOLT_CHECK(world >= 1, "[fsdp] ", index_path, ": world_size ", world);
    const bool sharded = index.at("sharding").get<std::string>() != "no_shard";
    const int64_t files = sharded ? world : 1;  // no_shard: every rank holds it all; rank 0's file
    std::vector<std::unique_ptr<io::SafetensorsFile>> shards;
    for (int64_t r = 0; r < files; ++r) {
      const auto path = (fs::path(dir) / shard_file_name(r, world)).string();
      VOLT_CHECK(fs::exists(path), "[fsdp] ", dir, ": rank ", r, "'s shard ", shard_file_name(r, world), " is missing");
      shards.push_back(std::make_unique<io::SafetensorsFile>(path));
    }
    for (const auto& u : index.at("units")) {
      const auto key = u.at("key").get<std::string>();
      const int64_t numel = u.at("numel").get<int64_t>(), length = u.at("shard_numel").get<int64_t>();
      std::vector<torch::Tensor> parts;
      for (int64_t r = 0; r < files; ++r) {
        VOLT_CHECK(shards[static_cast<size_t>(r)]->contains(key), "[fsdp] ", shard_file_name(r, world), " has no '",
                   key, "'");
        auto t = shards[static_cast<size_t>(r)]->load(key);
        VOLT_CHECK(t.numel() == length, "[fsdp] ", shard_file_name(r, world), ": '", key, "' holds ", t.numel(),
                   " values, fsdp_index.json says ", length);
        parts.push_back(t.reshape({-1}));
      }
      const auto flat = torch::cat(parts);
      VOLT_CHECK(flat.numel() >= numel, "[fsdp] ", key, ": the shards hold ", flat.numel(), " values, the unit ", numel);
      for (const auto& p : u.at("params")) {
        const auto shape = p.at("shape").get<std::vector<int64_t>>();
        const int64_t off = p.at("offset").get<int64_t>();
        int64_t n = 1;
        for (auto d : shape) n *= d;
        VOLT_CHECK(off >= 0 && off + n <= numel, "[fsdp] ", index_path, ": parameter '", p.at("name").get<std::string>(),
                   "' lies outside its unit");
        out.emplace_back(p.at("name").get<std::string>(), flat.narrow(0, off, n).view(shape).clone());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[fsdp] ", index_path, ": ", e.what());
  }
  return out;
}

}  // namespace volt::dist

#include "volt/peft/lora.h"

#include <cmath>
#include <set>

#include "volt/core/check.h"

namespace volt::peft {

double LoraConfig::scaling() const {
  return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

void LoraConfig::validate(const std::string& where) const {
  VOLT_CHECK(r > 0, where, ": r must be a positive rank, got ", r);
  VOLT_CHECK(std::isfinite(alpha) && alpha > 0, where, ": alpha must be positive, got ", alpha);
  VOLT_CHECK(dropout >= 0 && dropout < 1, where, ": dropout must be in [0, 1), got ", dropout);
  VOLT_CHECK(bias == "none" || bias == "all" || bias == "lora_only", where, ": bias '", bias,
             "' is not one of none, all, lora_only");
  VOLT_CHECK(!target_modules.empty(), where, ": target_modules is empty");
}

nlohmann::json LoraConfig::to_peft_json() const {
  nlohmann::json j;
  j["peft_type"] = "LORA";
  j["task_type"] = "CAUSAL_LM";
  j["r"] = r;
  j["lora_alpha"] = alpha;
  j["lora_dropout"] = dropout;
  if (target_modules.size() == 1 && target_modules[0] == "all-linear") {
    j["target_modules"] = "all-linear";
  } else {
    j["target_modules"] = target_modules;
  }
  j["bias"] = bias;
  j["use_rslora"] = use_rslora;
  j["base_model_name_or_path"] = base_model_name_or_path.empty()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(base_model_name_or_path);
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["modules_to_save"] = nullptr;
  j["use_dora"] = false;
  return j;
}

LoraConfig LoraConfig::from_peft_json(const nlohmann::json& j, const std::string& source) {
  VOLT_CHECK(j.is_object(), "[peft] ", source, ": not a JSON object");
  LoraConfig c;
  try {
    const auto type = j.value("peft_type", std::string("LORA"));
    VOLT_CHECK(type == "LORA", "[peft] ", source, ": peft_type '", type, "' is not LORA");
    c.r = j.at("r").get<int64_t>();
    c.alpha = j.value("lora_alpha", 8.0);  // PEFT's default
    c.dropout = j.value("lora_dropout", 0.0);
    const auto& t = j.at("target_modules");
    if (t.is_string()) {
      c.target_modules = {t.get<std::string>()};
    } else {
      c.target_modules = t.get<std::vector<std::string>>();
    }
    c.bias = j.value("bias", std::string("none"));
    c.use_rslora = j.value("use_rslora", false);
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string()) {
      c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
    }
    VOLT_CHECK(!j.value("use_dora", false), "[peft] ", source, ": DoRA adapters are not supported");
    if (j.contains("modules_to_save") && !j["modules_to_save"].is_null()) {
      VOLT_CHECK(j["modules_to_save"].empty(), "[peft] ", source,
                 ": modules_to_save is not supported");
    }
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[peft] ", source, ": ", e.what());
  }
  c.validate("[peft] " + source);
  return c;
}

torch::Tensor LoraDelta::operator()(const torch::Tensor& x) {
  if (merged) return torch::Tensor();
  auto h = p > 0 ? torch::dropout(x, p, A->is_training()) : x;
  return B(A(h)) * scaling;
}

torch::Tensor LoraDelta::delta_weight(torch::ScalarType dtype) const {
  torch::NoGradGuard no_grad;
  return (B->weight.to(torch::kFloat32).matmul(A->weight.to(torch::kFloat32)) * scaling).to(dtype);
}

bool is_target(const std::string& name, const std::vector<std::string>& targets) {
  for (const auto& t : targets) {
    // PEFT's all-linear: every Linear but the output layer.
    if (t == "all-linear" && name != "lm_head") return true;
    if (name == t) return true;
    if (name.size() > t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0 &&
        name[name.size() - t.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

namespace {

// The model's volt Linear layers, with their names (adapters are torch Linears: never among them).
std::vector<std::pair<std::string, nn::LinearImpl*>> base_linears(torch::nn::Module& model) {
  std::vector<std::pair<std::string, nn::LinearImpl*>> out;
  for (const auto& kv : model.named_modules("", /*include_self=*/false)) {
    if (auto* l = dynamic_cast<nn::LinearImpl*>(kv.value().get())) out.emplace_back(kv.key(), l);
  }
  return out;
}

LoraDelta* lora_of(nn::LinearImpl& l) { return dynamic_cast<LoraDelta*>(l.delta.get()); }

}  // namespace

std::vector<std::pair<std::string, nn::LinearImpl*>> lora_layers(torch::nn::Module& model) {
  std::vector<std::pair<std::string, nn::LinearImpl*>> out;
  for (auto& [name, l] : base_linears(model)) {
    if (lora_of(*l)) out.emplace_back(name, l);
  }
  return out;
}

std::vector<std::string> inject_lora(torch::nn::Module& model, const LoraConfig& cfg) {
  cfg.validate();
  const auto linears = base_linears(model);
  std::vector<std::string> adapted;
  std::set<std::string> hit;
  std::set<const void*> adapter_tensors;
  for (auto& [name, l] : linears) {
    bool target = false;
    for (const auto& t : cfg.target_modules) {
      if (is_target(name, {t})) target = true, hit.insert(t);
    }
    if (!target) continue;
    VOLT_CHECK(!l->delta, "[lora] ", name, " already has an adapter");
    torch::nn::Linear a(torch::nn::LinearOptions(l->in_features, cfg.r).bias(false)),
        b(torch::nn::LinearOptions(cfg.r, l->out_features).bias(false));
    {
      torch::NoGradGuard no_grad;
      torch::nn::init::kaiming_uniform_(a->weight,
                                        std::sqrt(5.0));  // PEFT's init_lora_weights=True
      b->weight.zero_();
      const auto opts = l->bias.defined() ? l->bias.options() : l->weight.options();
      // Adapters live where the layer lives, in its parameters' dtype (fp32 under NF4 codes).
      const auto dtype = l->weight_source ? torch::kFloat32 : l->weight.scalar_type();
      a->to(opts.device(), dtype);
      b->to(opts.device(), dtype);
    }
    a->train(l->is_training());  // an adapter added to a model in eval() mode is in eval() mode too
    b->train(l->is_training());
    l->register_module("lora_A", a);
    l->register_module("lora_B", b);
    l->delta = std::make_shared<LoraDelta>(a, b, cfg.scaling(), cfg.dropout);
    adapter_tensors.insert(a->weight.unsafeGetTensorImpl());
    adapter_tensors.insert(b->weight.unsafeGetTensorImpl());
    adapted.push_back(name);
  }
  {
    for (const auto& t : cfg.target_modules) {
      if (hit.count(t)) continue;
      std::set<std::string> leaves;
      for (auto& [name, l] : linears) leaves.insert(name.substr(name.rfind('.') + 1));
      std::string known;
      for (const auto& s : leaves) known += (known.empty() ? "" : ", ") + s;
      VOLT_FAIL("[lora] target module '", t,
                "' matches no Linear layer of the model (there are: ", known, ", or all-linear)");
    }
  }
  VOLT_CHECK(!adapted.empty(), "[lora] no Linear layer to adapt");
  // Freeze the base; adapters (and the biases bias: asks for) train.
  for (auto& kv : model.named_parameters()) {
    const std::string& n = kv.key();
    const bool is_lora = adapter_tensors.count(kv.value().unsafeGetTensorImpl()) > 0;
    const bool is_bias = n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
    bool train = is_lora;
    if (is_bias && cfg.bias == "all") train = true;
    if (is_bias && cfg.bias == "lora_only") {
      for (const auto& a : adapted) train = train || n == a + ".bias";
    }
    kv.value().set_requires_grad(train);
  }
  return adapted;
}

void merge_lora(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, l] : lora_layers(model)) {
    auto* d = lora_of(*l);
    if (d->merged) continue;
    VOLT_CHECK(!l->weight_source, "[lora] ", name,
               ": cannot merge into a quantized weight (merge_and_unload "
               "dequantizes first)");
    l->weight.add_(d->delta_weight(l->weight.scalar_type()));
    d->merged = true;
  }
}

void unmerge_lora(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, l] : lora_layers(model)) {
    auto* d = lora_of(*l);
    if (!d->merged) continue;
    l->weight.sub_(d->delta_weight(l->weight.scalar_type()));
    d->merged = false;
  }
}

void merge_and_unload(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, l] : base_linears(model)) {
    if (l->weight_source) {  // NF4: back to a plain fp32 weight
      l->weight.set_data(l->weight_source->weight(torch::kFloat32).to(l->weight.device()));
      l->weight_source.reset();
      l->unregister_module("weight_nf4");
    }
    if (auto* d = lora_of(*l)) {
      if (!d->merged) l->weight.add_(d->delta_weight(l->weight.scalar_type()));
      l->delta.reset();
      l->unregister_module("lora_A");
      l->unregister_module("lora_B");
    }
  }
  for (auto& p : model.parameters()) p.set_requires_grad(true);
}

ParameterCount count_parameters(torch::nn::Module& model) {
  ParameterCount c;
  std::set<const void*> seen;
  for (const auto& p : model.parameters()) {
    if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
    c.total += p.numel();
    if (p.requires_grad()) c.trainable += p.numel();
  }
  for (auto& [name, l] : base_linears(model)) {
    if (l->weight_source || l->deferred()) c.total += l->in_features * l->out_features;
  }
  return c;
}

}  // namespace volt::peft

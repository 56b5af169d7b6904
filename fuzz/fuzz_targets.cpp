#include "fuzz_targets.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "volt/core/check.h"
#include "volt/core/config.h"
#include "volt/io/safetensors_header.h"
#include "volt/models/model_config.h"
#include "volt/tokenizers/chat_template.h"
#include "volt/tokenizers/hf_tokenizer.h"

namespace volt::fuzz {

namespace {

std::string as_text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs f; a volt::Error is the expected way to reject bad input.
template <typename F>
void rejecting(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

// The input as JSON, or false when it is not JSON at all (the loaders' own parse step reports
// that, with the file's name: not what these targets probe).
bool parse_json(const uint8_t* data, size_t size, nlohmann::json& out) {
  try {
    out = nlohmann::json::parse(as_text(data, size));
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

void safetensors_header(const uint8_t* data, size_t size) {
  static volatile uint8_t sink = 0;
  rejecting([&] {
    const auto h = io::parse_safetensors_header(data, size, "[fuzz]");
    for (const auto& name : h.order) {  // what a reader would touch
      const auto& t = h.tensors.at(name);
      if (t.end > t.begin) sink += data[h.data_start + t.end - 1];  // in bounds, or ASan says
    }
  });
}

void tokenizer_json(const uint8_t* data, size_t size) {
  rejecting([&] {
    nlohmann::json j;
    if (!parse_json(data, size, j)) return;
    HfTokenizer tok(j, "[fuzz] tokenizer.json");
    const std::string text = "Hello world! 123 <|endoftext|> caf\xc3\xa9 \xf0\x9f\x98\x80";
    const auto ids = tok.encode(text);
    (void)tok.decode(ids);
    (void)tok.encode_with_offsets(text);
    (void)tok.vocab_size();
  });
}

void yaml_config(const uint8_t* data, size_t size) {
  rejecting([&] {
    const std::string text = as_text(data, size);
    // The first line, if it looks like one, is also applied as an override.
    const auto nl = text.find('\n');
    Config c = Config::from_string(text, "fuzz.yaml");
    if (nl != std::string::npos && text.compare(0, 2, "--") == 0)
      c.set_override(text.substr(0, nl));
    ConfigSection root(c.root(), "", c.source());
    auto trainer = root.child("trainer");
    (void)trainer.get<int64_t>("max_steps", -1);
    (void)trainer.get<double>("gradient_clip_val", 0.0);
    (void)trainer.get<std::string>("precision", "32-true");
    (void)trainer.get<bool>("enable_progress_bar", true);
    auto opt = root.child("optimizer");
    (void)opt.get<std::vector<double>>("betas", {});
    (void)root.child("model").get<std::string>("preset", "");
    (void)c.dump();
    root.finish();
  });
}

void hf_config(const uint8_t* data, size_t size) {
  rejecting([&] {
    nlohmann::json j;
    if (!parse_json(data, size, j)) return;
    const ModelConfig c = ModelConfig::from_hf_json(j, "[fuzz] config.json");
    c.validate();
    (void)c.rotary_dim();
    for (int64_t l = 0; l < c.n_layer; ++l) (void)c.sliding(l), (void)c.moe_layer(l);
    // What volt writes it must read back: a config that does not round-trip is a bug, not bad
    // input.
    const auto written = c.to_hf_json();
    try {
      (void)ModelConfig::from_hf_json(written, "[fuzz] written config.json");
    } catch (const Error& e) {
      std::fprintf(stderr, "volt cannot read the config.json it wrote: %s\n%s\n", e.what(),
                   written.dump().c_str());
      std::abort();
    }
  });
}

void chat_template(const uint8_t* data, size_t size) {
  rejecting([&] {
    const std::string text = as_text(data, size);
    const size_t sep = text.find('\0');
    nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi {{ there }}"},
      {"role": "assistant", "content": "<think>hm</think>Hello!"}, {"role": "user", "content": "Bye"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
        "function": {"name": "f", "arguments": {"x": 1.5}}}]}])");
    if (sep != std::string::npos) {
      try {
        messages = nlohmann::ordered_json::parse(text.substr(sep + 1));
      } catch (const nlohmann::json::exception&) {
        return;
      }
    }
    ChatTemplate t(text.substr(0, sep), "fuzz");
    ChatRenderOptions o;
    o.now = std::tm{};
    o.add_generation_prompt = size % 2 == 1;
    o.extra = {{"enable_thinking", size % 3 == 0}};
    if (size % 5 == 0)
      o.tools =
          nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
    // Small limits: a render that would run long or big fails fast instead of timing out.
    o.limits.max_output_bytes = 1u << 20;
    o.limits.max_loop_iterations = 20000;
    o.limits.max_call_depth = 40;
    (void)t.render(messages, o);
    if (messages.is_array() && messages.size() <= 8) (void)t.render_with_spans(messages, o);
  });
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"safetensors_header", &safetensors_header},
                                          {"tokenizer_json", &tokenizer_json},
                                          {"yaml_config", &yaml_config},
                                          {"hf_config", &hf_config},
                                          {"chat_template", &chat_template}};
  return all;
}

}  // namespace volt::fuzz

// volt chat-template --tokenizer DIR [--template FILE] --messages FILE.json
//   [--add-generation-prompt] [--var KEY=JSON ...] [--json]
//   Renders a conversation with a tokenizer's chat template as transformers'
//   apply_chat_template does, tokenizes the render as apply_chat_template(tokenize=True) does, and
//   marks the tokens of the assistant's replies (the tokens SFT puts the loss on). --json prints
//   {"text", "ids", "offsets": [[start, end] bytes of each id in text], "assistant_mask"}.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/chat_template.h"
#include "volt/tokenizers/span_mask.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// A messages file: a JSON list of messages, or an object holding one under "messages".
ojson read_messages(const std::string& path) {
  ojson j;
  try {
    j = ojson::parse(io::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[chat-template] ", path, ": not valid JSON (", e.what(), ")");
  }
  if (j.is_object() && j.contains("messages")) j = j.at("messages");
  VOLT_CHECK(
      j.is_array(), "[chat-template] ", path,
      ": expected a list of messages [{\"role\", \"content\"}, ...] or {\"messages\": [...]}");
  return j;
}

// KEY=JSON; a value that is not JSON is a string (--var date_string=26 Jul 2024).
std::pair<std::string, ojson> parse_var(const std::string& arg) {
  const size_t eq = arg.find('=');
  VOLT_CHECK(eq != std::string::npos && eq > 0, "[chat-template] --var '", arg,
             "' is not KEY=VALUE (e.g. enable_thinking=false)");
  const std::string value = arg.substr(eq + 1);
  try {
    return {arg.substr(0, eq), ojson::parse(value)};
  } catch (const nlohmann::json::exception&) {
    return {arg.substr(0, eq), ojson(value)};
  }
}

// A token as printable text: special bytes escaped, so each token stays on its line.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

Action add_chat_template(CLI::App& app) {
  struct Args {
    std::string tokenizer, template_file, messages;
    std::vector<std::string> vars;
    bool add_generation_prompt = false, json = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--tokenizer", a->tokenizer,
                 "a tokenizer directory (tokenizer.json + tokenizer_config.json with its "
                 "chat_template)")
      ->required();
  app.add_option("--template", a->template_file,
                 "a .jinja file to render instead of the tokenizer's chat_template");
  app.add_option("--messages", a->messages,
                 "a JSON file: [{\"role\", \"content\"}, ...] or {\"messages\": [...]}")
      ->required();
  app.add_flag("--add-generation-prompt,--add_generation_prompt", a->add_generation_prompt,
               "end with the header of the assistant's next turn (what a chat sends the model)");
  app.add_option("--var", a->vars,
                 "a template variable KEY=JSON, e.g. enable_thinking=false (repeatable)");
  app.add_flag("--json", a->json,
               "one JSON object: {\"text\", \"ids\", \"offsets\", \"assistant_mask\"}");
  return [a]() {
    const std::string where = "[chat-template]";
    VOLT_CHECK(fs::is_directory(a->tokenizer), where, " --tokenizer ", a->tokenizer,
               ": no such directory");
    auto tokenizer = load_tokenizer(a->tokenizer);
    ChatTemplate tmpl = a->template_file.empty()
                            ? ChatTemplate::from_tokenizer_config(a->tokenizer)
                            : ChatTemplate(io::read_file(a->template_file), a->template_file);
    const fs::path config = fs::path(a->tokenizer) / "tokenizer_config.json";
    if (!a->template_file.empty() && fs::exists(config)) {
      tmpl.set_special_tokens(special_tokens_from_config(ojson::parse(io::read_file(config))));
    }
    ChatRenderOptions opt;
    opt.add_generation_prompt = a->add_generation_prompt;
    for (const auto& v : a->vars) {
      auto [key, value] = parse_var(v);
      opt.extra[key] = value;
    }
    const ojson messages = read_messages(a->messages);
    const ChatRender render = tmpl.render_with_spans(messages, opt);
    EncodeOptions encode;
    encode.add_special_tokens = false;  // apply_chat_template: the template writes BOS itself
    const Encoding enc = tokenizer->encode_with_offsets(render.text, encode);
    std::vector<ByteSpan> spans;
    for (const auto& s : render.spans) spans.push_back({s.begin, s.end});
    const auto mask = token_mask_for_spans(enc.offsets, spans);
    if (a->json) {
      ojson j;
      j["text"] = render.text;
      j["ids"] = enc.ids;
      j["offsets"] = ojson::array();
      for (const auto& o : enc.offsets) j["offsets"].push_back({o.start, o.end});
      j["assistant_mask"] = ojson::array();
      for (auto m : mask) j["assistant_mask"].push_back(static_cast<int>(m));
      std::printf("%s\n", j.dump(-1, ' ', false, ojson::error_handler_t::replace).c_str());
      return 0;
    }
    int64_t marked = 0;
    for (auto m : mask) marked += m;
    std::printf("%s", render.text.c_str());
    if (render.text.empty() || render.text.back() != '\n') std::printf("\n");
    std::printf("--- %zu tokens, %lld of them the assistant's (marked *; found by %s)\n",
                enc.ids.size(), static_cast<long long>(marked), to_string(render.method));
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      const auto& o = enc.offsets[i];
      std::printf("%c %5zu %8lld  [%zu, %zu)  %s\n", mask[i] ? '*' : ' ', i,
                  static_cast<long long>(enc.ids[i]), o.start, o.end,
                  printable(render.text.substr(o.start, o.end - o.start)).c_str());
    }
    return 0;
  };
}

}  // namespace volt::cli

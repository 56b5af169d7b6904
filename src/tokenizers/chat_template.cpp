// Loading a chat template from tokenizer_config.json and rendering it with the variables
// transformers' apply_chat_template passes.
#include "volt/tokenizers/chat_template.h"

#include <algorithm>
#include <filesystem>

#include "jinja/interpreter.h"
#include "jinja/parser.h"
#include "jinja/python.h"
#include "volt/core/check.h"
#include "volt/io/files.h"

namespace volt {
namespace {

namespace fs = std::filesystem;

std::string describe_failure(const std::string& name, const jinja::Failure& f) {
  std::string where = "[chat_template] " + name;
  if (f.line() > 0) where += " line " + std::to_string(f.line());
  return where + ": " + f.kind() + ": " + f.what();
}

std::string token_content(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return "";
}

bool is_token(const nlohmann::ordered_json& v) {
  return v.is_string() || (v.is_object() && v.contains("content") && v["content"].is_string());
}

// The template source named `which` ("" = "default") from a config's chat_template value.
std::string pick_template(const nlohmann::ordered_json& value, const std::string& where,
                          const std::string& which) {
  if (value.is_string()) {
    VOLT_CHECK(which.empty() || which == "default", "[chat_template] ", where,
               ": chat_template is a single template, there is no template named '", which, "'");
    return value.get<std::string>();
  }
  VOLT_CHECK(value.is_array(), "[chat_template] ", where,
             ": chat_template must be a string or a list of {name, template}, not ",
             value.type_name());
  const std::string wanted = which.empty() ? "default" : which;
  std::string names;
  for (const auto& entry : value) {
    VOLT_CHECK(entry.is_object() && entry.contains("name") && entry["name"].is_string() &&
                   entry.contains("template") && entry["template"].is_string(),
               "[chat_template] ", where,
               ": every chat_template entry needs a string 'name' and 'template'");
    const std::string name = entry["name"].get<std::string>();
    if (name == wanted) return entry["template"].get<std::string>();
    names += (names.empty() ? "'" : ", '") + name + "'";
  }
  VOLT_FAIL("[chat_template] ", where, ": no chat template named '", wanted, "' (it has ", names,
            ")");
}

}  // namespace

const char* to_string(SpanMethod method) {
  switch (method) {
    case SpanMethod::None:
      return "none";
    case SpanMethod::GenerationMarks:
      return "generation_marks";
    case SpanMethod::PrefixRender:
      return "prefix_render";
    case SpanMethod::ContentSearch:
      return "content_search";
  }
  return "none";
}

nlohmann::ordered_json special_tokens_from_config(const nlohmann::ordered_json& config) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (!config.is_object()) return out;
  for (const auto& [key, value] : config.items()) {
    const bool token_key = key.size() > 6 && key.compare(key.size() - 6, 6, "_token") == 0;
    if (token_key && is_token(value)) out[key] = token_content(value);
  }
  if (config.contains("extra_special_tokens") && config["extra_special_tokens"].is_object()) {
    for (const auto& [key, value] : config["extra_special_tokens"].items()) {
      if (is_token(value)) out[key] = token_content(value);
    }
  }
  if (config.contains("additional_special_tokens") &&
      config["additional_special_tokens"].is_array() &&
      !config["additional_special_tokens"].empty()) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& t : config["additional_special_tokens"]) {
      if (is_token(t)) list.push_back(token_content(t));
    }
    out["additional_special_tokens"] = list;
  }
  return out;
}

ChatTemplate::ChatTemplate(std::string source, std::string name)
    : source_(std::move(source)), name_(std::move(name)) {
  try {
    program_ = jinja::parse(source_);
  } catch (const jinja::Failure& f) {
    throw Error(describe_failure(name_, f));
  }
}

ChatTemplate ChatTemplate::from_tokenizer_config_json(const nlohmann::ordered_json& config,
                                                      const std::string& where,
                                                      const std::string& which) {
  VOLT_CHECK(config.is_object(), "[chat_template] ", where, ": expected a JSON object, got ",
             config.type_name());
  VOLT_CHECK(config.contains("chat_template") && !config["chat_template"].is_null(),
             "[chat_template] ", where, ": there is no chat_template");
  ChatTemplate t(pick_template(config["chat_template"], where, which), where);
  t.special_tokens_ = special_tokens_from_config(config);
  return t;
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path_or_dir,
                                                 const std::string& which) {
  fs::path path(path_or_dir);
  if (fs::is_directory(path)) path /= "tokenizer_config.json";
  const std::string text = io::read_file(path.string());
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[chat_template] ", path.string(), ": not valid JSON: ", e.what());
  }
  VOLT_CHECK(config.is_object(), "[chat_template] ", path.string(), ": expected a JSON object");
  // As transformers loads them: chat_template.jinja beside the config is the default template
  // and chat_templates/<name>.jinja the named ones; each replaces the config's of that name.
  nlohmann::ordered_json templates = nlohmann::ordered_json::array();
  if (config.contains("chat_template")) {
    const auto& v = config["chat_template"];
    VOLT_CHECK(v.is_null() || v.is_string() || v.is_array(), "[chat_template] ", path.string(),
               ": chat_template must be a string or a list of {name, template}, not ",
               v.type_name());
  }
  const auto add = [&](const std::string& name, const std::string& source) {
    for (auto& t : templates) {
      if (t.is_object() && t.contains("name") && t["name"] == name) {
        t["template"] = source;
        return;
      }
    }
    templates.push_back({{"name", name}, {"template", source}});
  };
  if (config.contains("chat_template") && config["chat_template"].is_string()) {
    add("default", config["chat_template"].get<std::string>());
  } else if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    templates = config["chat_template"];
  }
  const fs::path dir = path.parent_path();
  std::string where = path.string();
  if (fs::exists(dir / "chat_template.jinja")) {
    add("default", io::read_file((dir / "chat_template.jinja").string()));
    if (which.empty() || which == "default") where = (dir / "chat_template.jinja").string();
  }
  if (fs::is_directory(dir / "chat_templates")) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir / "chat_templates")) {
      if (e.path().extension() == ".jinja") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      add(f.stem().string(), io::read_file(f.string()));
      if (which == f.stem().string()) where = f.string();
    }
  }
  VOLT_CHECK(!templates.is_array() || !templates.empty(), "[chat_template] ", path.string(),
             ": there is no chat_template (nor chat_template.jinja beside it)");
  nlohmann::ordered_json picked = config;
  picked["chat_template"] = templates;
  return from_tokenizer_config_json(picked, where, which);
}

void ChatTemplate::set_special_tokens(nlohmann::ordered_json tokens) {
  VOLT_CHECK(tokens.is_object(), "[chat_template] ", name_,
             ": special tokens must be a JSON object");
  special_tokens_ = std::move(tokens);
}

bool ChatTemplate::has_generation_marks() const { return program_->has_generation; }

std::string ChatTemplate::render(const nlohmann::ordered_json& messages,
                                 const ChatRenderOptions& options) const {
  return render_checked(messages, options, nullptr);
}

std::string ChatTemplate::render_checked(
    const nlohmann::ordered_json& messages, const ChatRenderOptions& options,
    std::vector<std::pair<size_t, size_t>>* generation_spans) const {
  VOLT_CHECK(messages.is_array(), "[chat_template] ", name_,
             ": messages must be a JSON array, not ", messages.type_name());
  VOLT_CHECK(options.tools.is_null() || options.tools.is_array(), "[chat_template] ", name_,
             ": tools must be a JSON array or null, not ", options.tools.type_name());
  VOLT_CHECK(options.documents.is_null() || options.documents.is_array(), "[chat_template] ", name_,
             ": documents must be a JSON array or null, not ", options.documents.type_name());
  VOLT_CHECK(options.extra.is_object(), "[chat_template] ", name_,
             ": extra variables must be a JSON object, not ", options.extra.type_name());
  for (const char* reserved : {"messages", "tools", "documents", "add_generation_prompt"}) {
    VOLT_CHECK(!options.extra.contains(reserved), "[chat_template] ", name_,
               ": the extra variable '", reserved,
               "' would replace the one the render passes; set it in the options instead");
  }
  const auto& lim = options.limits;
  VOLT_CHECK(lim.max_output_bytes > 0 && lim.max_loop_iterations > 0 && lim.max_call_depth > 0,
             "[chat_template] ", name_, ": limits must be positive");

  jinja::RenderInput input;
  try {
    for (const auto& [k, v] : special_tokens_.items())
      input.variables[k] = jinja::py::from_json(v, "special tokens");
    for (const auto& [k, v] : options.extra.items())
      input.variables[k] = jinja::py::from_json(v, "extra variables");
    input.variables["messages"] = jinja::py::from_json(messages, "messages");
    input.variables["tools"] = jinja::py::from_json(options.tools, "tools");
    input.variables["documents"] = jinja::py::from_json(options.documents, "documents");
  } catch (const jinja::Failure& f) {
    VOLT_FAIL("[chat_template] ", name_, ": ", f.what());
  }
  input.variables["add_generation_prompt"] = jinja::Value::boolean(options.add_generation_prompt);
  if (options.now) {
    // The weekday and day of the year follow from the date (%a, %j), as datetime computes them.
    input.now = *options.now;
    timegm(&input.now);
  } else {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &input.now);
  }
  input.limits.max_output_bytes = lim.max_output_bytes;
  input.limits.max_loop_iterations = lim.max_loop_iterations;
  input.limits.max_call_depth = lim.max_call_depth;
  try {
    jinja::Interpreter interpreter(*program_, std::move(input));
    jinja::RenderOutput out = interpreter.run();
    if (generation_spans != nullptr) *generation_spans = std::move(out.generation_spans);
    return std::move(out.text);
  } catch (const jinja::Failure& f) {
    throw Error(describe_failure(name_, f));
  }
}

}  // namespace volt

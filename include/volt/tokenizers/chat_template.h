// Chat templates: the Jinja `chat_template` of a Hugging Face tokenizer_config.json, rendered
// byte for byte as transformers' apply_chat_template(..., tokenize=False) renders it, by volt's
// own sandboxed Jinja interpreter (src/tokenizers/jinja/), and the byte ranges of a render that
// belong to assistant turns (the loss mask of supervised fine-tuning).
//
// transformers renders in jinja2's ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True) with the loopcontrols and {% generation %} extensions, its own tojson
// filter and the globals raise_exception and strftime_now, and passes messages, tools,
// documents, add_generation_prompt, every special token of the tokenizer and any extra keyword
// arguments. So does volt. Python's formatting of values (None, True, 1.0, ['a'], {'k': 'v'})
// is reproduced exactly; the interpreter implements the Jinja that real chat templates use and
// refuses the rest (include/extends/import, recursive loops, *args in calls, a few filters such
// as urlize) with an error naming the construct and the template line.
//
// Example:
//   auto tmpl = volt::ChatTemplate::from_tokenizer_config("models/qwen3");  // the directory
//   volt::ChatRenderOptions opt;
//   opt.add_generation_prompt = true;
//   opt.extra = {{"enable_thinking", false}};
//   std::string prompt = tmpl.render(messages, opt);
//   volt::ChatRender r = tmpl.render_with_spans(conversation);  // r.spans: the assistant bytes
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace volt {

namespace jinja {
struct Program;
}

/// Bounds on one render (the sandbox): exceeding one is an error naming it.
struct ChatTemplateLimits {
  size_t max_output_bytes =
      64u << 20;  // the rendered text, and any string or list a template builds
  int64_t max_loop_iterations = 1000000;  // summed over all loops of one render
  int max_call_depth = 100;               // nested macro calls
};

struct ChatRenderOptions {
  bool add_generation_prompt = false;
  /// Tool definitions (a JSON array of schemas) or null: templates see `tools` as None then.
  nlohmann::ordered_json tools = nullptr;
  /// Documents for retrieval-augmented templates (an array of objects) or null.
  nlohmann::ordered_json documents = nullptr;
  /// More variables, like transformers' extra kwargs (enable_thinking, date_string, ...); they
  /// override the special tokens of the same name.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  /// The moment strftime_now formats, as local time; unset: the current local time. Pin it for
  /// reproducible renders (volt's goldens use 26 Jul 2024).
  std::optional<std::tm> now;
  /// Markers that end an assistant turn, for render_with_spans' content search; empty: the
  /// template's eos_token and the well-known ones (<|im_end|>, <|eot_id|>, <end_of_turn>, ...).
  std::vector<std::string> end_of_turn_markers;
  ChatTemplateLimits limits;
};

/// How render_with_spans found the assistant bytes.
enum class SpanMethod {
  None,             // no assistant message
  GenerationMarks,  // what the template's {% generation %} blocks rendered (transformers' mask)
  PrefixRender,     // what each assistant message adds to the render of the messages before it
  ContentSearch,    // each reply located in the render, through its end-of-turn marker
};
const char* to_string(SpanMethod method);

/// Bytes [begin, end) of a render that belong to one assistant turn.
struct AssistantSpan {
  size_t begin = 0;
  size_t end = 0;
  int64_t message_index = -1;  // the message it renders; -1 for generation marks
};

struct ChatRender {
  std::string text;
  std::vector<AssistantSpan> spans;
  SpanMethod method = SpanMethod::None;
};

class ChatTemplate {
 public:
  /// A template from its source; `name` names it in errors.
  explicit ChatTemplate(std::string source, std::string name = "chat_template");

  /// The chat template of a tokenizer_config.json (the file, or the directory holding it) with
  /// that config's special tokens. `chat_template` may be a string or a list of {name, template};
  /// a chat_template.jinja beside the config (newer transformers save it there) replaces the
  /// default one and chat_templates/<name>.jinja the named ones, as transformers loads them.
  /// `which` picks one by name (empty: "default"; transformers picks "tool_use" itself when
  /// given tools and the config has one: ask for it by name).
  static ChatTemplate from_tokenizer_config(const std::string& path_or_dir,
                                            const std::string& which = "");
  /// The same from a parsed config; `where` names it in errors.
  static ChatTemplate from_tokenizer_config_json(const nlohmann::ordered_json& config,
                                                 const std::string& where,
                                                 const std::string& which = "");

  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }
  /// The variables the special tokens give every render (bos_token, eos_token, pad_token, ...,
  /// additional_special_tokens), as transformers passes them; empty for a bare template.
  const nlohmann::ordered_json& special_tokens() const { return special_tokens_; }
  void set_special_tokens(nlohmann::ordered_json tokens);
  /// Whether the template marks assistant text with {% generation %}.
  bool has_generation_marks() const;

  /// The rendered conversation. `messages` is a JSON array (of message objects). Use
  /// nlohmann::ordered_json so that objects keep their key order: tojson prints keys in order.
  /// A ChatTemplate is immutable: threads may render with one at the same time.
  std::string render(const nlohmann::ordered_json& messages,
                     const ChatRenderOptions& options = {}) const;

  /// The render and the byte spans of its assistant turns (`method` says how they were found):
  /// 1. {% generation %} marks, when the template has them: the marked text, as transformers'
  ///    return_assistant_tokens_mask.
  /// 2. Otherwise, when the template has the prefix property: for each assistant message i,
  ///    what render(messages[:i+1]) adds to render(messages[:i], add_generation_prompt=true),
  ///    without the whitespace the template puts after the turn (the end-of-turn token is in; the
  ///    newline after <|im_end|> is not: it is scaffolding the next turn's render supplies).
  /// 3. Otherwise (Llama 3's template always appends the assistant header, Qwen3 drops the
  ///    reasoning of earlier turns) each reply is located in the render in order. It starts at
  ///    the end of its generation prompt when render(messages[:i], add_generation_prompt=true) is
  ///    a prefix of the render (or, when only the turns before are, after the generation
  ///    prompt's lines that the render shares), else at its content, found where only
  ///    whitespace separates it from an end-of-turn marker (so that a prompt quoting the reply
  ///    is not taken for it). It ends at the first end-of-turn marker after the content (tool
  ///    calls between are in), before the next message's content. A reply that cannot be
  ///    located is an error naming the message; no prompt byte is ever in a span.
  /// Methods 2 and 3 render every prefix of the conversation: the cost grows with the square of
  /// its length (100 messages: about 30 ms; 500: about 0.6 s).
  ChatRender render_with_spans(const nlohmann::ordered_json& messages,
                               const ChatRenderOptions& options = {}) const;

 private:
  std::string render_checked(const nlohmann::ordered_json& messages,
                             const ChatRenderOptions& options,
                             std::vector<std::pair<size_t, size_t>>* generation_spans) const;

  std::string source_;
  std::string name_;
  std::shared_ptr<const jinja::Program> program_;
  nlohmann::ordered_json special_tokens_ = nlohmann::ordered_json::object();
};

/// The special-token variables of a tokenizer_config.json: every "*_token" key whose value is a
/// string or an AddedToken object (reduced to its content), the entries of
/// extra_special_tokens, and additional_special_tokens when it is not empty. Null tokens are
/// left out (transformers does not pass them, so templates see them undefined).
nlohmann::ordered_json special_tokens_from_config(const nlohmann::ordered_json& config);

}  // namespace volt

#include "volt/data/sft_records.h"

#include <functional>

#include "volt/core/check.h"
#include "volt/io/files.h"

namespace volt::data {

namespace {

using ojson = nlohmann::ordered_json;

constexpr size_t kProblemsKept = 5;

std::string type_of(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::object:
      return "an object";
    case ojson::value_t::array:
      return "an array";
    case ojson::value_t::string:
      return "a string";
    case ojson::value_t::boolean:
      return "a boolean";
    case ojson::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

std::string keys_of(const ojson& object) {
  std::string out;
  for (auto it = object.begin(); it != object.end(); ++it)
    out += (out.empty() ? "" : ", ") + it.key();
  return "(keys: " + (out.empty() ? std::string("none") : out) + ")";
}

[[noreturn]] void bad_field(const std::string& where, const std::string& field,
                            const std::string& problem) {
  VOLT_FAIL("[sft] ", where, ": field '", field, "': ", problem);
}

const std::string& string_field(const ojson& object, const std::string& key,
                                const std::string& field, const std::string& where) {
  if (!object.contains(key)) bad_field(where, field, "missing " + keys_of(object));
  const ojson& v = object.at(key);
  if (!v.is_string()) bad_field(where, field, "is " + type_of(v) + ", not a string");
  return v.get_ref<const std::string&>();
}

std::string optional_string(const ojson& object, const std::string& key, const std::string& field,
                            const std::string& where) {
  if (!object.contains(key) || object.at(key).is_null()) return "";
  return string_field(object, key, field, where);
}

ojson message(const std::string& role, const std::string& content) {
  return ojson{{"role", role}, {"content", content}};
}

// An OpenAI message list, checked: objects with a known role and string content (an assistant
// message may carry tool_calls instead); other keys (name, tool_calls, reasoning_content, ...)
// pass through to the template.
ojson checked_messages(const ojson& list, const std::string& field, const std::string& where) {
  if (!list.is_array()) bad_field(where, field, "is " + type_of(list) + ", not a list of messages");
  if (list.empty()) bad_field(where, field, "is an empty list");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    const ojson& m = list[i];
    if (!m.is_object()) bad_field(where, f, "is " + type_of(m) + ", not a message object");
    const std::string& role = string_field(m, "role", f + ".role", where);
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      bad_field(where, f + ".role", "unknown role '" + role + "' (system, user, assistant, tool)");
    }
    const bool tool_call = role == "assistant" && m.contains("tool_calls");
    if (!tool_call || (m.contains("content") && !m.at("content").is_null())) {
      string_field(m, "content", f + ".content", where);
    }
  }
  return list;
}

// ShareGPT's speakers, as the tools that read it (FastChat, axolotl, LLaMA-Factory) name them.
std::string sharegpt_role(const std::string& from) {
  if (from == "human" || from == "user") return "user";
  if (from == "gpt" || from == "assistant" || from == "model" || from == "chatgpt" ||
      from == "bard" || from == "bing")
    return "assistant";
  if (from == "system") return "system";
  if (from == "tool" || from == "function" || from == "observation") return "tool";
  return "";
}

ojson sharegpt_messages(const ojson& record, const std::string& where) {
  if (!record.contains("conversations"))
    bad_field(where, "conversations", "missing " + keys_of(record));
  const ojson& list = record.at("conversations");
  if (!list.is_array()) bad_field(where, "conversations", "is " + type_of(list) + ", not a list");
  if (list.empty()) bad_field(where, "conversations", "is an empty list");
  ojson out = ojson::array();
  const std::string system = optional_string(record, "system", "system", where);
  if (!system.empty()) out.push_back(message("system", system));
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string f = "conversations[" + std::to_string(i) + "]";
    const ojson& turn = list[i];
    if (!turn.is_object()) bad_field(where, f, "is " + type_of(turn) + ", not an object");
    const std::string& from = string_field(turn, "from", f + ".from", where);
    const std::string role = sharegpt_role(from);
    if (role.empty()) {
      bad_field(where, f + ".from",
                "unknown speaker '" + from + "' (human, gpt, system, tool, or user, assistant)");
    }
    out.push_back(message(role, string_field(turn, "value", f + ".value", where)));
  }
  return out;
}

// Alpaca's prompt: the instruction, then the input below it when there is one.
std::string alpaca_prompt(const std::string& instruction, const std::string& input) {
  return input.empty() ? instruction : instruction + "\n\n" + input;
}

std::vector<ojson> alpaca_messages(const ojson& record, const std::string& where) {
  const std::string& instruction = string_field(record, "instruction", "instruction", where);
  const std::string system = optional_string(record, "system", "system", where);
  auto conversation = [&](const std::string& input, const std::string& output) {
    ojson out = ojson::array();
    if (!system.empty()) out.push_back(message("system", system));
    out.push_back(message("user", alpaca_prompt(instruction, input)));
    out.push_back(message("assistant", output));
    return out;
  };
  if (!record.contains("instances")) {
    return {conversation(optional_string(record, "input", "input", where),
                         string_field(record, "output", "output", where))};
  }
  const ojson& instances = record.at("instances");  // Self-Instruct's seed tasks
  if (!instances.is_array() || instances.empty()) {
    bad_field(where, "instances", "is " + type_of(instances) + ", not a non-empty list");
  }
  std::vector<ojson> out;
  for (size_t i = 0; i < instances.size(); ++i) {
    const std::string f = "instances[" + std::to_string(i) + "]";
    const ojson& inst = instances[i];
    if (!inst.is_object()) bad_field(where, f, "is " + type_of(inst) + ", not an object");
    out.push_back(conversation(optional_string(inst, "input", f + ".input", where),
                               string_field(inst, "output", f + ".output", where)));
  }
  return out;
}

// prompt / completion: two strings, or TRL's conversational form (two message lists).
ojson prompt_completion_messages(const ojson& record, const std::string& where) {
  for (const char* key : {"prompt", "completion"}) {
    if (!record.contains(key)) bad_field(where, key, "missing " + keys_of(record));
  }
  const ojson& prompt = record.at("prompt");
  const ojson& completion = record.at("completion");
  if (prompt.is_array() || completion.is_array()) {
    ojson out = checked_messages(prompt, "prompt", where);
    for (const auto& m : checked_messages(completion, "completion", where)) out.push_back(m);
    return out;
  }
  return ojson::array(
      {message("user", string_field(record, "prompt", "prompt", where)),
       message("assistant", string_field(record, "completion", "completion", where))});
}

void check_has_assistant(const ojson& messages, const std::string& where) {
  for (const auto& m : messages) {
    if (m.at("role") == "assistant") return;
  }
  VOLT_FAIL("[sft] ", where, ": the conversation has no assistant turn (nothing to learn from)");
}

// The top-level elements of a JSON array text: {begin, end} byte ranges, without parsing them
// (each is parsed alone, so that one bad record can be named and skipped). A text whose brackets
// do not balance is an error naming the file.
std::vector<std::pair<size_t, size_t>> array_elements(const std::string& text,
                                                      const std::string& path) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = text.find_first_not_of(" \t\r\n");
  if (i != std::string::npos && text.compare(i, 3, "\xEF\xBB\xBF") == 0) i += 3;  // a BOM
  VOLT_CHECK(i != std::string::npos && text[i] == '[', "[sft] ", path,
             ": a .json file must hold an array of records (or use .jsonl, one record a line)");
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t start = std::string::npos;
  for (++i; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (depth == 0 && (c == ',' || c == ']')) {
      if (start != std::string::npos) out.emplace_back(start, i);
      start = std::string::npos;
      if (c == ']') return out;
      continue;
    }
    if (start == std::string::npos) start = i;
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
  }
  VOLT_FAIL("[sft] ", path, ": the JSON array is not closed (truncated file?)");
}

std::string at_line(const std::string& path, int64_t line) {
  return path + " line " + std::to_string(line);
}

}  // namespace

const char* to_string(SftFormat f) {
  switch (f) {
    case SftFormat::kAuto:
      return "auto";
    case SftFormat::kMessages:
      return "messages";
    case SftFormat::kShareGpt:
      return "sharegpt";
    case SftFormat::kAlpaca:
      return "alpaca";
    case SftFormat::kPromptCompletion:
      return "prompt_completion";
    case SftFormat::kQuestionAnswer:
      return "question_answer";
  }
  return "?";
}

SftFormat parse_sft_format(const std::string& name) {
  for (auto f : {SftFormat::kAuto, SftFormat::kMessages, SftFormat::kShareGpt, SftFormat::kAlpaca,
                 SftFormat::kPromptCompletion, SftFormat::kQuestionAnswer}) {
    if (name == to_string(f)) return f;
  }
  VOLT_FAIL("[sft] data.format '", name,
            "' is not one of auto, messages, sharegpt, alpaca, prompt_completion, "
            "question_answer");
}

SftFormat detect_sft_format(const ojson& record) {
  if (!record.is_object()) return SftFormat::kAuto;
  if (record.contains("messages")) return SftFormat::kMessages;
  if (record.contains("conversations")) return SftFormat::kShareGpt;
  if (record.contains("instruction")) return SftFormat::kAlpaca;
  if (record.contains("prompt") && record.contains("completion"))
    return SftFormat::kPromptCompletion;
  if (record.contains("question") && record.contains("answer")) return SftFormat::kQuestionAnswer;
  return SftFormat::kAuto;
}

std::vector<Conversation> record_to_conversations(const ojson& record, SftFormat format,
                                                  const std::string& where) {
  VOLT_CHECK(record.is_object(), "[sft] ", where, ": a record must be a JSON object, got ",
             type_of(record));
  if (format == SftFormat::kAuto) format = detect_sft_format(record);
  std::vector<ojson> lists;
  switch (format) {
    case SftFormat::kAuto:
      VOLT_FAIL("[sft] ", where, ": no known conversation layout in ", keys_of(record),
                ": expected messages, conversations, instruction/output, prompt/completion or "
                "question/answer (or set data.format)");
    case SftFormat::kMessages:
      if (!record.contains("messages")) bad_field(where, "messages", "missing " + keys_of(record));
      lists.push_back(checked_messages(record.at("messages"), "messages", where));
      break;
    case SftFormat::kShareGpt:
      lists.push_back(sharegpt_messages(record, where));
      break;
    case SftFormat::kAlpaca:
      lists = alpaca_messages(record, where);
      break;
    case SftFormat::kPromptCompletion:
      lists.push_back(prompt_completion_messages(record, where));
      break;
    case SftFormat::kQuestionAnswer:
      lists.push_back(
          ojson::array({message("user", string_field(record, "question", "question", where)),
                        message("assistant", string_field(record, "answer", "answer", where))}));
      break;
  }
  std::vector<Conversation> out;
  for (auto& l : lists) {
    check_has_assistant(l, where);
    out.push_back(Conversation{std::move(l), where});
  }
  return out;
}

void SftReadReport::skip(const std::string& problem) {
  ++skipped;
  if (problems.size() < kProblemsKept) problems.push_back(problem);
}

std::vector<Conversation> read_sft_text(const std::string& path, const std::string& text,
                                        const SftReadOptions& options, SftReadReport* report) {
  std::vector<Conversation> out;
  SftFormat format = options.format;
  SftReadReport local;
  SftReadReport& r = report ? *report : local;
  // One record: parsed, its format settled (auto: by the file's first record that names one),
  // converted; a bad one is skipped when asked, else the error propagates.
  auto take = [&](std::string_view json_text, int64_t line) {
    const std::string where = at_line(path, line);
    ++r.records;
    try {
      ojson record;
      try {
        record = ojson::parse(json_text);
      } catch (const nlohmann::json::exception& e) {
        VOLT_FAIL("[sft] ", where, ": not valid JSON (", e.what(), ")");
      }
      if (format == SftFormat::kAuto) {
        const SftFormat detected = detect_sft_format(record);
        auto conversations = record_to_conversations(record, detected, where);
        format = detected;
        for (auto& c : conversations) out.push_back(std::move(c));
        return;
      }
      for (auto& c : record_to_conversations(record, format, where)) out.push_back(std::move(c));
    } catch (const Error& e) {
      if (!options.skip_bad_records) throw;
      r.skip(e.what());
    }
  };
  // A JSONL record is an object: a text that opens with '[' is one JSON array.
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool array = (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) ||
                     (first != std::string::npos && text[first] == '[');
  if (array) {
    int64_t line = 1;
    size_t counted = 0;
    for (const auto& [begin, end] : array_elements(text, path)) {
      for (; counted < begin; ++counted) line += text[counted] == '\n' ? 1 : 0;
      take(std::string_view(text).substr(begin, end - begin), line);
    }
  } else {
    size_t start = 0;
    for (int64_t line = 1; start < text.size(); ++line) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string_view l = std::string_view(text).substr(start, end - start);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (l.find_first_not_of(" \t") != std::string_view::npos) take(l, line);
      start = end + 1;
    }
  }
  r.formats.push_back(path + ": " + to_string(format));
  return out;
}

std::vector<Conversation> read_sft_file(const std::string& path, const SftReadOptions& options,
                                        SftReadReport* report) {
  return read_sft_text(path, io::read_file(path), options, report);
}

}  // namespace volt::data

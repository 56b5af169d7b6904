// Conversation readers for supervised fine-tuning: JSONL (one record a line) or JSON (an array of
// records) in the common instruction-tuning layouts, each record turned into OpenAI-style
// messages [{"role", "content"}, ...] that a chat template renders:
//   messages           {"messages": [{"role": "user", "content": ...}, ...]}  (OpenAI, TRL)
//   sharegpt           {"conversations": [{"from": "human", "value": ...}, ...]}  (human/gpt/...)
//   alpaca             {"instruction", "input"?, "output"}, or Self-Instruct's
//                      {"instruction", "instances": [{"input", "output"}, ...]} (one per instance)
//   prompt_completion  {"prompt", "completion"}: strings, or message lists (TRL's conversational)
//   question_answer    {"question", "answer"} (GSM8K)
// No LibTorch here (part of the volt_text library).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace volt::data {

enum class SftFormat { kAuto, kMessages, kShareGpt, kAlpaca, kPromptCompletion, kQuestionAnswer };

/// "auto", "messages", "sharegpt", "alpaca", "prompt_completion", "question_answer".
const char* to_string(SftFormat format);
/// The format of a name (those above); anything else is a volt::Error listing them.
SftFormat parse_sft_format(const std::string& name);
/// The format a record's keys say, or kAuto when they say none.
SftFormat detect_sft_format(const nlohmann::ordered_json& record);

/// One conversation: messages with a role of system, user, assistant or tool, at least one of
/// them the assistant's; `source` says where it came from ("path:12").
struct Conversation {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::string source;
};

/// The conversations of one record (alpaca's instances give several). A record that does not
/// fit the format is a volt::Error naming `where`, the field and what is wrong with it:
///   [sft] train.jsonl line 3: field 'messages[1].role': unknown role 'bot' (system, user, ...)
/// kAuto detects the format from the record itself.
std::vector<Conversation> record_to_conversations(const nlohmann::ordered_json& record,
                                                  SftFormat format, const std::string& where);

struct SftReadOptions {
  SftFormat format = SftFormat::kAuto;  // kAuto: each file's first record decides for the file
  /// Count and skip records that are not valid (bad JSON, missing fields, unknown roles, no
  /// assistant turn) instead of failing on the first.
  bool skip_bad_records = false;
};

/// What reading found: the records read and skipped, with the first problems in words.
struct SftReadReport {
  int64_t records = 0;
  int64_t skipped = 0;
  std::vector<std::string> problems;  // the first few skipped records' errors
  std::vector<std::string> formats;   // per file: "path: messages"
  void skip(const std::string& problem);
};

/// Reads one .jsonl / .json file. Lines are counted from 1; in a JSON array each record is named
/// by the line it starts on.
std::vector<Conversation> read_sft_file(const std::string& path, const SftReadOptions& options,
                                        SftReadReport* report = nullptr);
/// The same for a file's bytes in memory (`path` names it in messages; ".json" and a text that
/// starts with '[' read it as a JSON array).
std::vector<Conversation> read_sft_text(const std::string& path, const std::string& text,
                                        const SftReadOptions& options,
                                        SftReadReport* report = nullptr);

}  // namespace volt::data

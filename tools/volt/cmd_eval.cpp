// volt eval --checkpoint DIR [--adapter DIR] --data FILE --metric exact_match
//   [--extract hash|regex] [--regex PATTERN] [--limit N] [--max-new-tokens N] [--out FILE.jsonl]
//   Exact-match accuracy of greedy replies, measured as lm-evaluation-harness's gsm8k task
//   measures it: each record's conversation up to its last reply is the prompt (rendered by the
//   model's chat template), the reply is generated greedily, an answer is extracted from it (the
//   number after "####", or a regex's first group) and compared with the reference reply's after
//   lm-eval's normalisation (commas, "$" and a final "." removed, case ignored). One JSON line per
//   item goes to --out; the accuracy to stdout.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "chat_session.h"
#include "commands.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/data/sft_records.h"
#include "volt/io/files.h"

namespace volt::cli {

namespace {

using ojson = nlohmann::ordered_json;

// lm-eval gsm8k's "strict-match" filter: the number after "####".
constexpr const char* kHashRegex = "#### (-?[0-9.,]+)";

std::string extract(const std::string& text, const std::regex& re) {
  std::smatch m;
  if (!std::regex_search(text, m, re)) return "[invalid]";
  return m.size() > 1 ? m[1].str() : m[0].str();
}

// lm-eval's exact_match with ignore_case and regexes_to_ignore [",", "\$", "(?s).*#### ", "\.$"].
std::string normalized(std::string s) {
  const size_t hash = s.rfind("#### ");
  if (hash != std::string::npos) s = s.substr(hash + 5);
  std::string out;
  for (char c : s) {
    if (c != ',' && c != '$') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const size_t b = out.find_first_not_of(" \t\n");
  const size_t e = out.find_last_not_of(" \t\n");
  out = b == std::string::npos ? "" : out.substr(b, e - b + 1);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

Action add_eval(CLI::App& app) {
  struct Args {
    std::string checkpoint, adapter, data, metric = "exact_match", extract = "hash", regex,
                                           out = "eval.jsonl";
    int64_t limit = 0;
    GenerationOptions gen;
  };
  auto a = std::make_shared<Args>();
  a->gen.max_new_tokens = 256;
  a->gen.temperature = 0;  // greedy, as lm-eval's gsm8k
  app.add_option("--checkpoint,--model", a->checkpoint,
                 "a checkpoint or Hugging Face model directory with a chat template");
  app.add_option("--adapter", a->adapter, "a LoRA adapter directory (PEFT format)");
  app.add_option("--data", a->data,
                 "a .jsonl / .json file of conversations (question/answer as GSM8K, messages, "
                 "alpaca, ...); the last reply of each is the reference")
      ->required();
  app.add_option("--metric", a->metric, "the metric")
      ->capture_default_str()
      ->check(one_of({"exact_match"}));
  app.add_option("--extract", a->extract,
                 "how the answer is found: hash (the number after '####', lm-eval's "
                 "strict-match) or regex (--regex's first group)")
      ->capture_default_str()
      ->check(one_of({"hash", "regex"}));
  app.add_option("--regex", a->regex, "with --extract regex: an ECMAScript regular expression");
  app.add_option("--limit", a->limit, "the first N items (0: all)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--max-new-tokens", a->gen.max_new_tokens, "the longest reply, in tokens")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--out", a->out, "per-item results, one JSON line each")->capture_default_str();
  return [a]() {
    torch::set_num_threads(1);
    VOLT_CHECK(a->extract != "regex" || !a->regex.empty(),
               "[eval] --extract regex needs --regex PATTERN");
    std::regex re;
    try {
      re = std::regex(a->extract == "regex" ? a->regex : kHashRegex);
    } catch (const std::regex_error& e) {
      VOLT_FAIL("[eval] --regex '", a->regex, "' is not a valid regular expression (", e.what(),
                ")");
    }
    auto items = data::read_sft_file(a->data, data::SftReadOptions{});
    if (a->limit > 0 && static_cast<int64_t>(items.size()) > a->limit)
      items.resize(static_cast<size_t>(a->limit));
    ChatSession session = open_chat_session(a->checkpoint, a->adapter, a->gen, {}, "[eval]");
    std::ofstream out(a->out);
    VOLT_CHECK(out.good(), "[eval] cannot write ", a->out);
    int64_t correct = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      ojson prompt = items[i].messages;
      while (!prompt.empty() && prompt.back()["role"] != "assistant")
        prompt.erase(prompt.size() - 1);
      const std::string reference = prompt.back().value("content", "");
      prompt.erase(prompt.size() - 1);
      session.reset();  // each item alone, as lm-eval runs them
      const ChatReply r = session.reply(prompt);
      const std::string predicted = extract(r.text, re);
      const std::string target =
          a->extract == "hash" ? normalized(reference) : normalized(extract(reference, re));
      const bool ok = predicted != "[invalid]" && normalized(predicted) == target;
      correct += ok ? 1 : 0;
      ojson j{{"index", i},
              {"source", items[i].source},
              {"reply", r.text},
              {"extracted", predicted},
              {"target", target},
              {"correct", ok},
              {"stopped_at_end_of_turn", r.stop_id >= 0}};
      out << j.dump(-1, ' ', false, ojson::error_handler_t::replace) << "\n";
    }
    const double acc =
        items.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(items.size());
    std::printf("exact_match: %.4f (%lld / %zu) -> %s\n", acc, static_cast<long long>(correct),
                items.size(), a->out.c_str());
    return 0;
  };
}

}  // namespace volt::cli

// volt chat --checkpoint DIR [--adapter DIR] [--system TEXT] [--messages FILE.json [--json]]
//   [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R]
//   [--seed S] [--var KEY=JSON ...]
//   A terminal chat with a model in its own chat format (the checkpoint's tokenizer_config.json
//   chat_template, with the generation prompt). Replies stream as they are sampled and end at an
//   end-of-turn token; the KV cache is kept across turns. Commands: /reset, /system TEXT,
//   /save FILE.json, /exit. With --messages it answers that conversation once and exits.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chat_session.h"
#include "commands.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/io/files.h"

namespace volt::cli {

namespace {

using ojson = nlohmann::ordered_json;

ojson read_conversation(const std::string& path) {
  ojson j;
  try {
    j = ojson::parse(io::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[chat] ", path, ": not valid JSON (", e.what(), ")");
  }
  if (j.is_object() && j.contains("messages")) j = j.at("messages");
  VOLT_CHECK(
      j.is_array() && !j.empty(), "[chat] ", path,
      ": expected a list of messages [{\"role\", \"content\"}, ...] or {\"messages\": [...]}");
  for (size_t i = 0; i < j.size(); ++i) {
    VOLT_CHECK(j[i].is_object() && j[i].contains("role") && j[i]["role"].is_string(), "[chat] ",
               path, ": message ", i, " has no string 'role'");
  }
  VOLT_CHECK(j.back()["role"] != "assistant", "[chat] ", path,
             ": the last message is the assistant's: there is nothing to reply to");
  return j;
}

ojson message(const std::string& role, const std::string& content) {
  return ojson{{"role", role}, {"content", content}};
}

// The conversation so far with the system prompt first (replaced when it changes).
ojson with_system(const std::string& system, const ojson& turns) {
  ojson out = ojson::array();
  if (!system.empty()) out.push_back(message("system", system));
  for (const auto& m : turns) out.push_back(m);
  return out;
}

void interactive(ChatSession& session, std::string system, const ChatRenderOptions&) {
  ojson turns = ojson::array();
  std::fprintf(stderr,
               "[chat] type a message; /reset, /system TEXT, /save FILE.json, /exit (Ctrl-D)\n");
  std::string line;
  while (true) {
    std::printf(">>> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      turns = ojson::array();
      session.reset();
      std::printf("(conversation cleared)\n");
      continue;
    }
    if (line.rfind("/system", 0) == 0) {
      system = line.size() > 8 ? line.substr(8) : "";
      std::printf("(system prompt %s)\n", system.empty() ? "removed" : "set");
      continue;
    }
    if (line.rfind("/save", 0) == 0) {
      const std::string path = line.size() > 6 ? line.substr(6) : "";
      if (path.empty()) {
        std::printf("(usage: /save FILE.json)\n");
        continue;
      }
      try {
        io::write_file_atomic(path, with_system(system, turns).dump(2) + "\n");
        std::printf("(saved %s)\n", path.c_str());
      } catch (const Error& e) {
        std::printf("(not saved: %s)\n", e.what());
      }
      continue;
    }
    if (line[0] == '/') {
      std::printf("(unknown command %s: /reset, /system TEXT, /save FILE.json, /exit)\n",
                  line.c_str());
      continue;
    }
    turns.push_back(message("user", line));
    const auto t0 = std::chrono::steady_clock::now();
    ChatReply r;
    try {
      r = session.reply(with_system(system, turns), [](const std::string& piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      });
    } catch (const Error& e) {  // a template that refuses the conversation: say so, keep going
      turns.erase(turns.size() - 1);
      std::printf("(%s)\n", e.what());
      continue;
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("\n");
    std::fprintf(stderr, "[chat] read %lld new of %lld prompt tokens, wrote %zu in %.2f s%s\n",
                 static_cast<long long>(r.fed_prompt_tokens),
                 static_cast<long long>(r.prompt_tokens), r.ids.size(), dt,
                 r.stop_id < 0 ? " (cut at --max-new-tokens or the context)" : "");
    turns.push_back(message("assistant", r.text));
  }
}

}  // namespace

Action add_chat(CLI::App& app) {
  struct Args {
    std::string checkpoint, adapter, system, messages;
    std::vector<std::string> vars;
    bool json = false;
    GenerationOptions gen;
  };
  auto a = std::make_shared<Args>();
  a->gen.max_new_tokens = 512;
  app.add_option("--checkpoint,--model", a->checkpoint,
                 "a checkpoint or Hugging Face model directory with a chat template (with "
                 "--adapter, its base; default: the adapter's base_model_name_or_path)");
  app.add_option("--adapter", a->adapter, "a LoRA adapter directory (PEFT format)");
  app.add_option("--system", a->system, "a system prompt (first message of the conversation)");
  app.add_option(
      "--messages", a->messages,
      "answer this conversation (a JSON list of messages, the last the user's) and exit");
  app.add_flag("--json", a->json,
               "with --messages: one JSON line {\"reply\", \"ids\", \"stop_id\", "
               "\"prompt_tokens\"}");
  app.add_option("--max-new-tokens", a->gen.max_new_tokens, "the longest reply, in tokens")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--temperature", a->gen.temperature, "softmax temperature; 0 is greedy")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--top-k", a->gen.top_k, "sample among the k most likely tokens (0: all)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--top-p", a->gen.top_p, "nucleus sampling threshold (1: off)")
      ->capture_default_str()
      ->check(between(0.0, 1.0));
  app.add_option("--repetition-penalty,--repetition_penalty", a->gen.repetition_penalty,
                 "transformers' repetition_penalty (1: off)")
      ->capture_default_str()
      ->check(at_least(0, /*strict=*/true));
  app.add_option("--seed", a->gen.seed, "random seed")->capture_default_str();
  app.add_option("--var", a->vars,
                 "a template variable KEY=JSON, e.g. enable_thinking=false (repeatable)");
  return [a]() {
    torch::set_num_threads(1);  // one sequence of small matmuls: threads cost more than they give
    VOLT_CHECK(!a->json || !a->messages.empty(), "[chat] --json needs --messages");
    ChatRenderOptions render;
    for (const auto& v : a->vars) {
      const size_t eq = v.find('=');
      VOLT_CHECK(eq != std::string::npos && eq > 0, "[chat] --var '", v, "' is not KEY=VALUE");
      try {
        render.extra[v.substr(0, eq)] = ojson::parse(v.substr(eq + 1));
      } catch (const nlohmann::json::exception&) {
        render.extra[v.substr(0, eq)] = v.substr(eq + 1);
      }
    }
    ojson conversation;
    if (!a->messages.empty()) conversation = read_conversation(a->messages);
    ChatSession session = open_chat_session(a->checkpoint, a->adapter, a->gen, render, "[chat]");
    if (a->messages.empty()) {
      interactive(session, a->system, render);
      return 0;
    }
    if (!a->system.empty() && conversation[0]["role"] != "system") {
      conversation = with_system(a->system, conversation);
    }
    const ChatReply r = session.reply(conversation);
    if (a->json) {
      ojson j{{"reply", r.text},
              {"ids", r.ids},
              {"stop_id", r.stop_id},
              {"stop_token", r.stop_id < 0 ? "" : session.tokenizer().id_to_token(r.stop_id)},
              {"prompt_tokens", r.prompt_tokens}};
      std::printf("%s\n", j.dump(-1, ' ', false, ojson::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n", r.text.c_str());
    }
    return 0;
  };
}

}  // namespace volt::cli

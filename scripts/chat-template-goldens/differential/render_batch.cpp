// Renders chat templates for differential.py: one JSON request a line on stdin, one JSON answer
// a line on stdout. Request: {"source", "special", "messages", "add_generation_prompt",
// "tools", "extra", "spans"}. Answer: {"text"} or {"error"}, with "method" and "spans" (or
// "span_error") when spans were asked for. strftime_now is pinned to 26 Jul 2024.
#include <iostream>
#include <string>

#include "volt/core/check.h"
#include "volt/tokenizers/chat_template.h"

int main() {
  using Json = nlohmann::ordered_json;
  std::string line;
  while (std::getline(std::cin, line)) {
    const Json req = Json::parse(line);
    Json res;
    try {
      volt::ChatTemplate t(req.at("source").get<std::string>(), "template");
      t.set_special_tokens(req.value("special", Json::object()));
      volt::ChatRenderOptions o;
      o.add_generation_prompt = req.value("add_generation_prompt", false);
      o.tools = req.value("tools", Json());
      o.extra = req.value("extra", Json::object());
      std::tm date{};
      date.tm_year = 124;
      date.tm_mon = 6;
      date.tm_mday = 26;
      o.now = date;
      o.limits.max_loop_iterations = 100000;
      const Json messages = req.value("messages", Json::array());
      res["text"] = t.render(messages, o);
      if (req.value("spans", false)) {
        try {
          const volt::ChatRender r = t.render_with_spans(messages, o);
          res["method"] = volt::to_string(r.method);
          res["spans"] = Json::array();
          for (const auto& s : r.spans) res["spans"].push_back({s.begin, s.end, s.message_index});
        } catch (const volt::Error& e) {
          res["span_error"] = e.what();
        }
      }
    } catch (const volt::Error& e) {
      res["error"] = e.what();
    }
    std::cout << res.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
}

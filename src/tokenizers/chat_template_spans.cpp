// The assistant spans of a render (ChatTemplate::render_with_spans): the template's generation
// marks, else the prefix renders, else each reply located in the render. See chat_template.h
// for the rules; the golden script (scripts/chat-template-goldens/make_goldens.py) computes the
// same spans in Python from jinja2's renders, and the tests compare.
#include <algorithm>

#include "jinja/python.h"
#include "volt/core/check.h"
#include "volt/tokenizers/chat_template.h"
#include "volt/tokenizers/unicode.h"

namespace volt {
namespace {

using Json = nlohmann::ordered_json;

const std::vector<std::string>& well_known_end_markers() {
  static const std::vector<std::string> markers = {
      "<|im_end|>",
      "<|eot_id|>",
      "<|eom_id|>",
      "<end_of_turn>",
      "<|end|>",
      "<|endoftext|>",
      "</s>",
      "<\xef\xbd\x9c"
      "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
      "<|return|>",
      "<|end_of_turn|>",
      "<|END_OF_TURN_TOKEN|>",
      "<|EOT|>"};
  return markers;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

Json head(const Json& messages, size_t n) {
  Json out = Json::array();
  for (size_t i = 0; i < n; ++i) out.push_back(messages[i]);
  return out;
}

// The end of s without the Python whitespace at its end, but not before `floor`.
size_t trim_trailing_space(const std::string& s, size_t floor) {
  size_t end = s.size();
  while (end > floor) {
    size_t start = end - 1;
    while (start > floor && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!jinja::py::is_space(unicode::next_code_point(s, i))) break;
    end = start;
  }
  return end;
}

// The length of the longest common prefix of a and b.
size_t common_prefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

std::string strip(const std::string& s) { return jinja::py::strip(s, nullptr, true, true); }

// What of a message's content a template shows: the text stripped (templates trim), and for a
// reply with reasoning inline, the answer after </think> (Qwen3 drops the reasoning of earlier
// turns). List content (parts) gives its text parts, found one after the other.
std::vector<std::vector<std::string>> content_needles(const Json& message) {
  std::vector<std::vector<std::string>> alternatives;
  if (!message.contains("content")) return alternatives;
  const Json& c = message["content"];
  if (c.is_string()) {
    const std::string text = c.get<std::string>();
    if (!strip(text).empty()) alternatives.push_back({strip(text)});
    const size_t think = text.rfind("</think>");
    if (think != std::string::npos) {
      const std::string answer = strip(text.substr(think + 8));
      if (!answer.empty()) alternatives.push_back({answer});
    }
  } else if (c.is_array()) {
    std::vector<std::string> parts;
    for (const auto& part : c) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        const std::string t = strip(part["text"].get<std::string>());
        if (!t.empty()) parts.push_back(t);
      }
    }
    if (!parts.empty()) alternatives.push_back(parts);
  }
  return alternatives;
}

// The first occurrence of all parts in order from `from`: {begin of the first, end of the last}.
std::optional<std::pair<size_t, size_t>> find_parts(const std::string& text,
                                                    const std::vector<std::string>& parts,
                                                    size_t from) {
  size_t begin = std::string::npos, pos = from;
  for (const auto& p : parts) {
    const size_t at = text.find(p, pos);
    if (at == std::string::npos) return std::nullopt;
    if (begin == std::string::npos) begin = at;
    pos = at + p.size();
  }
  return std::make_pair(begin, pos);
}

// The first occurrence of the parts from `from` that only whitespace separates from an
// end-of-turn marker or the end of the text: where a reply ends, not a prompt quoting it.
std::optional<std::pair<size_t, size_t>> find_reply(const std::string& text,
                                                    const std::vector<std::string>& parts,
                                                    size_t from,
                                                    const std::vector<std::string>& markers) {
  while (true) {
    const auto found = find_parts(text, parts, from);
    if (!found) return std::nullopt;
    size_t rest = found->second;
    while (rest < text.size()) {
      size_t next = rest;
      if (!jinja::py::is_space(unicode::next_code_point(text, next))) break;
      rest = next;
    }
    if (rest == text.size()) return found;
    for (const auto& m : markers) {
      if (!m.empty() && text.compare(rest, m.size(), m) == 0) return found;
    }
    from = found->first + 1;
  }
}

}  // namespace

ChatRender ChatTemplate::render_with_spans(const Json& messages,
                                           const ChatRenderOptions& options) const {
  ChatRender r;
  if (has_generation_marks()) {
    std::vector<std::pair<size_t, size_t>> marks;
    r.text = render_checked(messages, options, &marks);
    for (const auto& [b, e] : marks) r.spans.push_back({b, e, -1});
    r.method = SpanMethod::GenerationMarks;
    return r;
  }
  r.text = render(messages, options);
  std::vector<size_t> assistants;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].contains("role") && messages[i]["role"] == "assistant") assistants.push_back(i);
  }
  if (assistants.empty()) return r;

  ChatRenderOptions prompt_options = options, turn_options = options;
  prompt_options.add_generation_prompt = true;
  turn_options.add_generation_prompt = false;
  const auto try_render = [&](size_t n, const ChatRenderOptions& o) -> std::optional<std::string> {
    try {
      return render(head(messages, n), o);
    } catch (const Error&) {
      return std::nullopt;  // a template may refuse a partial conversation
    }
  };

  // 2. Prefix renders.
  std::vector<AssistantSpan> spans;
  bool prefix_ok = true;
  for (const size_t i : assistants) {
    const auto prompt = try_render(i, prompt_options);
    const auto turn = try_render(i + 1, turn_options);
    if (!prompt || !turn || !starts_with(r.text, *turn) || !starts_with(*turn, *prompt) ||
        turn->size() <= prompt->size()) {
      prefix_ok = false;
      break;
    }
    spans.push_back(
        {prompt->size(), trim_trailing_space(*turn, prompt->size()), static_cast<int64_t>(i)});
  }
  if (prefix_ok) {
    r.spans = std::move(spans);
    r.method = SpanMethod::PrefixRender;
    return r;
  }

  // 3. Content search.
  std::vector<std::string> markers = options.end_of_turn_markers;
  if (markers.empty()) {
    if (special_tokens_.contains("eos_token") && special_tokens_["eos_token"].is_string()) {
      markers.push_back(special_tokens_["eos_token"].get<std::string>());
    }
    for (const auto& m : well_known_end_markers()) markers.push_back(m);
  }
  r.spans.clear();
  size_t cursor = 0;
  for (size_t k = 0; k < assistants.size(); ++k) {
    const size_t i = assistants[k];
    size_t begin = cursor;
    bool anchored = false;
    const auto prompt = try_render(i, prompt_options);
    const auto before = try_render(i, turn_options);
    if (prompt && starts_with(r.text, *prompt) && prompt->size() >= cursor) {
      begin = prompt->size();
      anchored = true;
    } else if (prompt && before && starts_with(r.text, *before) && starts_with(*prompt, *before) &&
               before->size() >= cursor) {
      // The render agrees with the turns before and with the generation prompt's first lines:
      // the reply starts after them (Qwen3 without thinking: the render has no empty think block
      // where the generation prompt has one).
      const size_t common = common_prefix(*prompt, r.text);
      const size_t newline = r.text.rfind('\n', common == 0 ? 0 : common - 1);
      if (newline != std::string::npos && newline >= before->size()) {
        begin = newline + 1;
        anchored = true;
      }
    }
    size_t content_end = begin;
    const auto needles = content_needles(messages[i]);
    if (!needles.empty()) {
      std::optional<std::pair<size_t, size_t>> found;
      for (const auto& parts : needles) {
        // Without an anchor the reply must be followed by its end of turn, lest a prompt that
        // quotes it be taken for it.
        found =
            anchored ? find_parts(r.text, parts, begin) : find_reply(r.text, parts, begin, markers);
        if (found) break;
      }
      VOLT_CHECK(found, "[chat_template] ", name_,
                 ": cannot locate the content of assistant message ", i,
                 " in the render (the template changes it beyond trimming); give the template {% "
                 "generation %} marks");
      if (!anchored) begin = found->first;
      content_end = found->second;
    } else {
      VOLT_CHECK(
          anchored, "[chat_template] ", name_, ": cannot locate assistant message ", i,
          " in the render: it has no text content and its prompt is not a prefix of the render");
    }
    // The turn ends at the first end-of-turn marker after the content, before the next
    // message's content starts.
    size_t boundary = r.text.size();
    if (i + 1 < messages.size()) {
      for (const auto& parts : content_needles(messages[i + 1])) {
        if (const auto next = find_parts(r.text, parts, content_end)) {
          boundary = next->first;
          break;
        }
      }
    }
    size_t end = content_end;
    size_t best = std::string::npos;
    for (const auto& m : markers) {
      if (m.empty()) continue;
      const size_t at = r.text.find(m, content_end);
      if (at != std::string::npos && at + m.size() <= boundary &&
          (best == std::string::npos || at < best || (at == best && at + m.size() > end))) {
        best = at;
        end = at + m.size();
      }
    }
    r.spans.push_back({begin, end, static_cast<int64_t>(i)});
    cursor = end;
  }
  r.method = SpanMethod::ContentSearch;
  return r;
}

}  // namespace volt

#include "volt/data/sft_tokenize.h"

#include <algorithm>

#include "volt/core/check.h"
#include "volt/tokenizers/span_mask.h"

namespace volt::data {

namespace {

// One line: template errors may quote several lines of the template.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

int64_t TokenizedConversation::target_tokens() const {
  int64_t n = 0;
  for (size_t t = 1; t < loss_mask.size(); ++t) n += loss_mask[t];
  return n;
}

AssistantTokens assistant_tokens(const Encoding& encoding,
                                 const std::vector<AssistantSpan>& spans) {
  AssistantTokens out;
  out.mask.assign(encoding.ids.size(), 0);
  for (const auto& span : spans) {
    const auto one = token_mask_for_spans(encoding.offsets, {ByteSpan{span.begin, span.end}});
    size_t end = 0;
    for (size_t t = 0; t < one.size(); ++t) {
      if (one[t]) out.mask[t] = 1, end = t + 1;
    }
    if (end > 0) out.turn_ends.push_back(end);
  }
  std::sort(out.turn_ends.begin(), out.turn_ends.end());
  return out;
}

TokenizedConversation tokenize_conversation(const Conversation& conversation,
                                            const ChatTemplate& chat_template,
                                            const Tokenizer& tokenizer,
                                            const SftTokenizeOptions& options) {
  ChatRender render;
  try {
    render = chat_template.render_with_spans(conversation.messages, options.render);
  } catch (const Error& e) {
    VOLT_FAIL("[sft] ", conversation.source, ": the chat template failed: ", one_line(e.what()));
  }
  EncodeOptions encode;
  encode.add_special_tokens = false;  // apply_chat_template(tokenize=True): the template has BOS
  const Encoding enc = tokenizer.encode_with_offsets(render.text, encode);
  AssistantTokens assistant = assistant_tokens(enc, render.spans);
  VOLT_CHECK(!assistant.turn_ends.empty(), "[sft] ", conversation.source,
             ": no token of the assistant's replies survives tokenization (empty replies?)");

  TokenizedConversation out;
  out.ids = enc.ids;
  out.loss_mask =
      options.train_on_inputs ? std::vector<uint8_t>(enc.ids.size(), 1) : std::move(assistant.mask);
  out.messages = static_cast<int64_t>(conversation.messages.size());
  out.assistant_turns = static_cast<int64_t>(assistant.turn_ends.size());
  out.tokens_before_truncation = static_cast<int64_t>(out.ids.size());
  out.span_method = render.method;

  const auto max_len = static_cast<size_t>(options.max_length);
  if (options.max_length > 0 && out.ids.size() > max_len) {
    // Keep whole turns: cut after the last reply that ends within max_length.
    size_t cut = 0;
    int64_t kept = 0;
    for (size_t end : assistant.turn_ends) {
      if (end <= max_len) cut = end, ++kept;
    }
    if (cut == 0) {  // the first reply alone is too long: keep what fits of it
      cut = max_len;
      kept = 1;
      out.cut_inside_turn = true;
    }
    out.ids.resize(cut);
    out.loss_mask.resize(cut);
    out.assistant_turns = kept;
    out.truncated = true;
  }
  return out;
}

}  // namespace volt::data

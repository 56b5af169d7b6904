// A conversation to training tokens: rendered by the tokenizer's chat template exactly as
// transformers' apply_chat_template renders it, tokenized as apply_chat_template(tokenize=True)
// tokenizes it (add_special_tokens off: the template writes BOS itself), and a loss mask that is
// 1 on the assistant's tokens (each reply through its end-of-turn token, which teaches the model
// to stop) and 0 on everything else: system prompts, user turns, role headers.
//   loss = (1/|A|) sum_{t in A} -log p(x_t | x_<t),  A = the tokens with mask 1
// No LibTorch here (part of the volt_text library).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "volt/data/sft_records.h"
#include "volt/tokenizers/chat_template.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::data {

struct SftTokenizeOptions {
  /// Loss on every token (prompts too), as axolotl's train_on_inputs: the model also learns to
  /// write the user's side.
  bool train_on_inputs = false;
  /// Tokens a conversation may keep (0: all). A longer one is cut after its last assistant turn
  /// that fits, so that only whole turns remain; when even the first reply does not fit, it is
  /// cut at max_length inside that reply.
  int64_t max_length = 0;
  /// Template variables (enable_thinking, ...) and the end-of-turn markers for the span search.
  ChatRenderOptions render;
};

struct TokenizedConversation {
  std::vector<int64_t> ids;
  std::vector<uint8_t> loss_mask;  // 1: ids[t] is a target (its logit at t - 1 is scored)
  int64_t messages = 0;            // messages rendered
  int64_t assistant_turns = 0;     // replies kept (after truncation)
  int64_t tokens_before_truncation = 0;
  bool truncated = false;        // tokens were dropped
  bool cut_inside_turn = false;  // even the first reply did not fit: part of it was dropped
  SpanMethod span_method = SpanMethod::None;
  int64_t target_tokens() const;
};

/// Renders, tokenizes and masks one conversation. An error of the template (raise_exception, a
/// reply it cannot place) is a volt::Error naming the conversation's source.
TokenizedConversation tokenize_conversation(const Conversation& conversation,
                                            const ChatTemplate& chat_template,
                                            const Tokenizer& tokenizer,
                                            const SftTokenizeOptions& options = {});

/// The mask of tokens that lie in the render's assistant spans, and, for each span, the index
/// one past its last token (where a cut keeps that turn whole).
struct AssistantTokens {
  std::vector<uint8_t> mask;
  std::vector<size_t> turn_ends;
};
AssistantTokens assistant_tokens(const Encoding& encoding, const std::vector<AssistantSpan>& spans);

}  // namespace volt::data

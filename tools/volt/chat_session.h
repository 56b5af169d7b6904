// A conversation with a model, as `volt chat` and `volt eval` hold it: the messages rendered by
// the model's chat template with the generation prompt, the reply sampled until an end-of-turn
// token, and a KV cache kept across turns. Each turn re-renders the whole conversation (templates
// may rewrite earlier turns, as Qwen3 drops old reasoning) and feeds the model only the tokens
// after the longest prefix already in the cache: a turn costs its new tokens.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volt/models/causal_lm.h"
#include "volt/models/generate.h"
#include "volt/tokenizers/chat_template.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

struct ChatReply {
  std::string text;               // the reply, without its end-of-turn token
  std::vector<int64_t> ids;       // its ids, without the end-of-turn token
  int64_t stop_id = -1;           // the end-of-turn id it ended with; -1: cut by length
  int64_t prompt_tokens = 0;      // the rendered conversation's tokens
  int64_t fed_prompt_tokens = 0;  // of those, what the model had to read (the rest was cached)
};

class ChatSession {
 public:
  /// The model, its tokenizer and template (from the checkpoint's tokenizer_config.json).
  /// gen's sampling options apply to every reply; its eos / stop ids are replaced by
  /// end_of_turn_ids.
  ChatSession(CausalLM model, std::shared_ptr<Tokenizer> tokenizer, ChatTemplate chat_template,
              GenerationOptions gen, ChatRenderOptions render = {});

  /// The assistant's reply to `messages` (the last one the user's). on_text receives the reply
  /// as it is sampled, in pieces that end on whole UTF-8 characters.
  ChatReply reply(const nlohmann::ordered_json& messages,
                  const std::function<void(const std::string&)>& on_text = {});
  /// Forgets the cache (the next reply reads its whole prompt).
  void reset();
  /// The ids a reply stops at: the generation config's eos_token_id list, the tokenizer's EOS
  /// and the end-of-turn tokens of the common templates that the vocabulary has.
  const std::vector<int64_t>& end_of_turn_ids() const { return stop_ids_; }
  const ChatTemplate& chat_template() const { return template_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  torch::Tensor feed(const std::vector<int64_t>& ids);  // logits (V) after the last id
  CausalLM model_;
  std::shared_ptr<Tokenizer> tokenizer_;
  ChatTemplate template_;
  GenerationOptions gen_;
  ChatRenderOptions render_;
  std::vector<int64_t> stop_ids_;
  nn::KVCache cache_;
  std::vector<int64_t> cached_;  // the ids whose keys and values are in the cache
  uint64_t turn_ = 0;            // seeds each turn's sampler
};

/// The model, tokenizer and chat template of --checkpoint / --adapter, as a session. `who`
/// names the command in errors ("[chat]").
ChatSession open_chat_session(const std::string& checkpoint, std::string adapter,
                              const GenerationOptions& gen, const ChatRenderOptions& render,
                              const std::string& who);

/// The length of the longest prefix of s that ends on a whole UTF-8 character.
size_t complete_utf8_length(const std::string& s);

}  // namespace volt::cli

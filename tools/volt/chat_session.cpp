#include "chat_session.h"

#include <algorithm>

#include "model_loading.h"
#include "volt/core/check.h"

namespace volt::cli {

namespace {

// End-of-turn tokens of the common chat formats (Llama 3, ChatML / Qwen, Gemma, Phi-3).
constexpr const char* kEndOfTurnTokens[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>",
                                            "<|eom_id|>"};

}  // namespace

size_t complete_utf8_length(const std::string& s) {
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 1;
    return back < need ? s.size() - back : s.size();
  }
  return s.size();
}

ChatSession::ChatSession(CausalLM model, std::shared_ptr<Tokenizer> tokenizer,
                         ChatTemplate chat_template, GenerationOptions gen,
                         ChatRenderOptions render)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      template_(std::move(chat_template)),
      gen_(std::move(gen)),
      render_(std::move(render)),
      cache_(model_->make_cache(1, model_->config().block_size)) {
  model_->eval();
  stop_ids_ = model_->config().eos_token_ids;
  if (auto eos = tokenizer_->eos_id()) stop_ids_.push_back(*eos);
  for (const char* t : kEndOfTurnTokens) {
    if (auto id = tokenizer_->token_to_id(t)) stop_ids_.push_back(*id);
  }
  std::sort(stop_ids_.begin(), stop_ids_.end());
  stop_ids_.erase(std::unique(stop_ids_.begin(), stop_ids_.end()), stop_ids_.end());
  VOLT_CHECK(!stop_ids_.empty(), "[chat] ", tokenizer_->source(),
             ": no end-of-turn token (no eos_token, no generation_config eos_token_id): a reply "
             "would never end");
  gen_.eos_id.reset();
  gen_.stop_ids.clear();
  render_.add_generation_prompt = true;
}

void ChatSession::reset() {
  cache_.length = 0;
  cached_.clear();
}

torch::Tensor ChatSession::feed(const std::vector<int64_t>& ids) {
  auto t = torch::tensor(ids, torch::kLong).unsqueeze(0).to(model_->embedding_weight().device());
  auto logits = model_->forward(t, {}, &cache_);  // (1, T, V)
  cached_.insert(cached_.end(), ids.begin(), ids.end());
  return logits.index({0, -1}).cpu();
}

ChatReply ChatSession::reply(const nlohmann::ordered_json& messages,
                             const std::function<void(const std::string&)>& on_text) {
  torch::NoGradGuard no_grad;
  const std::string text = template_.render(messages, render_);
  EncodeOptions encode;
  encode.add_special_tokens = false;  // the template writes BOS itself
  const auto ids = tokenizer_->encode(text, encode);
  VOLT_CHECK(!ids.empty(), "[chat] the conversation renders to no tokens");
  const int64_t capacity = cache_.capacity;
  VOLT_CHECK(static_cast<int64_t>(ids.size()) < capacity, "[chat] the conversation is ", ids.size(),
             " tokens, the model's context ", capacity, ": /reset, or a shorter system prompt");
  // Reuse the cached prefix; at least the last token is fed again (its logits start the reply).
  size_t keep = 0;
  while (keep < cached_.size() && keep < ids.size() && cached_[keep] == ids[keep]) ++keep;
  keep = std::min(keep, ids.size() - 1);
  cache_.length = static_cast<int64_t>(keep);
  cached_.resize(keep);

  ChatReply r;
  r.prompt_tokens = static_cast<int64_t>(ids.size());
  r.fed_prompt_tokens = static_cast<int64_t>(ids.size() - keep);
  auto logits =
      feed(std::vector<int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end()));
  auto rng = at::make_generator<at::CPUGeneratorImpl>(gen_.seed + turn_++);
  size_t shown = 0;
  for (int64_t i = 0; i < gen_.max_new_tokens; ++i) {
    const int64_t next = sample_next(logits, gen_, rng, cached_);
    if (std::binary_search(stop_ids_.begin(), stop_ids_.end(), next)) {
      r.stop_id = next;
      break;
    }
    r.ids.push_back(next);
    if (on_text) {
      const std::string so_far = tokenizer_->decode(r.ids);
      const size_t end = complete_utf8_length(so_far);
      if (end > shown) on_text(so_far.substr(shown, end - shown)), shown = end;
    }
    if (cache_.length + 1 >= capacity) break;  // the context is full
    logits = feed({next});
  }
  r.text = tokenizer_->decode(r.ids);
  if (on_text && r.text.size() > shown) on_text(r.text.substr(shown));
  return r;
}

ChatSession open_chat_session(const std::string& checkpoint, std::string adapter,
                              const GenerationOptions& gen, const ChatRenderOptions& render,
                              const std::string& who) {
  const std::string base = base_model_dir(checkpoint, adapter, who);
  auto model = load_model(base, adapter);
  const std::string tok_dir = tokenizer_dir(base, adapter);
  auto tokenizer = load_tokenizer(tok_dir);
  GenerationOptions g = gen;
  g.vocab_limit = tokenizer->vocab_size();  // padded rows of the head are never drawn
  return ChatSession(model, tokenizer, ChatTemplate::from_tokenizer_config(tok_dir), g, render);
}

}  // namespace volt::cli

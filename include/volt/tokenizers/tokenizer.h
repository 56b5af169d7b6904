// One interface for every tokenizer volt knows: Hugging Face tokenizer.json (byte-level BPE,
// SentencePiece-style BPE, WordPiece), GPT-2's vocab.json + merges.txt, tiktoken ranks,
// SentencePiece .model files and character level. Whatever the format, encode() must give the
// ids the format's reference implementation gives: one wrong id silently ruins a fine-tune.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace volt {

/// A token outside the model's vocabulary proper: special tokens (<|endoftext|>, <s>) and tokens a
/// user added. Matched in the text before the model sees it, as Hugging Face does.
struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool special = false;
  bool lstrip = false;       // swallow whitespace on the left
  bool rstrip = false;       // swallow whitespace on the right
  bool single_word = false;  // match only as a whole word
  bool normalized = false;   // match against the normalized text (else the raw text)
};

struct EncodeOptions {
  bool add_bos = false;  // prepend bos_id() (an error if the tokenizer has none)
  bool add_eos = false;  // append eos_id() (an error if the tokenizer has none)
  /// Apply the tokenizer's own post-processor (Hugging Face's add_special_tokens=True: e.g. Llama
  /// 3's TemplateProcessing prepends <|begin_of_text|>). Off by default: the raw text's ids only.
  bool add_special_tokens = false;
  /// Recognise added/special tokens written in the text ("<|endoftext|>" -> its id), as Hugging
  /// Face does. Off: they are ordinary text (tiktoken's encode_ordinary).
  bool parse_special = true;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Text (UTF-8; invalid UTF-8 is an error naming the byte offset) to ids.
  std::vector<int64_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  /// Encodes many texts on `threads` threads (0: every core); results in input order.
  std::vector<std::vector<int64_t>> encode_batch(const std::vector<std::string>& texts,
                                                 const EncodeOptions& options = {},
                                                 int threads = 0) const;
  /// Ids to text. Ids out of range are an error naming them.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
  virtual std::string id_to_token(int64_t id) const = 0;
  virtual std::optional<int64_t> eos_id() const { return std::nullopt; }
  virtual std::optional<int64_t> bos_id() const { return std::nullopt; }
  virtual std::optional<int64_t> pad_id() const { return std::nullopt; }
  /// Special and user-added tokens, in id order.
  virtual std::vector<AddedToken> added_tokens() const { return {}; }
  /// Writes the tokenizer's files into dir (a Hugging Face tokenizer.json where possible).
  virtual void save(const std::string& dir) const = 0;
  /// The format and model, e.g. "char", "hf-bpe", "hf-wordpiece", "tiktoken", "sentencepiece-bpe".
  virtual std::string kind() const = 0;

 protected:
  /// Appends the ids of text (already checked to be valid UTF-8): everything but BOS/EOS.
  virtual void encode_into(std::string_view text, const EncodeOptions& options,
                           std::vector<int64_t>& out) const = 0;
};

/// Loads a tokenizer from a file or a directory holding one. Files: tokenizer.json (Hugging Face),
/// vocab.json + merges.txt (GPT-2), *.tiktoken (tiktoken ranks), *.model (SentencePiece).
/// A directory is searched in that order; tokenizer_config.json beside it names BOS/EOS.
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path);

/// Throws a volt::Error naming `context` and the byte offset of the first invalid UTF-8 sequence.
void check_utf8(std::string_view text, const std::string& context = "text");

}  // namespace volt

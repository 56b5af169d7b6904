// The stages of a Hugging Face tokenizer.json pipeline, each built from its JSON object:
//   text -> added tokens split out -> Normalizer -> PreTokenizer (words) -> Model (ids per word)
//        -> post-processor (BOS/EOS template)
//   ids  -> tokens -> Decoder -> text
// Each stage follows the `tokenizers` crate's semantics exactly; a type or option we do not
// implement is an error naming it, never a silent approximation.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace volt::hf {

using json = nlohmann::json;

/// A non-owning callable reference (cheaper than std::function on the per-word path).
template <typename Fn>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F>
  FunctionRef(F&& f)  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, Args... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...);
        }) {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

/// Receives one word (a piece of the pre-tokenized text) at a time.
using WordSink = FunctionRef<void(std::string_view)>;

// ------------------------------------------------------------ alignment (for encode_with_offsets)
/// The input bytes [begin, end) one byte of a rewritten text came from. A byte the rewrite
/// inserted (a prepended "▁") has begin == end: the input position it was inserted at.
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
};

/// A rewritten text and, for each of its bytes, the input bytes it came from.
struct AlignedText {
  std::string text;
  std::vector<Span> from;  // from.size() == text.size()
  /// Appends bytes made from the input bytes [b, e) (b == e: inserted at b).
  void add(std::string_view bytes, size_t b, size_t e) {
    text += bytes;
    from.insert(from.end(), bytes.size(), Span{static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
  }
  /// Appends input bytes unchanged; `input` starts at input offset b.
  void copy(std::string_view input, size_t b) {
    text += input;
    for (size_t k = 0; k < input.size(); ++k) {
      from.push_back(Span{static_cast<uint32_t>(b + k), static_cast<uint32_t>(b + k + 1)});
    }
  }
};

/// Where the bytes [s.begin, s.end) of a rewritten text came from, given each byte's source
/// (`from`, n bytes) and where the input ends (for an empty span at the very end).
inline Span through(Span s, const Span* from, size_t n, uint32_t input_end) {
  if (s.begin < s.end) return {from[s.begin].begin, from[s.end - 1].end};
  const uint32_t at = s.begin < n ? from[s.begin].begin : input_end;
  return {at, at};
}

/// second's spans point into first.text; the result's point into what first was made from
/// (input_size bytes).
AlignedText compose(const AlignedText& first, AlignedText second, size_t input_size);

/// Receives one word and, for each of its bytes, where in the split text it came from.
using AlignedWordSink = FunctionRef<void(std::string_view word, const Span* from)>;

// ---------------------------------------------------------------- normalizers (normalizers.cpp)
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
  /// normalize() with each output byte's source in text, written to `out` (empty on entry).
  virtual void normalize_aligned(std::string_view text, AlignedText& out) const = 0;
};
/// NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, StripAccents, BertNormalizer,
/// Precompiled (an error unless its charsmap is empty), Sequence. `where` names the file for
/// errors.
std::unique_ptr<Normalizer> normalizer_from_json(const json& j, const std::string& where);

// ---------------------------------------------------------- pre-tokenizers (pre_tokenizers.cpp)
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  /// Splits `text` into words, in order, calling sink for each. `first` is true when text is the
  /// first piece of the whole input (Metaspace's prepend_scheme "first" needs it).
  virtual void split(std::string_view text, bool first, WordSink sink) const = 0;
  /// split() with, for each byte of each word, the bytes of `text` it came from. The default
  /// serves every stage whose words are pieces of text; a stage that rewrites text overrides it.
  virtual void split_aligned(std::string_view text, bool first, AlignedWordSink sink) const;
  /// True when the words this stage emits are raw bytes the model must read through GPT-2's
  /// byte-to-unicode alphabet (the ByteLevel pre-tokenizer). The model then does that mapping
  /// itself, which saves building the mapped string for every word.
  virtual bool byte_level() const { return false; }
};
/// ByteLevel, Split, Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Digits,
/// Punctuation, Sequence.
std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const json& j, const std::string& where);

// ----------------------------------------------------------------------- decoders (decoders.cpp)
class Decoder {
 public:
  virtual ~Decoder() = default;
  /// The `tokenizers` crate's decode_chain: tokens in, tokens out; the caller joins the result.
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
};
/// ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder, Sequence.
std::unique_ptr<Decoder> decoder_from_json(const json& j, const std::string& where);

// ---------------------------------------------------------------------------------- models
class Model {
 public:
  virtual ~Model() = default;
  /// Appends the ids of one word. `byte_level`: the word is raw bytes to be read through the
  /// byte-level alphabet (see PreTokenizer::byte_level).
  virtual void tokenize(std::string_view word, bool byte_level,
                        std::vector<int64_t>& out) const = 0;
  /// tokenize() with each token's bytes in the word (for a byte-level word, its raw bytes).
  virtual void tokenize_spans(std::string_view word, bool byte_level, std::vector<int64_t>& ids,
                              std::vector<Span>& spans) const = 0;
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  /// The token's string as the vocabulary spells it (byte-level alphabet, ▁, ## ...); nullptr when
  /// the id is not in the model's vocabulary.
  virtual const std::string* id_to_token(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
  /// The model's JSON object, as tokenizer.json stores it.
  virtual json to_json() const = 0;
};
/// BPE (bpe_model.cpp) and WordPiece (wordpiece_model.cpp).
std::unique_ptr<Model> model_from_json(const json& j, const std::string& where);
std::unique_ptr<Model> bpe_model_from_json(const json& j, const std::string& where);
std::unique_ptr<Model> wordpiece_model_from_json(const json& j, const std::string& where);

// ------------------------------------------------------------ byte-level alphabet (byte_level.cpp)
/// GPT-2's bytes_to_unicode: each byte's printable stand-in code point (e.g. ' ' -> 'Ġ' U+0120).
uint32_t byte_to_unicode(uint8_t b);
/// The inverse: -1 when cp is not in the alphabet.
int byte_from_unicode(uint32_t cp);
/// Maps raw bytes to the alphabet's UTF-8 string ("hello world" -> "helloĠworld").
std::string bytes_to_alphabet(std::string_view bytes);
/// For each byte of an alphabet string, the raw byte its character stands for (both bytes of
/// "Ġ" come from the one space), to carry spans over the alphabet back to the raw bytes.
std::vector<Span> alphabet_spans(std::string_view alphabet_text);

}  // namespace volt::hf

// Encodes and decodes as Google's sentencepiece does, rule for rule: normalizer.cc (Normalize),
// bpe_model.cc (the merge loop), unigram_model.cc (EncodeOptimized, the Viterbi search),
// char_model.cc, word_model.cc, model_interface.cc (InitializePieces' checks) and
// sentencepiece_processor.cc (PopulateSentencePieceText's byte fallback and <unk> merging, and
// Decode). The model file is parsed in sentencepiece_model.cpp.
#include <algorithm>
#include <array>
#include <cfloat>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer_config.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/sentencepiece.h"

namespace volt {

namespace {

using spm::ModelType;
using spm::PieceType;

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";      // U+2581, sentencepiece's "▁"
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// util.h OneCharLen: the length a lead byte announces (1 for a stray continuation byte).
inline size_t one_char_len(char c) {
  static constexpr unsigned char kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<unsigned char>(c) >> 4];
}

// A character's bytes (at most 4) packed into one integer.
inline uint32_t char_key(const char* p, size_t n) {
  uint32_t k = 0;
  for (size_t i = 0; i < n; ++i) k = (k << 8) | static_cast<unsigned char>(p[i]);
  return k;
}

inline bool is_trail(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// util.cc DecodeUTF8 + IsValidDecodeUTF8: {valid, bytes consumed}. Invalid input consumes 1 byte.
std::pair<bool, size_t> decode_utf8(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i])); };
  const auto valid_cp = [](uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); };
  const size_t len = s.size();
  if (b(0) < 0x80) return {true, 1};
  if (len >= 2 && (b(0) & 0xE0) == 0xC0) {
    const uint32_t cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    if (is_trail(s[1]) && cp >= 0x80 && valid_cp(cp)) return {true, 2};
  } else if (len >= 3 && (b(0) & 0xF0) == 0xE0) {
    const uint32_t cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    if (is_trail(s[1]) && is_trail(s[2]) && cp >= 0x800 && valid_cp(cp)) return {true, 3};
  } else if (len >= 4 && (b(0) & 0xF8) == 0xF0) {
    const uint32_t cp =
        ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    if (is_trail(s[1]) && is_trail(s[2]) && is_trail(s[3]) && cp >= 0x10000 && valid_cp(cp)) {
      return {true, 4};
    }
  }
  return {false, 1};
}

// model_interface.cc ByteToPiece / PieceToByte: "<0x0A>" <-> 10 (upper-case hex, two digits).
std::string byte_piece(unsigned char b) {
  static const char* const kHex = "0123456789ABCDEF";
  return std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
}
int piece_to_byte(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = p[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// A byte-keyed trie: the user-defined-symbol prefix matcher and the unigram piece index (both a
// Darts double array in sentencepiece; only the matches matter, not the layout).
class ByteTrie {
 public:
  ByteTrie() : values_(1, -1) {}
  bool empty() const { return values_.size() == 1; }

  void insert(std::string_view key, int32_t value) {
    uint32_t node = 0;
    for (char c : key) {
      const uint64_t k = edge(node, c);
      auto it = next_.find(k);
      if (it == next_.end()) {
        it = next_.emplace(k, static_cast<uint32_t>(values_.size())).first;
        values_.push_back(-1);
      }
      node = it->second;
    }
    values_[node] = value;
  }

  /// Calls f(length, value) for each key that is a prefix of s, shortest first.
  template <typename F>
  void prefixes(std::string_view s, F&& f) const {
    uint32_t node = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto it = next_.find(edge(node, s[i]));
      if (it == next_.end()) return;
      node = it->second;
      if (values_[node] >= 0) f(i + 1, values_[node]);
    }
  }

  /// The length of the longest key that is a prefix of s (0: none).
  size_t longest_prefix(std::string_view s) const {
    size_t best = 0;
    prefixes(s, [&](size_t len, int32_t) { best = len; });
    return best;
  }

 private:
  static uint64_t edge(uint32_t node, char c) {
    return (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
  }
  std::unordered_map<uint64_t, uint32_t> next_;
  std::vector<int32_t> values_;
};

// normalizer.cc Normalizer: the charsmap rules, then the whitespace rules.
class Normalizer {
 public:
  Normalizer(const spm::NormalizerSpec& spec, bool treat_ws_as_suffix, const ByteTrie* matcher,
             const std::string& file)
      : spec_(spec), suffix_(treat_ws_as_suffix), matcher_(matcher) {
    if (!spec.precompiled_charsmap.empty()) charsmap_.emplace(spec.precompiled_charsmap, file);
    plain_ = !charsmap_ && (matcher_ == nullptr || matcher_->empty());
  }

  std::string normalize(std::string_view input) const { return run<false>(input, nullptr); }
  /// normalize() with, for each output byte, the input bytes it came from (sentencepiece's
  /// norm_to_orig): a rule's output comes from the bytes the rule consumed; the dummy prefix
  /// from none (an empty span where the kept text starts).
  std::string normalize(std::string_view input, std::vector<hf::Span>& from) const {
    from.clear();
    return run<true>(input, &from);
  }

 private:
  template <bool kAlign>
  std::string run(std::string_view input, std::vector<hf::Span>* from) const {
    std::string out;
    if (input.empty()) return out;
    const size_t total = input.size();
    // Output bytes [from->size(), out.size()) came from the input bytes [b, e).
    const auto came_from = [&](size_t b, size_t e) {
      if constexpr (kAlign) {
        from->resize(out.size(), hf::Span{static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
      }
    };
    // Leading whitespace goes when remove_extra_whitespaces is set.
    if (spec_.remove_extra_whitespaces) {
      while (!input.empty()) {
        const auto [sp, n] = prefix(input);
        if (sp != " ") break;
        input.remove_prefix(n);
      }
      if (input.empty()) return out;
    }
    out.reserve(input.size() + input.size() / 2 + 8);
    const auto add_ws = [&] {
      out += spec_.escape_whitespaces ? kSpaceSymbol : " ";
      const size_t at = total - input.size();
      came_from(at, at);
    };
    if (!suffix_ && spec_.add_dummy_prefix) add_ws();
    bool is_prev_space = spec_.remove_extra_whitespaces;
    while (!input.empty()) {
      auto [sp, n] = prefix(input);
      while (is_prev_space && !sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
      if (!sp.empty()) {
        for (char c : sp) {
          if (c == ' ' && spec_.escape_whitespaces) {
            out += kSpaceSymbol;
          } else {
            out += c;
          }
        }
        is_prev_space = sp.back() == ' ';
        const size_t at = total - input.size();
        came_from(at, at + n);
      }
      input.remove_prefix(n);
      if (!spec_.remove_extra_whitespaces) is_prev_space = false;
    }
    if (spec_.remove_extra_whitespaces) {
      const std::string_view space = spec_.escape_whitespaces ? kSpaceSymbol : " ";
      while (out.size() >= space.size() &&
             std::string_view(out).substr(out.size() - space.size()) == space) {
        out.resize(out.size() - space.size());
      }
      if constexpr (kAlign) from->resize(out.size());
    }
    if (suffix_ && spec_.add_dummy_prefix) add_ws();
    return out;
  }

  // NormalizePrefix: {replacement, input bytes consumed}. User-defined symbols pass unchanged,
  // then the longest charsmap rule applies, else one character is copied (a malformed byte
  // becomes U+FFFD).
  std::pair<std::string_view, size_t> prefix(std::string_view input) const {
    if (plain_ && static_cast<unsigned char>(input[0]) < 0x80) return {input.substr(0, 1), 1};
    if (matcher_ != nullptr && !matcher_->empty()) {
      const size_t n = matcher_->longest_prefix(input);
      if (n > 0) return {input.substr(0, n), n};
    }
    if (charsmap_) {
      const auto [n, replacement] = charsmap_->longest_match(input);
      if (n > 0) return {replacement, n};
    }
    const auto [valid, n] = decode_utf8(input);
    if (!valid) return {kReplacementChar, 1};
    return {input.substr(0, n), n};
  }

  spm::NormalizerSpec spec_;
  bool suffix_;
  const ByteTrie* matcher_;
  std::optional<spm::PrecompiledCharsMap> charsmap_;
  bool plain_ = false;
};

// One piece of a model's segmentation: a span of the normalized text and its id.
struct Tok {
  uint32_t begin;
  uint32_t len;
  int32_t id;
};

}  // namespace

struct SentencePieceTokenizer::Impl {
  std::string file;
  std::string bytes;  // the original .model, written back by save()
  spm::ModelProto m;
  // model_interface.cc: NORMAL, USER_DEFINED and UNUSED pieces are the model's vocabulary; the
  // reserved CONTROL, UNKNOWN and BYTE pieces are found only by exact lookup, never by merging.
  std::unordered_map<std::string_view, int32_t> pieces;
  std::unordered_map<std::string_view, int32_t> reserved;
  int32_t unk = -1;
  std::array<int32_t, 256> byte_ids{};
  bool has_unused = false;
  ByteTrie user_defined;  // the PrefixMatcher
  ByteTrie trie;          // unigram: every vocabulary piece
  float min_score = FLT_MAX;
  float max_score = FLT_MIN;  // sic: sentencepiece starts from FLT_MIN, the smallest positive float
  std::optional<Normalizer> normalizer;
  std::optional<Normalizer> denormalizer;
  // BPE: where the normalized text can be cut into independently merged words (see
  // encode_bpe_words): before each "▁" that follows a non-"▁", after each "▁" run, or else
  // between any two characters that no vocabulary piece holds side by side.
  enum class Split { kBigram, kBeforeSpace, kAfterSpace } split = Split::kBigram;
  std::unordered_set<uint64_t> bigrams;  // kBigram: adjacent character pairs inside pieces
  // parse_special: CONTROL and UNKNOWN piece texts, matched in the raw text.
  std::vector<std::pair<std::string_view, int32_t>> specials;
  std::array<bool, 256> special_first{};
  // tokenizer_config.json beside the .model (null: none), and what it and the model say BOS, EOS
  // and add_special_tokens are.
  nlohmann::json config;
  std::optional<int64_t> bos, eos;
  SpecialTokensTemplate tmpl;

  PieceType type(int32_t id) const { return m.pieces[static_cast<size_t>(id)].type; }
  int32_t piece_to_id(std::string_view p) const {
    if (auto it = reserved.find(p); it != reserved.end()) return it->second;
    if (auto it = pieces.find(p); it != pieces.end()) return it->second;
    return unk;
  }

  void init();
  void resolve_special_tokens();
  void encode_model(std::string_view normalized, std::vector<Tok>& out) const;
  void encode_bpe(std::string_view text, uint32_t base, std::vector<Tok>& out) const;
  void encode_bpe_words(std::string_view normalized, std::vector<Tok>& out) const;
  void encode_unigram(std::string_view normalized, std::vector<Tok>& out) const;
  void encode_char(std::string_view normalized, std::vector<Tok>& out) const;
  void encode_word(std::string_view normalized, std::vector<Tok>& out) const;
  template <typename Sink>
  void populate(std::string_view normalized, const std::vector<Tok>& toks, Sink&& sink) const;
  void encode_chunk(std::string_view text, std::vector<int64_t>& out) const;
  // encode_chunk with offsets; text starts at byte `base` of the whole input.
  void encode_chunk_aligned(std::string_view text, size_t base, Encoding& out) const;
  template <typename OnText, typename OnSpecial>
  void split_special(std::string_view text, bool parse_special, OnText on_text,
                     OnSpecial on_special) const;
  std::optional<int64_t> special_id(const std::string& piece) const;
};

// ------------------------------------------------------------------------------------ loading

void SentencePieceTokenizer::Impl::init() {
  const std::string where = "[sentencepiece] " + file + ": ";
  const auto& t = m.trainer_spec;
  VOLT_CHECK(!m.pieces.empty(), where, "the model has no pieces (not a SentencePiece model?)");
  VOLT_CHECK(m.pieces.size() < (1u << 31), where, "too many pieces");
  std::array<bool, 256> byte_found{};
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const auto& p = m.pieces[i];
    const auto id = static_cast<int32_t>(i);
    VOLT_CHECK(!p.text.empty(), where, "piece ", i, " has no text");
    VOLT_CHECK(p.text.size() < 8000, where, "piece ", i, " is ", p.text.size(),
               " bytes (sentencepiece's limit is 8000)");
    VOLT_CHECK(p.text.find('\0') == std::string::npos, where, "piece ", i, " contains a NUL byte");
    const bool normal = p.type == PieceType::kNormal || p.type == PieceType::kUserDefined ||
                        p.type == PieceType::kUnused;
    auto& map = normal ? pieces : reserved;
    const auto [it, fresh] = map.emplace(p.text, id);
    VOLT_CHECK(fresh, where, "piece ", i, " '", p.text, "' is already defined as piece ",
               it->second);
    if (p.type == PieceType::kUserDefined) user_defined.insert(p.text, id);
    if (p.type == PieceType::kUnused) has_unused = true;
    if (p.type == PieceType::kUnknown) {
      VOLT_CHECK(unk < 0, where, "pieces ", unk, " and ", i,
                 " are both UNKNOWN; there must be one");
      unk = id;
    }
    if (p.type == PieceType::kByte) {
      VOLT_CHECK(t.byte_fallback, where, "byte piece ", i, " '", p.text,
                 "' although byte_fallback is off");
      const int b = piece_to_byte(p.text);
      VOLT_CHECK(b >= 0, where, "byte piece ", i, " '", p.text, "' is not of the form <0xXX>");
      byte_found[static_cast<size_t>(b)] = true;
    }
    if (p.type == PieceType::kNormal) {
      min_score = std::min(min_score, p.score);
      max_score = std::max(max_score, p.score);
    }
  }
  VOLT_CHECK(unk >= 0, where, "no UNKNOWN piece (<unk>) is defined");
  if (t.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      VOLT_CHECK(byte_found[static_cast<size_t>(b)], where,
                 "byte_fallback is on but there is no byte piece ",
                 byte_piece(static_cast<unsigned char>(b)));
    }
  }
  for (int b = 0; b < 256; ++b) {
    byte_ids[static_cast<size_t>(b)] = piece_to_id(byte_piece(static_cast<unsigned char>(b)));
  }

  switch (t.model_type) {
    case ModelType::kUnigram:
      for (const auto& [text, id] : pieces) trie.insert(text, id);
      VOLT_CHECK(!pieces.empty(), where, "the unigram model has no vocabulary pieces");
      break;
    case ModelType::kBpe: {
      // Words are independent when no piece could span the cut between them: a piece holding a
      // non-space followed by "▁" (or "▁" followed by a non-space, for the other cut).
      bool before = true, after = true;
      for (const auto& [text, id] : pieces) {
        for (size_t k = text.find(kSpaceSymbol); k != std::string_view::npos;
             k = text.find(kSpaceSymbol, k + 3)) {
          if (k > 0 && !(k >= 3 && text.substr(k - 3, 3) == kSpaceSymbol)) before = false;
          if (k + 3 < text.size() && text.substr(k + 3, 3) != kSpaceSymbol) after = false;
        }
      }
      split = before ? Split::kBeforeSpace : after ? Split::kAfterSpace : Split::kBigram;
      if (split == Split::kBigram) {
        for (const auto& [text, id] : pieces) {
          uint32_t prev = 0;
          for (size_t k = 0; k < text.size();) {
            const size_t n = std::min(one_char_len(text[k]), text.size() - k);
            const uint32_t c = char_key(text.data() + k, n);
            if (k > 0) bigrams.insert(static_cast<uint64_t>(prev) << 32 | c);
            prev = c;
            k += n;
          }
        }
      }
      break;
    }
    case ModelType::kWord:
    case ModelType::kChar:
      break;
  }

  normalizer.emplace(m.normalizer_spec, t.treat_whitespace_as_suffix, &user_defined, file);
  if (m.has_denormalizer_spec && !m.denormalizer_spec.precompiled_charsmap.empty()) {
    denormalizer.emplace(m.denormalizer_spec, false, nullptr, file);
  }

  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const auto& p = m.pieces[i];
    if (p.type == PieceType::kControl || p.type == PieceType::kUnknown) {
      specials.emplace_back(p.text, static_cast<int32_t>(i));
      special_first[static_cast<unsigned char>(p.text[0])] = true;
    }
  }
  // Longest first, so that "<s>" never wins over a longer special starting the same way.
  std::stable_sort(specials.begin(), specials.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

// BOS and EOS: the config's bos_token/eos_token when it has the key (null: none), else the
// model's own control pieces. add_special_tokens: BOS unless the config's add_bos_token is false,
// EOS only if its add_eos_token is true (LlamaTokenizer's defaults).
void SentencePieceTokenizer::Impl::resolve_special_tokens() {
  const auto& t = m.trainer_spec;
  const auto named = [&](const char* key, const std::string& piece) -> std::optional<int64_t> {
    const detail::ConfigToken c = detail::config_token(config, key, file);
    if (!c.present) return special_id(piece);
    if (!c.content) return std::nullopt;
    const int32_t id = piece_to_id(*c.content);
    VOLT_CHECK(id != unk || *c.content == m.pieces[static_cast<size_t>(unk)].text,
               "[tokenizer_config.json] beside ", file, ": ", key, " '", *c.content,
               "' is not a piece of this model");
    return id;
  };
  bos = named("bos_token", t.bos_piece.empty() ? "<s>" : t.bos_piece);
  eos = named("eos_token", t.eos_piece.empty() ? "</s>" : t.eos_piece);
  tmpl = {};
  if (detail::config_flag(config, "add_bos_token", file).value_or(true) && bos)
    tmpl.prefix = {*bos};
  if (detail::config_flag(config, "add_eos_token", file).value_or(false) && eos)
    tmpl.suffix = {*eos};
}

std::shared_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::string& path) {
  return std::make_shared<SentencePieceTokenizer>(io::read_file(path), path,
                                                  detail::read_tokenizer_config_beside(path));
}

SentencePieceTokenizer::SentencePieceTokenizer(std::string model_bytes, const std::string& file,
                                               nlohmann::json tokenizer_config)
    : impl_(std::make_unique<Impl>()) {
  impl_->file = file;
  impl_->bytes = std::move(model_bytes);
  impl_->m = spm::parse_model_proto(impl_->bytes, file);
  impl_->init();
  impl_->config = std::move(tokenizer_config);
  impl_->resolve_special_tokens();
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

// ------------------------------------------------------------------------------------- models

void SentencePieceTokenizer::Impl::encode_model(std::string_view normalized,
                                                std::vector<Tok>& out) const {
  VOLT_CHECK(normalized.size() < (1ull << 32), "[sentencepiece] ", file,
             ": a text over 4 GB after normalization; encode it in parts");
  switch (m.trainer_spec.model_type) {
    case ModelType::kBpe:
      return encode_bpe_words(normalized, out);
    case ModelType::kUnigram:
      return encode_unigram(normalized, out);
    case ModelType::kChar:
      return encode_char(normalized, out);
    case ModelType::kWord:
      return encode_word(normalized, out);
  }
}

// bpe_model.cc Encode: start from characters (a user-defined symbol is one frozen symbol), then
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece, the
// leftmost on a tie. An UNUSED piece may be merged through but is split back into the two
// symbols that last formed it.
void SentencePieceTokenizer::Impl::encode_bpe(std::string_view text, uint32_t base,
                                              std::vector<Tok>& out) const {
  struct Symbol {
    int prev;
    int next;
    bool freeze;
    uint32_t begin;
    uint32_t len;
  };
  struct Pair {
    float score;
    int left;
    int right;
    uint32_t size;
  };
  // std::priority_queue order: the top is the highest score, then the smallest left index.
  const auto lower = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Pair> agenda;
  symbols.clear();
  agenda.clear();
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;

  const auto view = [&](const Symbol& s) { return text.substr(s.begin, s.len); };
  const auto maybe_add = [&](int left, int right) {
    if (left == -1 || right == -1 || symbols[left].freeze || symbols[right].freeze) return;
    const std::string_view piece =
        text.substr(symbols[left].begin, symbols[left].len + symbols[right].len);
    const auto it = pieces.find(piece);
    if (it == pieces.end()) return;
    agenda.push_back({m.pieces[static_cast<size_t>(it->second)].score, left, right,
                      static_cast<uint32_t>(piece.size())});
    std::push_heap(agenda.begin(), agenda.end(), lower);
    if (has_unused && type(it->second) == PieceType::kUnused) {
      rev_merge[piece] = {view(symbols[left]), view(symbols[right])};
    }
  };

  for (size_t pos = 0; pos < text.size();) {
    size_t n = user_defined.empty() ? 0 : user_defined.longest_prefix(text.substr(pos));
    const bool freeze = n > 0;
    if (!freeze) n = std::min(one_char_len(text[pos]), text.size() - pos);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, pos + n < text.size() ? index + 1 : -1, freeze,
                       static_cast<uint32_t>(pos), static_cast<uint32_t>(n)});
    pos += n;
  }
  for (size_t i = 1; i < symbols.size(); ++i) {
    maybe_add(static_cast<int>(i) - 1, static_cast<int>(i));
  }

  while (!agenda.empty()) {
    std::pop_heap(agenda.begin(), agenda.end(), lower);
    const Pair top = agenda.back();
    agenda.pop_back();
    Symbol& l = symbols[top.left];
    Symbol& r = symbols[top.right];
    // Stale: one side was merged away or grew since this pair was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != top.size) continue;
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = top.left;
    r.len = 0;
    maybe_add(l.prev, top.left);
    maybe_add(top.left, l.next);
  }

  // Resegments UNUSED pieces into the pair that formed them, recursively.
  const auto emit = [&](std::string_view w, const auto& self) -> void {
    const int32_t id = piece_to_id(w);
    if (has_unused && type(id) == PieceType::kUnused) {
      if (const auto p = rev_merge.find(w); p != rev_merge.end()) {
        self(p->second.first, self);
        self(p->second.second, self);
        return;
      }
    }
    out.push_back({base + static_cast<uint32_t>(w.data() - text.data()),
                   static_cast<uint32_t>(w.size()), id});
  };
  if (!symbols.empty()) {
    for (int i = 0; i != -1; i = symbols[i].next) emit(view(symbols[i]), emit);
  }
  // The scratch space outlives the call: keep it for the next word, not after a huge one.
  if (symbols.capacity() > (1u << 16)) {
    symbols = {};
    agenda = {};
  }
}

// sentencepiece merges over the whole normalized text. No merge and no user-defined symbol can
// cross a point that no vocabulary piece spans, so the text is cut there and each word merged on
// its own, with the same result; a repeated word reuses its first segmentation. For Llama's and
// every whitespace-split vocabulary (checked at load) the cut is before each word's "▁".
void SentencePieceTokenizer::Impl::encode_bpe_words(std::string_view text,
                                                    std::vector<Tok>& out) const {
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;  // word -> span of done
  std::vector<Tok> done;
  std::vector<Tok> scratch;
  const auto word = [&](size_t begin, size_t end) {
    const std::string_view w = text.substr(begin, end - begin);
    auto it = cache.find(w);
    if (it == cache.end()) {
      scratch.clear();
      encode_bpe(w, 0, scratch);
      it = cache.emplace(w, std::make_pair(done.size(), scratch.size())).first;
      done.insert(done.end(), scratch.begin(), scratch.end());
    }
    for (size_t k = 0; k < it->second.second; ++k) {
      Tok t = done[it->second.first + k];
      t.begin += static_cast<uint32_t>(begin);
      out.push_back(t);
    }
  };
  size_t start = 0;
  bool prev_space = false;
  uint32_t prev_char = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min(one_char_len(text[i]), text.size() - i);
    bool cut;
    if (split == Split::kBigram) {
      const uint32_t c = char_key(text.data() + i, n);
      cut = i > 0 && bigrams.count(static_cast<uint64_t>(prev_char) << 32 | c) == 0;
      prev_char = c;
    } else {
      const bool space = n == 3 && text.compare(i, 3, kSpaceSymbol) == 0;
      cut =
          i > 0 && (split == Split::kBeforeSpace ? (space && !prev_space) : (!space && prev_space));
      prev_space = space;
    }
    if (cut) {
      word(start, i);
      start = i;
    }
    i += n;
  }
  if (start < text.size()) word(start, text.size());
}

// unigram_model.cc EncodeOptimized: the best-scoring segmentation, found left to right. Path
// scores are stored as float; a piece's candidate is computed in double (the user-defined bonus
// `length * max_score - 0.1` makes the expression double) and an unknown character's in float.
// Ties keep the earlier start. The arithmetic is sentencepiece's, so ties break as it breaks them.
void SentencePieceTokenizer::Impl::encode_unigram(std::string_view text,
                                                  std::vector<Tok>& out) const {
  struct Node {
    int32_t id = -1;
    float score = 0.0f;
    int64_t starts_at = -1;
  };
  constexpr float kUnkPenalty = 10.0f;
  const float unk_score = min_score - kUnkPenalty;
  const size_t size = text.size();
  std::vector<Node> best(size + 1);
  for (size_t starts_at = 0; starts_at < size;) {
    const float till_here = best[starts_at].score;
    bool has_single_node = false;
    const size_t mblen = std::min(one_char_len(text[starts_at]), size - starts_at);
    trie.prefixes(text.substr(starts_at), [&](size_t length, int32_t id) {
      const PieceType t = type(id);
      if (t == PieceType::kUnused) return;
      const double score = t == PieceType::kUserDefined
                               ? static_cast<float>(length) * max_score - 0.1
                               : static_cast<double>(m.pieces[static_cast<size_t>(id)].score);
      const double candidate = score + static_cast<double>(till_here);
      Node& target = best[starts_at + length];
      if (target.starts_at == -1 || candidate > static_cast<double>(target.score)) {
        target.score = static_cast<float>(candidate);
        target.starts_at = static_cast<int64_t>(starts_at);
        target.id = id;
      }
      if (length == mblen) has_single_node = true;
    });
    if (!has_single_node) {
      Node& target = best[starts_at + mblen];
      const float candidate = unk_score + till_here;
      if (target.starts_at == -1 || candidate > target.score) {
        target.score = candidate;
        target.starts_at = static_cast<int64_t>(starts_at);
        target.id = unk;
      }
    }
    starts_at += mblen;
  }
  const size_t first = out.size();
  for (size_t end = size; end > 0;) {
    const Node& node = best[end];
    const auto begin = static_cast<size_t>(node.starts_at);
    out.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(end - begin), node.id});
    end = begin;
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

// char_model.cc: one piece per character (or user-defined symbol).
void SentencePieceTokenizer::Impl::encode_char(std::string_view text, std::vector<Tok>& out) const {
  for (size_t pos = 0; pos < text.size();) {
    size_t n = user_defined.empty() ? 0 : user_defined.longest_prefix(text.substr(pos));
    if (n == 0) n = std::min(one_char_len(text[pos]), text.size() - pos);
    out.push_back(
        {static_cast<uint32_t>(pos), static_cast<uint32_t>(n), piece_to_id(text.substr(pos, n))});
    pos += n;
  }
}

// word_model.cc: one piece per word, a word being a "▁" and the non-"▁" characters after it
// (model_interface.cc SplitIntoWords with its defaults: word_model.cc passes neither
// treat_whitespace_as_suffix nor allow_whitespace_only_pieces).
void SentencePieceTokenizer::Impl::encode_word(std::string_view text, std::vector<Tok>& out) const {
  size_t begin = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(one_char_len(text[pos]), text.size() - pos);
    if (pos > 0 && text.substr(pos, n) == kSpaceSymbol) {
      out.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(pos - begin),
                     piece_to_id(text.substr(begin, pos - begin))});
      begin = pos;
    }
    pos += n;
  }
  if (begin < text.size()) {
    out.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(text.size() - begin),
                   piece_to_id(text.substr(begin))});
  }
}

// PopulateSentencePieceText: an unknown piece becomes its UTF-8 bytes' <0xXX> pieces under
// byte_fallback; otherwise a run of unknown pieces is merged into one <unk>.
// sink(id, piece text, merges_into_previous, its bytes in the normalized text).
template <typename Sink>
void SentencePieceTokenizer::Impl::populate(std::string_view normalized,
                                            const std::vector<Tok>& toks, Sink&& sink) const {
  bool prev_unk = false;
  for (const Tok& t : toks) {
    const std::string_view w = normalized.substr(t.begin, t.len);
    const bool is_unk = type(t.id) == PieceType::kUnknown;
    // A control piece has no surface, so sentencepiece's offsets stop adding up and it fails the
    // whole encode (only a word or char model, or a one-character control piece, gets here).
    VOLT_CHECK(type(t.id) != PieceType::kControl, "[sentencepiece] ", file,
               ": the model segments the text into the control piece '", w, "' (id ", t.id,
               "), which sentencepiece refuses to encode");
    if (is_unk && m.trainer_spec.byte_fallback) {
      for (uint32_t k = 0; k < t.len; ++k) {
        sink(byte_ids[static_cast<unsigned char>(w[k])], std::string_view(), false,
             hf::Span{t.begin + k, t.begin + k + 1});
      }
    } else {
      sink(t.id, w, prev_unk && is_unk, hf::Span{t.begin, t.begin + t.len});
    }
    prev_unk = is_unk;
  }
}

void SentencePieceTokenizer::Impl::encode_chunk(std::string_view text,
                                                std::vector<int64_t>& out) const {
  if (text.empty()) return;
  const std::string normalized = normalizer->normalize(text);
  std::vector<Tok> toks;
  toks.reserve(normalized.size() / 3 + 4);
  encode_model(normalized, toks);
  populate(normalized, toks, [&](int32_t id, std::string_view, bool merge, hf::Span) {
    if (!merge) out.push_back(id);
  });
}

void SentencePieceTokenizer::Impl::encode_chunk_aligned(std::string_view text, size_t base,
                                                        Encoding& out) const {
  if (text.empty()) return;
  std::vector<hf::Span> from;
  const std::string normalized = normalizer->normalize(text, from);
  std::vector<Tok> toks;
  toks.reserve(normalized.size() / 3 + 4);
  encode_model(normalized, toks);
  const auto end = static_cast<uint32_t>(text.size());
  populate(normalized, toks, [&](int32_t id, std::string_view, bool merge, hf::Span in_norm) {
    const hf::Span sp = hf::through(in_norm, from.data(), from.size(), end);
    if (merge) {
      out.offsets.back().end = base + sp.end;  // a run of <unk> is one token over all of it
      return;
    }
    out.ids.push_back(id);
    out.offsets.push_back({base + sp.begin, base + sp.end});
  });
}

// -------------------------------------------------------------------------------- public API

// on_text(offset, length) for each stretch between special pieces written in the text,
// on_special(id, offset, length) for each of those.
template <typename OnText, typename OnSpecial>
void SentencePieceTokenizer::Impl::split_special(std::string_view text, bool parse_special,
                                                 OnText on_text, OnSpecial on_special) const {
  if (!parse_special || specials.empty()) return on_text(size_t{0}, text.size());
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    size_t matched = 0;
    if (special_first[static_cast<unsigned char>(text[i])]) {
      for (const auto& [piece, id] : specials) {
        if (text.compare(i, piece.size(), piece) == 0) {
          on_text(start, i - start);
          on_special(id, i, piece.size());
          matched = piece.size();
          break;
        }
      }
    }
    if (matched > 0) {
      i += matched;
      start = i;
    } else {
      ++i;
    }
  }
  on_text(start, text.size() - start);
}

void SentencePieceTokenizer::encode_into(std::string_view text, const EncodeOptions& options,
                                         std::vector<int64_t>& out) const {
  const Impl& s = *impl_;
  s.split_special(
      text, options.parse_special,
      [&](size_t at, size_t n) { s.encode_chunk(text.substr(at, n), out); },
      [&](int32_t id, size_t, size_t) { out.push_back(id); });
}

void SentencePieceTokenizer::encode_with_offsets_into(std::string_view text,
                                                      const EncodeOptions& options,
                                                      Encoding& out) const {
  const Impl& s = *impl_;
  VOLT_CHECK(text.size() < (1ull << 32), "[sentencepiece] ", s.file,
             ": encode_with_offsets takes texts under 4 GB; encode it in parts");
  s.split_special(
      text, options.parse_special,
      [&](size_t at, size_t n) { s.encode_chunk_aligned(text.substr(at, n), at, out); },
      [&](int32_t id, size_t at, size_t n) {
        out.ids.push_back(id);
        out.offsets.push_back({at, at + n});
      });
}

std::vector<std::string> SentencePieceTokenizer::encode_as_pieces(std::string_view text) const {
  check_utf8(text, "[sentencepiece] text");
  std::vector<std::string> out;
  if (text.empty()) return out;
  const std::string normalized = impl_->normalizer->normalize(text);
  std::vector<Tok> toks;
  impl_->encode_model(normalized, toks);
  impl_->populate(normalized, toks, [&](int32_t id, std::string_view w, bool merge, hf::Span) {
    if (merge) {
      out.back() += w;
    } else {
      out.push_back(w.empty() ? impl_->m.pieces[static_cast<size_t>(id)].text : std::string(w));
    }
  });
  return out;
}

std::string SentencePieceTokenizer::normalize(std::string_view text) const {
  return impl_->normalizer->normalize(text);
}

// sentencepiece_processor.cc Decode: pieces joined with "▁" as a space; the first piece loses
// one leading "▁" (the dummy prefix; every leading one under remove_extra_whitespaces); a run of
// byte pieces is decoded as UTF-8, each malformed byte becoming U+FFFD; control pieces vanish
// and <unk> becomes the unk surface.
std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids,
                                           bool skip_special) const {
  const Impl& s = *impl_;
  const auto n = static_cast<int64_t>(s.m.pieces.size());
  for (const int64_t id : ids) {
    VOLT_CHECK(id >= 0 && id < n, "[sentencepiece] ", s.file, ": token id ", id,
               " is out of range [0, ", n, ")");
  }
  const auto& norm = s.m.normalizer_spec;
  const bool strip_bos_ws = norm.add_dummy_prefix || norm.remove_extra_whitespaces;
  std::string text;
  std::string bytes;
  const auto flush_bytes = [&] {
    for (size_t off = 0; off < bytes.size();) {
      const auto [valid, len] = decode_utf8(std::string_view(bytes).substr(off));
      if (valid) {
        text.append(bytes, off, len);
      } else {
        text += kReplacementChar;
      }
      off += len;
    }
    bytes.clear();
  };
  bool is_bos_ws = true;
  bool bos_ws_seen = false;
  for (const int64_t id64 : ids) {
    const auto id = static_cast<int32_t>(id64);
    const auto& p = s.m.pieces[static_cast<size_t>(id)];
    if (skip_special && (p.type == PieceType::kControl || p.type == PieceType::kUnknown)) continue;
    if (p.type == PieceType::kByte) {
      bytes.push_back(static_cast<char>(piece_to_byte(p.text)));
      continue;
    }
    flush_bytes();
    if (bos_ws_seen || !text.empty()) is_bos_ws = false;
    bos_ws_seen = false;
    if (p.type == PieceType::kControl) continue;
    if (p.type == PieceType::kUnknown) {
      text += s.m.trainer_spec.unk_surface;
      continue;
    }
    std::string_view piece = p.text;
    if (is_bos_ws && strip_bos_ws) {
      if (piece.substr(0, kSpaceSymbol.size()) == kSpaceSymbol) {
        piece.remove_prefix(kSpaceSymbol.size());
        bos_ws_seen = !norm.remove_extra_whitespaces;
      }
    }
    for (size_t k = 0; k < piece.size();) {
      if (piece.compare(k, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
        text += ' ';
        k += kSpaceSymbol.size();
      } else {
        text += piece[k++];
      }
    }
  }
  flush_bytes();
  if (s.denormalizer) text = s.denormalizer->normalize(text);
  return text;
}

int64_t SentencePieceTokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->m.pieces.size());
}

std::optional<int64_t> SentencePieceTokenizer::token_to_id(const std::string& token) const {
  if (auto it = impl_->reserved.find(token); it != impl_->reserved.end()) return it->second;
  if (auto it = impl_->pieces.find(token); it != impl_->pieces.end()) return it->second;
  return std::nullopt;
}

std::string SentencePieceTokenizer::id_to_token(int64_t id) const {
  VOLT_CHECK(id >= 0 && id < vocab_size(), "[sentencepiece] ", impl_->file, ": token id ", id,
             " is out of range [0, ", vocab_size(), ")");
  return impl_->m.pieces[static_cast<size_t>(id)].text;
}

// sentencepiece's bos_id() and friends: the id of the named piece if it is a CONTROL piece.
std::optional<int64_t> SentencePieceTokenizer::Impl::special_id(const std::string& piece) const {
  const int32_t id = piece_to_id(piece);
  if (type(id) != PieceType::kControl) return std::nullopt;
  return id;
}

std::optional<int64_t> SentencePieceTokenizer::bos_id() const { return impl_->bos; }
std::optional<int64_t> SentencePieceTokenizer::eos_id() const { return impl_->eos; }
SpecialTokensTemplate SentencePieceTokenizer::special_tokens_template() const {
  return impl_->tmpl;
}
std::string SentencePieceTokenizer::source() const { return impl_->file; }
std::optional<int64_t> SentencePieceTokenizer::pad_id() const {
  const auto& t = impl_->m.trainer_spec;
  return impl_->special_id(t.pad_piece.empty() ? "<pad>" : t.pad_piece);
}
std::optional<int64_t> SentencePieceTokenizer::unk_id() const { return impl_->unk; }

std::vector<AddedToken> SentencePieceTokenizer::added_tokens() const {
  std::vector<AddedToken> out;
  for (size_t i = 0; i < impl_->m.pieces.size(); ++i) {
    const auto& p = impl_->m.pieces[i];
    if (p.type != PieceType::kControl && p.type != PieceType::kUnknown &&
        p.type != PieceType::kUserDefined) {
      continue;
    }
    AddedToken t;
    t.content = p.text;
    t.id = static_cast<int64_t>(i);
    t.special = p.type != PieceType::kUserDefined;
    out.push_back(std::move(t));
  }
  return out;
}

// What transformers' LlamaTokenizer needs to load the model as volt encodes it: its special
// pieces, BOS added by add_special_tokens, and legacy mode (each stretch of text between special
// tokens starts with the dummy-prefix "▁", as volt's parse_special does).
nlohmann::json SentencePieceTokenizer::tokenizer_config() const {
  if (impl_->config.is_object()) return impl_->config;
  const auto piece = [&](std::optional<int64_t> id) {
    return id ? nlohmann::json(id_to_token(*id)) : nlohmann::json(nullptr);
  };
  return {{"tokenizer_class", "LlamaTokenizer"},
          {"bos_token", piece(bos_id())},
          {"eos_token", piece(eos_id())},
          {"unk_token", piece(unk_id())},
          {"pad_token", piece(pad_id())},
          {"add_bos_token", !impl_->tmpl.prefix.empty()},
          {"add_eos_token", !impl_->tmpl.suffix.empty()},
          {"legacy", true},
          {"clean_up_tokenization_spaces", false},
          {"sp_model_kwargs", nlohmann::json::object()}};
}

void SentencePieceTokenizer::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  io::write_file_atomic((std::filesystem::path(dir) / "tokenizer.model").string(), impl_->bytes);
  io::write_json((std::filesystem::path(dir) / "tokenizer_config.json").string(),
                 tokenizer_config());
}

std::string SentencePieceTokenizer::kind() const {
  switch (impl_->m.trainer_spec.model_type) {
    case ModelType::kBpe:
      return "sentencepiece-bpe";
    case ModelType::kUnigram:
      return "sentencepiece-unigram";
    case ModelType::kWord:
      return "sentencepiece-word";
    case ModelType::kChar:
      return "sentencepiece-char";
  }
  return "sentencepiece";
}

const spm::ModelProto& SentencePieceTokenizer::model() const { return impl_->m; }

}  // namespace volt

// Hugging Face pre-tokenizers: split normalized text into words, with the `tokenizers` crate's
// semantics (tokenizers/src/pre_tokenizers/*.rs and the split behaviours of
// normalizer.rs::split). Words stream to a sink; nothing is allocated per word unless a stage
// rewrites the text (Metaspace, ByteLevel's prefix space). split_aligned (for
// encode_with_offsets) also says where each byte of a word came from; the stages that rewrite
// text implement it, the others are served by the default, which reads it off the word's place.
#include <algorithm>
#include <vector>

#include "volt/core/check.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/pattern.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

// One piece of a split: [begin, end) and whether the pattern matched it.
struct Piece {
  size_t begin, end;
  bool match;
};

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior behavior_from(const json& j, const std::string& where, Behavior dflt) {
  if (!j.contains("behavior")) return dflt;
  const std::string b = j.at("behavior").get<std::string>();
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  VOLT_FAIL("[tokenizer.json] ", where, ": unknown split behavior '", b,
            "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

// normalizer.rs::split: the pieces a behaviour keeps, given matches and gaps covering the text.
void split_pieces(std::string_view text, std::vector<Piece>& pieces, Behavior behavior, bool invert,
                  WordSink sink) {
  if (invert) {
    for (auto& p : pieces) p.match = !p.match;
  }
  std::vector<Piece> out;
  out.reserve(pieces.size());
  bool previous_match = false;
  switch (behavior) {
    case Behavior::Isolated:
      for (auto& p : pieces) out.push_back({p.begin, p.end, false});
      break;
    case Behavior::Removed:
      out = pieces;
      break;
    case Behavior::Contiguous:
      for (auto& p : pieces) {
        if (p.match == previous_match && !out.empty()) {
          out.back().end = p.end;
        } else {
          out.push_back({p.begin, p.end, false});
        }
        previous_match = p.match;
      }
      break;
    case Behavior::MergedWithPrevious:
      for (auto& p : pieces) {
        if (p.match && !previous_match && !out.empty()) {
          out.back().end = p.end;
        } else {
          out.push_back({p.begin, p.end, false});
        }
        previous_match = p.match;
      }
      break;
    case Behavior::MergedWithNext:
      for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back({it->begin, it->end, false});
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  for (const auto& p : out) {
    if (!p.match && p.end > p.begin) sink(text.substr(p.begin, p.end - p.begin));
  }
}

// Matches and the gaps between them, covering the whole text (pattern.rs::find_matches).
void find_pieces(const Pattern& pattern, std::string_view text, std::vector<Piece>& pieces) {
  pieces.clear();
  size_t prev = 0;
  pattern.find_all(text, [&](size_t b, size_t e) {
    if (b > prev) pieces.push_back({prev, b, false});
    pieces.push_back({b, e, true});
    prev = e;
  });
  if (prev < text.size()) pieces.push_back({prev, text.size(), false});
}

// Each character for which pred holds is its own match (pattern.rs, the Fn(char) impl).
template <typename Pred>
void find_char_pieces(std::string_view text, Pred pred, std::vector<Piece>& pieces) {
  pieces.clear();
  size_t last = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t b = i;
    const uint32_t cp = unicode::next_code_point(text, i);
    if (pred(cp)) {
      if (last < b) pieces.push_back({last, b, false});
      pieces.push_back({b, i, true});
      last = i;
    }
  }
  if (last < text.size()) pieces.push_back({last, text.size(), false});
}

// Rust's char::is_ascii_punctuation || char::is_punctuation (BERT and Punctuation).
bool is_bert_punctuation(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  return unicode::is_punctuation(cp);
}

class SplitPre : public PreTokenizer {
 public:
  SplitPre(std::unique_ptr<Pattern> p, Behavior b, bool invert)
      : pattern_(std::move(p)), behavior_(b), invert_(invert) {}
  void split(std::string_view text, bool, WordSink sink) const override {
    // Isolated matches that tile the text need no piece list: stream them.
    if (behavior_ == Behavior::Isolated) {
      size_t prev = 0;
      pattern_->find_all(text, [&](size_t b, size_t e) {
        if (b > prev) sink(text.substr(prev, b - prev));
        sink(text.substr(b, e - b));
        prev = e;
      });
      if (prev < text.size()) sink(text.substr(prev));
      return;
    }
    std::vector<Piece> pieces;
    find_pieces(*pattern_, text, pieces);
    split_pieces(text, pieces, behavior_, invert_, sink);
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  Behavior behavior_;
  bool invert_;
};

// Identity alignment of the bytes [b, e) of a text, into `from`.
void identity_spans(size_t b, size_t e, std::vector<Span>& from) {
  from.clear();
  for (size_t k = b; k < e; ++k)
    from.push_back({static_cast<uint32_t>(k), static_cast<uint32_t>(k + 1)});
}

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? regex_pattern(kGpt2Pattern, "ByteLevel") : nullptr) {}
  // The prefix space comes from no input: it is inserted at 0.
  void split_aligned(std::string_view text, bool, AlignedWordSink sink) const override {
    const bool prefix = add_prefix_space_ && (text.empty() || text[0] != ' ');
    const std::string prefixed = prefix ? " " + std::string(text) : std::string();
    const std::string_view t = prefix ? std::string_view(prefixed) : text;
    std::vector<Span> from;
    const auto emit = [&](size_t b, size_t e) {
      from.clear();
      for (size_t p = b; p < e; ++p) {
        const auto at = static_cast<uint32_t>(prefix ? (p == 0 ? 0 : p - 1) : p);
        from.push_back({at, prefix && p == 0 ? at : at + 1});
      }
      sink(t.substr(b, e - b), from.data());
    };
    if (!regex_) {
      if (!t.empty()) emit(0, t.size());
      return;
    }
    regex_->find_all(t, emit);
  }
  void split(std::string_view text, bool, WordSink sink) const override {
    std::string prefixed;
    if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
      prefixed.reserve(text.size() + 1);
      prefixed += ' ';
      prefixed += text;
      text = prefixed;
    }
    if (!regex_) {
      if (!text.empty()) sink(text);
      return;
    }
    regex_->find_all(text, [&](size_t b, size_t e) { sink(text.substr(b, e - b)); });
  }
  bool byte_level() const override { return true; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pattern> regex_;
};

class MetaspacePre : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  MetaspacePre(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)),
        on_rep_(literal_pattern(rep_)),
        prepend_(prepend),
        split_(split) {}
  void split(std::string_view text, bool first, WordSink sink) const override {
    std::string s;
    s.reserve(text.size() + rep_.size());
    for (char c : text) {
      if (c == ' ') {
        s += rep_;
      } else {
        s += c;
      }
    }
    const bool starts = s.compare(0, rep_.size(), rep_) == 0;
    if (!starts && (prepend_ == Prepend::Always || (prepend_ == Prepend::First && first))) {
      s.insert(0, rep_);
    }
    if (!split_) {
      if (!s.empty()) sink(s);
      return;
    }
    std::vector<Piece> pieces;
    find_pieces(*on_rep_, s, pieces);
    split_pieces(s, pieces, Behavior::MergedWithNext, false, sink);
  }
  // Each replacement "▁" comes from its space; a prepended one from no input (inserted at 0).
  void split_aligned(std::string_view text, bool first, AlignedWordSink sink) const override {
    AlignedText s;
    s.text.reserve(text.size() + rep_.size());
    const bool starts =
        !text.empty() && (text[0] == ' ' || text.compare(0, rep_.size(), rep_) == 0);
    if (!starts && (prepend_ == Prepend::Always || (prepend_ == Prepend::First && first))) {
      s.add(rep_, 0, 0);
    }
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ' ') {
        s.add(rep_, i, i + 1);
      } else {
        s.copy(text.substr(i, 1), i);
      }
    }
    const auto emit = [&](std::string_view word) {
      sink(word, s.from.data() + (word.data() - s.text.data()));
    };
    if (!split_) {
      if (!s.text.empty()) emit(s.text);
      return;
    }
    std::vector<Piece> pieces;
    find_pieces(*on_rep_, s.text, pieces);
    split_pieces(s.text, pieces, Behavior::MergedWithNext, false, emit);
  }

 private:
  std::string rep_;
  std::unique_ptr<Pattern> on_rep_;  // splits on the replacement character
  Prepend prepend_;
  bool split_;
};

// \w+|[^\w\s]+ : runs of word characters and runs of other non-space characters.
class WhitespacePre : public PreTokenizer {
 public:
  void split(std::string_view text, bool, WordSink sink) const override {
    size_t i = 0;
    while (i < text.size()) {
      size_t next = i;
      const uint32_t cp = unicode::next_code_point(text, next);
      if (unicode::is_whitespace(cp)) {
        i = next;
        continue;
      }
      const bool word = unicode::is_word(cp);
      size_t end = next;
      while (end < text.size()) {
        size_t after = end;
        const uint32_t c = unicode::next_code_point(text, after);
        if (unicode::is_whitespace(c) || unicode::is_word(c) != word) break;
        end = after;
      }
      sink(text.substr(i, end - i));
      i = end;
    }
  }
};

// Splits on whitespace, dropping it; optionally then isolates punctuation (BertPreTokenizer).
class WhitespaceSplitPre : public PreTokenizer {
 public:
  explicit WhitespaceSplitPre(bool bert) : bert_(bert) {}
  void split(std::string_view text, bool, WordSink sink) const override {
    size_t i = 0;
    while (i < text.size()) {
      size_t next = i;
      const uint32_t cp = unicode::next_code_point(text, next);
      if (unicode::is_whitespace(cp) || (bert_ && is_bert_punctuation(cp))) {
        if (!unicode::is_whitespace(cp)) sink(text.substr(i, next - i));
        i = next;
        continue;
      }
      size_t end = next;
      while (end < text.size()) {
        size_t after = end;
        const uint32_t c = unicode::next_code_point(text, after);
        if (unicode::is_whitespace(c) || (bert_ && is_bert_punctuation(c))) break;
        end = after;
      }
      sink(text.substr(i, end - i));
      i = end;
    }
  }

 private:
  bool bert_;
};

class CharClassPre : public PreTokenizer {
 public:
  CharClassPre(bool (*pred)(uint32_t), Behavior b) : pred_(pred), behavior_(b) {}
  void split(std::string_view text, bool, WordSink sink) const override {
    std::vector<Piece> pieces;
    find_char_pieces(text, pred_, pieces);
    split_pieces(text, pieces, behavior_, false, sink);
  }

 private:
  bool (*pred_)(uint32_t);
  Behavior behavior_;
};

class SequencePre : public PreTokenizer {
 public:
  SequencePre(std::vector<std::unique_ptr<PreTokenizer>> stages, const std::string& where)
      : stages_(std::move(stages)) {
    for (size_t k = 0; k + 1 < stages_.size(); ++k) {
      VOLT_CHECK(!stages_[k]->byte_level(), "[tokenizer.json] ", where,
                 ": a pre-tokenizer after ByteLevel in a Sequence is not supported");
    }
  }
  void split(std::string_view text, bool first, WordSink sink) const override {
    run(0, text, first, sink);
  }
  void split_aligned(std::string_view text, bool first, AlignedWordSink sink) const override {
    std::vector<Span> from;
    identity_spans(0, text.size(), from);
    run_aligned(0, text, from.data(), first, sink);
  }
  bool byte_level() const override { return !stages_.empty() && stages_.back()->byte_level(); }

 private:
  // Stage k splits `text`, whose bytes came from `from` (in the Sequence's input); each word's
  // own alignment is carried through `from` before the next stage sees it.
  void run_aligned(size_t k, std::string_view text, const Span* from, bool first,
                   AlignedWordSink sink) const {
    if (k == stages_.size()) {
      sink(text, from);
      return;
    }
    const uint32_t end = text.empty() ? 0 : from[text.size() - 1].end;
    bool is_first = first;
    stages_[k]->split_aligned(text, first, [&](std::string_view w, const Span* wfrom) {
      std::vector<Span> composed(w.size());
      for (size_t i = 0; i < w.size(); ++i) composed[i] = through(wfrom[i], from, text.size(), end);
      run_aligned(k + 1, w, composed.data(), is_first, sink);
      is_first = false;
    });
  }

  void run(size_t k, std::string_view text, bool first, WordSink sink) const {
    if (k == stages_.size()) {
      sink(text);
      return;
    }
    bool is_first = first;
    stages_[k]->split(text, first, [&](std::string_view w) {
      run(k + 1, w, is_first, sink);
      is_first = false;
    });
  }
  std::vector<std::unique_ptr<PreTokenizer>> stages_;
};

std::unique_ptr<Pattern> pattern_from(const json& p, const std::string& where) {
  if (p.contains("String")) return literal_pattern(p.at("String").get<std::string>());
  if (p.contains("Regex")) return regex_pattern(p.at("Regex").get<std::string>(), where);
  VOLT_FAIL("[tokenizer.json] ", where,
            ": a pattern must be {\"String\": ...} or {\"Regex\": ...}, got ", p.dump());
}

bool get_bool(const json& j, const char* key, bool dflt) {
  return j.contains(key) && !j.at(key).is_null() ? j.at(key).get<bool>() : dflt;
}

}  // namespace

void PreTokenizer::split_aligned(std::string_view text, bool first, AlignedWordSink sink) const {
  std::vector<Span> from;
  const auto base = reinterpret_cast<uintptr_t>(text.data());
  split(text, first, [&](std::string_view word) {
    const auto at = reinterpret_cast<uintptr_t>(word.data()) - base;
    VOLT_CHECK(
        reinterpret_cast<uintptr_t>(word.data()) >= base && at + word.size() <= text.size(),
        "[tokenizer] a pre-tokenizer rewrote its text without split_aligned (a bug in volt)");
    identity_spans(at, at + word.size(), from);
    sink(word, from.data());
  });
}

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const json& j, const std::string& where) {
  VOLT_CHECK(j.is_object() && j.contains("type"), "[tokenizer.json] ", where,
             ": a pre_tokenizer must be an object with a \"type\"");
  const std::string type = j.at("type").get<std::string>();
  try {
    if (type == "ByteLevel") {
      return std::make_unique<ByteLevelPre>(get_bool(j, "add_prefix_space", true),
                                            get_bool(j, "use_regex", true));
    }
    if (type == "Split") {
      return std::make_unique<SplitPre>(pattern_from(j.at("pattern"), where),
                                        behavior_from(j, where, Behavior::Isolated),
                                        get_bool(j, "invert", false));
    }
    if (type == "Metaspace") {
      std::string rep =
          j.contains("replacement") ? j.at("replacement").get<std::string>() : "\u2581";
      auto prepend = MetaspacePre::Prepend::Always;
      if (j.contains("prepend_scheme") && !j.at("prepend_scheme").is_null()) {
        const auto s = j.at("prepend_scheme").get<std::string>();
        if (s == "first") {
          prepend = MetaspacePre::Prepend::First;
        } else if (s == "never") {
          prepend = MetaspacePre::Prepend::Never;
        } else {
          VOLT_CHECK(s == "always", "[tokenizer.json] ", where, ": Metaspace prepend_scheme '", s,
                     "' (expected always, first or never)");
        }
      } else if (!get_bool(j, "add_prefix_space", true)) {
        prepend = MetaspacePre::Prepend::Never;
      }
      return std::make_unique<MetaspacePre>(rep, prepend, get_bool(j, "split", true));
    }
    if (type == "Whitespace") return std::make_unique<WhitespacePre>();
    if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPre>(false);
    if (type == "BertPreTokenizer") return std::make_unique<WhitespaceSplitPre>(true);
    if (type == "Digits") {
      const bool individual = get_bool(j, "individual_digits", false);
      return std::make_unique<CharClassPre>(&unicode::is_number,
                                            individual ? Behavior::Isolated : Behavior::Contiguous);
    }
    if (type == "Punctuation") {
      return std::make_unique<CharClassPre>(&is_bert_punctuation,
                                            behavior_from(j, where, Behavior::Isolated));
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<PreTokenizer>> stages;
      for (const auto& s : j.at("pretokenizers"))
        stages.push_back(pre_tokenizer_from_json(s, where));
      return std::make_unique<SequencePre>(std::move(stages), where);
    }
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where, ": pre_tokenizer ", type, ": ", e.what());
  }
  VOLT_FAIL("[tokenizer.json] ", where, ": pre_tokenizer '", type,
            "' is not supported (supported: ByteLevel, Split, Metaspace, Whitespace, "
            "WhitespaceSplit, BertPreTokenizer, Digits, Punctuation, Sequence)");
}

}  // namespace volt::hf

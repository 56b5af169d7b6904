// Hugging Face decoders (tokenizers crate: tokenizers/src/decoders/*.rs, plus the decoder halves
// of pre_tokenizers/{byte_level,metaspace}.rs and normalizers/replace.rs), checked against the
// crate itself (npm `tokenizers` 0.23.2) by scripts/hf_component_expected.mjs. Each decoder maps
// the list of token strings to a new list (decode_chain); the caller joins the last one.
#include <algorithm>

#include "volt/core/check.h"
#include "volt/tokenizers/hf_components.h"
#include "volt/tokenizers/unicode.h"

namespace volt::hf {
namespace {

using unicode::append_utf8;
using unicode::next_code_point;

constexpr const char* kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Rust's str::replace: every non-overlapping occurrence, left to right; an empty pattern matches
// before every char and at the end.
std::string rust_replace(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  if (from.empty()) {
    for (size_t i = 0; i < s.size();) {
      out += to;
      const size_t len = unicode::utf8_length(static_cast<unsigned char>(s[i]));
      out += s.substr(i, len);
      i += len;
    }
    out += to;
    return out;
  }
  size_t prev = 0;
  for (size_t i = s.find(from); i != std::string_view::npos; i = s.find(from, prev)) {
    out += s.substr(prev, i - prev);
    out += to;
    prev = i + from.size();
  }
  out += s.substr(prev);
  return out;
}

// wordpiece.rs cleanup: undo the spaces BERT's tokenization put around punctuation.
std::string wordpiece_cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) s = rust_replace(s, from, to);
  return s;
}

// A single char given as a JSON string (serde's `char`).
uint32_t one_char(const json& v, const char* what, const std::string& where) {
  const auto s = v.get<std::string>();
  size_t i = 0;
  VOLT_CHECK(!s.empty() && unicode::find_invalid_utf8(s) == std::string::npos, "[tokenizer.json] ",
             where, ": ", what, " must be one character, got '", s, "'");
  const uint32_t cp = next_code_point(s, i);
  VOLT_CHECK(i == s.size(), "[tokenizer.json] ", where, ": ", what, " must be one character, got '",
             s, "'");
  return cp;
}

// ------------------------------------------------------------------------------ decoders

// pre_tokenizers/byte_level.rs: a token whose chars are all in the byte alphabet gives those bytes;
// any other token gives its own UTF-8 bytes. All bytes are then read as one lossy UTF-8 string.
class ByteLevelDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      const size_t mark = bytes.size();
      bool in_alphabet = true;
      for (size_t i = 0; i < t.size();) {
        const int b = byte_from_unicode(next_code_point(t, i));
        if (b < 0) {
          in_alphabet = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!in_alphabet) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    return {unicode::utf8_lossy(bytes)};
  }
};

// pre_tokenizers/metaspace.rs Decoder: the replacement char becomes a space, except in the first
// token, where every replacement char is dropped unless prepend_scheme is "never".
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(uint32_t replacement, bool strip_first) : strip_first_(strip_first) {
    append_utf8(replacement_, replacement);
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = rust_replace(tokens[i], replacement_, i == 0 && strip_first_ ? "" : " ");
    }
    return tokens;
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

// byte_fallback.rs: runs of <0xXX> tokens become bytes; a run that is valid UTF-8 becomes one
// token, an invalid run one U+FFFD per byte token.
class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (unicode::find_invalid_utf8(run) == std::string::npos) {
        out.push_back(run);
      } else {
        for (size_t k = 0; k < run.size(); ++k) out.emplace_back(kReplacementChar);
      }
      run.clear();
    };
    for (auto& t : tokens) {
      if (auto b = byte_token(t)) {
        run.push_back(static_cast<char>(*b));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }

 private:
  // "<0xXX>": six bytes, and u8::from_str_radix(&token[3..5], 16), which also takes "+F".
  static std::optional<uint8_t> byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    auto digit = [](char c) {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    const int lo = digit(t[4]);
    if (lo < 0) return std::nullopt;
    if (t[3] == '+') return static_cast<uint8_t>(lo);
    const int hi = digit(t[3]);
    if (hi < 0) return std::nullopt;
    return static_cast<uint8_t>(hi * 16 + lo);
  }
};

// fuse.rs: one token holding them all.
class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
};

// strip.rs: drops up to `start` leading and `stop` trailing `content` chars from every token. The
// crate indexes past the token when stop exceeds what is left (a panic); here nothing is left.
class StripDecoder : public Decoder {
 public:
  StripDecoder(uint32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::vector<size_t> offsets;  // byte offset of each char, then t.size()
      for (size_t i = 0; i < t.size();) {
        offsets.push_back(i);
        next_code_point(t, i);
      }
      const size_t n = offsets.size();
      offsets.push_back(t.size());
      auto char_at = [&](size_t k) {
        size_t i = offsets[k];
        return next_code_point(t, i);
      };
      size_t first = 0;
      while (first < std::min(start_, n) && char_at(first) == content_) ++first;
      size_t last = n;
      while (n - last < stop_ && last > first && char_at(last - 1) == content_) --last;
      t = t.substr(offsets[first], offsets[last] - offsets[first]);
    }
    return tokens;
  }

 private:
  uint32_t content_;
  size_t start_, stop_;
};

// normalizers/replace.rs Decoder: the same matches as the Replace normalizer, token by token, so
// the normalizer does the work.
class ReplaceDecoder : public Decoder {
 public:
  explicit ReplaceDecoder(std::unique_ptr<Normalizer> replace) : replace_(std::move(replace)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) t = replace_->normalize(t);
    return tokens;
  }

 private:
  std::unique_ptr<Normalizer> replace_;
};

// wordpiece.rs: a token after the first loses its continuation prefix or gains a leading space;
// cleanup runs on each token by itself.
class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) {
          t.erase(0, prefix_.size());
        } else {
          t.insert(t.begin(), ' ');
        }
      }
      if (cleanup_) t = wordpiece_cleanup(std::move(t));
    }
    return tokens;
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

// bpe.rs: the end-of-word suffix becomes a space, except in the last token, where it goes.
class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = rust_replace(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }
    return tokens;
  }

 private:
  std::string suffix_;
};

// ctc.rs: repeated tokens collapse, the pad token goes, and with cleanup the word delimiter
// becomes a space; empty tokens are dropped.
class CtcDecoder : public Decoder {
 public:
  CtcDecoder(std::string pad, std::string delimiter, bool cleanup)
      : pad_(std::move(pad)), delimiter_(std::move(delimiter)), cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    std::vector<std::string> out;
    for (const auto& t : tokens) {
      std::string s = rust_replace(t, pad_, "");
      if (cleanup_) s = rust_replace(wordpiece_cleanup(std::move(s)), delimiter_, " ");
      if (!s.empty()) out.push_back(std::move(s));
    }
    return out;
  }

 private:
  std::string pad_, delimiter_;
  bool cleanup_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> stages)
      : stages_(std::move(stages)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& d : stages_) tokens = d->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> stages_;
};

// Metaspace's prepend_scheme; older files carry add_prefix_space instead (false = "never"). The
// crate rejects add_prefix_space=false beside a prepend_scheme other than "never", and also
// beside none at all; volt reads that legacy form as the "never" it meant.
bool metaspace_strips_first(const json& j, const std::string& where) {
  const bool legacy_no_prefix = j.contains("add_prefix_space") &&
                                !j.at("add_prefix_space").is_null() &&
                                !j.at("add_prefix_space").get<bool>();
  if (!j.contains("prepend_scheme") || j.at("prepend_scheme").is_null()) return !legacy_no_prefix;
  const auto s = j.at("prepend_scheme").get<std::string>();
  VOLT_CHECK(s == "always" || s == "first" || s == "never", "[tokenizer.json] ", where,
             ": Metaspace prepend_scheme '", s, "' is not one of always, first, never");
  VOLT_CHECK(!legacy_no_prefix || s == "never", "[tokenizer.json] ", where,
             ": Metaspace add_prefix_space=false contradicts prepend_scheme '", s, "'");
  return s != "never";
}

size_t count(const json& v, const char* what, const std::string& where) {
  VOLT_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
             "[tokenizer.json] ", where, ": ", what, " must be a non-negative integer, got ",
             v.dump());
  return v.get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> decoder_from_json(const json& j, const std::string& where) {
  VOLT_CHECK(j.is_object() && j.contains("type") && j.at("type").is_string(), "[tokenizer.json] ",
             where, ": a decoder must be an object with a \"type\"");
  const std::string type = j.at("type").get<std::string>();
  // Fields the crate requires (no serde default); a missing one is an error there too.
  auto req = [&](const char* key) -> const json& {
    VOLT_CHECK(j.contains(key), "[tokenizer.json] ", where, ": decoder ", type, " has no \"", key,
               "\"");
    return j.at(key);
  };
  try {
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
      return std::make_unique<MetaspaceDecoder>(
          one_char(req("replacement"), "Metaspace replacement", where),
          metaspace_strips_first(j, where));
    }
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
      return std::make_unique<StripDecoder>(one_char(req("content"), "Strip content", where),
                                            count(req("start"), "Strip start", where),
                                            count(req("stop"), "Strip stop", where));
    }
    if (type == "Replace") {
      json replace = {
          {"type", "Replace"}, {"pattern", req("pattern")}, {"content", req("content")}};
      return std::make_unique<ReplaceDecoder>(normalizer_from_json(replace, where));
    }
    if (type == "WordPiece") {
      return std::make_unique<WordPieceDecoder>(req("prefix").get<std::string>(),
                                                req("cleanup").get<bool>());
    }
    if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(req("suffix").get<std::string>());
    if (type == "CTC") {
      return std::make_unique<CtcDecoder>(req("pad_token").get<std::string>(),
                                          req("word_delimiter_token").get<std::string>(),
                                          req("cleanup").get<bool>());
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Decoder>> stages;
      for (const auto& d : req("decoders")) stages.push_back(decoder_from_json(d, where));
      return std::make_unique<SequenceDecoder>(std::move(stages));
    }
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where, ": decoder ", type, ": ", e.what());
  }
  VOLT_FAIL("[tokenizer.json] ", where, ": decoder '", type,
            "' is not supported (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, "
            "Replace, WordPiece, BPEDecoder, CTC, Sequence)");
}

}  // namespace volt::hf

// The tokenizer.json pipeline. Encode follows the `tokenizers` crate
// (tokenizer/mod.rs encode_single_sequence, added_vocabulary.rs extract_and_normalize):
//   1. added tokens with normalized=false are split out of the raw text;
//   2. each remaining piece is normalized, and added tokens with normalized=true split out of it;
//   3. each remaining piece is pre-tokenized into words and each word goes through the model;
//   4. with add_special_tokens, the post-processor's template wraps the ids (Tokenizer::encode).
// encode_with_offsets runs the same steps aligned: the normalizer and the pre-tokenizer say where
// each byte they emit came from, the model where each token lies in its word.
#include "volt/tokenizers/hf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer_config.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/unicode.h"

namespace volt {
namespace {

using nlohmann::json;

bool is_word_char(uint32_t cp) {
  return unicode::is_letter(cp) || unicode::is_number(cp) || cp == '_';
}

// The last code point before byte offset `end`.
uint32_t code_point_before(std::string_view s, size_t end) {
  size_t b = end - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  return unicode::next_code_point(s, b);
}

// The ids a post-processor puts around a single sequence: TemplateProcessing's "single",
// BertProcessing/RobertaProcessing's [CLS] ... [SEP]; ByteLevel adds none.
void post_processor_ids(const json& p, const std::string& where, std::vector<int64_t>& prefix,
                        std::vector<int64_t>& suffix) {
  if (p.is_null()) return;
  const std::string type = p.value("type", "");
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const auto& q : p.at("processors")) post_processor_ids(q, where, prefix, suffix);
    return;
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    prefix.push_back(p.at("cls").at(1).get<int64_t>());
    suffix.insert(suffix.begin(), p.at("sep").at(1).get<int64_t>());
    return;
  }
  if (type == "TemplateProcessing") {
    std::vector<int64_t> before, after;
    bool seen_sequence = false;
    for (const auto& piece : p.at("single")) {
      if (piece.contains("Sequence")) {
        VOLT_CHECK(!seen_sequence, "[tokenizer.json] ", where,
                   ": TemplateProcessing 'single' holds the sequence twice");
        seen_sequence = true;
        continue;
      }
      VOLT_CHECK(piece.contains("SpecialToken"), "[tokenizer.json] ", where,
                 ": TemplateProcessing piece ", piece.dump(),
                 " is neither Sequence nor SpecialToken");
      const std::string id = piece.at("SpecialToken").at("id").get<std::string>();
      VOLT_CHECK(p.contains("special_tokens") && p.at("special_tokens").contains(id),
                 "[tokenizer.json] ", where, ": TemplateProcessing uses special token '", id,
                 "' that its special_tokens do not define");
      for (const auto& tid : p.at("special_tokens").at(id).at("ids")) {
        (seen_sequence ? after : before).push_back(tid.get<int64_t>());
      }
    }
    VOLT_CHECK(seen_sequence, "[tokenizer.json] ", where,
               ": TemplateProcessing 'single' has no Sequence");
    // A later processor wraps what the earlier ones produced.
    prefix.insert(prefix.begin(), before.begin(), before.end());
    suffix.insert(suffix.end(), after.begin(), after.end());
    return;
  }
  VOLT_FAIL("[tokenizer.json] ", where, ": post_processor '", type,
            "' is not supported (supported: TemplateProcessing, BertProcessing, "
            "RobertaProcessing, ByteLevel, Sequence)");
}

}  // namespace

HfTokenizer::HfTokenizer(const json& j, const std::string& where, json tokenizer_config,
                         std::string raw_text)
    : where_(where), json_text_(std::move(raw_text)), config_(std::move(tokenizer_config)) {
  VOLT_CHECK(j.is_object(), "[tokenizer.json] ", where, ": not a JSON object");
  VOLT_CHECK(j.contains("model"), "[tokenizer.json] ", where, ": no \"model\"");
  if (json_text_.empty()) json_text_ = j.dump(2) + "\n";
  try {
    model_ = hf::model_from_json(j.at("model"), where);
    if (j.contains("normalizer") && !j.at("normalizer").is_null()) {
      normalizer_ = hf::normalizer_from_json(j.at("normalizer"), where);
    }
    if (j.contains("pre_tokenizer") && !j.at("pre_tokenizer").is_null()) {
      pre_tokenizer_ = hf::pre_tokenizer_from_json(j.at("pre_tokenizer"), where);
      byte_level_ = pre_tokenizer_->byte_level();
    }
    if (j.contains("decoder") && !j.at("decoder").is_null()) {
      decoder_ = hf::decoder_from_json(j.at("decoder"), where);
    }
    const std::string model_type = j.at("model").value("type", "BPE");
    kind_ = model_type == "WordPiece" ? "hf-wordpiece"
            : byte_level_             ? "hf-byte-level-bpe"
                                      : "hf-bpe";

    if (j.contains("added_tokens") && !j.at("added_tokens").is_null()) {
      for (const auto& t : j.at("added_tokens")) {
        AddedToken a;
        a.content = t.at("content").get<std::string>();
        a.id = t.at("id").get<int64_t>();
        a.special = t.value("special", false);
        a.lstrip = t.value("lstrip", false);
        a.rstrip = t.value("rstrip", false);
        a.single_word = t.value("single_word", false);
        a.normalized = t.value("normalized", !a.special);
        VOLT_CHECK(!a.content.empty(), "[tokenizer.json] ", where, ": added token ", a.id,
                   " has empty content");
        VOLT_CHECK(a.id >= 0, "[tokenizer.json] ", where, ": added token '", a.content,
                   "' has a negative id");
        added_by_id_[a.id] = added_.size();
        added_by_content_[a.content] = added_.size();
        added_.push_back(std::move(a));
      }
    }
  } catch (const json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where, ": ", e.what());
  }
  for (size_t i = 0; i < added_.size(); ++i) {
    const AddedToken& a = added_[i];
    // A normalized token is matched in its normalized form (added_vocabulary.rs
    // refresh_added_tokens).
    const std::string content =
        a.normalized && normalizer_ ? normalizer_->normalize(a.content) : a.content;
    if (!content.empty())
      (a.normalized ? normalized_set_ : raw_set_).insert(content, static_cast<int32_t>(i));
  }
  resolve_special_tokens(j.contains("post_processor") ? j.at("post_processor") : json(nullptr));
}

// BOS/EOS/PAD and the add_special_tokens template (see hf_tokenizer.h for the rules).
void HfTokenizer::resolve_special_tokens(const json& post_processor) {
  std::vector<int64_t> prefix, suffix;
  try {
    post_processor_ids(post_processor, where_, prefix, suffix);
  } catch (const json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", where_, ": post_processor: ", e.what());
  }
  const auto named = [&](const char* key,
                         std::optional<int64_t> otherwise) -> std::optional<int64_t> {
    const detail::ConfigToken t = detail::config_token(config_, key, where_);
    if (!t.present) return otherwise;
    if (!t.content) return std::nullopt;
    const auto id = id_of(*t.content);
    VOLT_CHECK(id.has_value(), "[tokenizer_config.json] beside ", where_, ": ", key, " '",
               *t.content, "' is not a token of this tokenizer");
    return id;
  };
  const auto special_named =
      [&](std::initializer_list<const char*> names) -> std::optional<int64_t> {
    for (const char* n : names) {
      if (auto it = added_by_content_.find(n);
          it != added_by_content_.end() && added_[it->second].special) {
        return added_[it->second].id;
      }
    }
    return std::nullopt;
  };
  bos_ = named("bos_token", prefix.empty() ? std::nullopt : std::optional<int64_t>(prefix.front()));
  std::optional<int64_t> template_eos;
  if (!suffix.empty()) template_eos = suffix.back();
  eos_ = named("eos_token", template_eos
                                ? template_eos
                                : special_named({"<|endoftext|>", "</s>", "<|end_of_text|>"}));
  pad_ = named("pad_token", [&]() -> std::optional<int64_t> {
    for (const char* n : {"<pad>", "[PAD]", "<|pad|>"}) {
      if (auto id = id_of(n)) return id;
    }
    return std::nullopt;
  }());

  const auto add_bos = detail::config_flag(config_, "add_bos_token", where_);
  const auto add_eos = detail::config_flag(config_, "add_eos_token", where_);
  if (add_bos || add_eos) {
    // transformers 4.x update_post_processor: "<bos> $A <eos>" as the two switches say; a switch
    // for a token the tokenizer lacks adds nothing (transformers 5 disables it silently too).
    prefix.clear();
    suffix.clear();
    if (add_bos.value_or(false) && bos_) prefix.push_back(*bos_);
    if (add_eos.value_or(false) && eos_) suffix.push_back(*eos_);
  }
  template_ = {std::move(prefix), std::move(suffix)};
}

void HfTokenizer::AddedSet::insert(std::string_view content, int32_t index) {
  uint32_t node = 0;
  for (char c : content) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
    auto it = next.find(key);
    if (it == next.end()) {
      it = next.emplace(key, static_cast<uint32_t>(value.size())).first;
      value.push_back(-1);
    }
    node = it->second;
  }
  if (value[node] < 0) value[node] = index;  // of two tokens with one content, the first wins
  first_byte[static_cast<unsigned char>(content[0])] = true;
}

std::pair<size_t, int32_t> HfTokenizer::AddedSet::longest(std::string_view text, size_t i) const {
  std::pair<size_t, int32_t> best{0, -1};
  uint32_t node = 0;
  for (size_t k = i; k < text.size(); ++k) {
    const auto it =
        next.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[k]));
    if (it == next.end()) break;
    node = it->second;
    if (value[node] >= 0) best = {k + 1 - i, value[node]};
  }
  return best;
}

std::shared_ptr<HfTokenizer> HfTokenizer::load(const std::string& path) {
  json config = nullptr;
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) config = io::read_json(config_path.string());
  std::string text = io::read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    VOLT_FAIL("[tokenizer.json] ", path, ": bad JSON: ", e.what());
  }
  return std::make_shared<HfTokenizer>(j, path, std::move(config), std::move(text));
}

std::shared_ptr<HfTokenizer> HfTokenizer::load_gpt2_files(const std::string& vocab_json,
                                                          const std::string& merges_txt) {
  json vocab = io::read_json(vocab_json);
  VOLT_CHECK(vocab.is_object(), "[tokenizer] ", vocab_json, ": expected a JSON object token -> id");
  json merges = json::array();
  std::istringstream lines(io::read_file(merges_txt));
  std::string line;
  size_t line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    VOLT_CHECK(std::count(line.begin(), line.end(), ' ') == 1, "[tokenizer] ", merges_txt, ":",
               line_no, ": expected two tokens separated by one space, got '", line, "'");
    merges.push_back(line);
  }
  // What transformers' GPT2TokenizerFast builds from these two files.
  json j = {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", json::array()},
            {"normalizer", nullptr},
            {"pre_tokenizer",
             {{"type", "ByteLevel"},
              {"add_prefix_space", false},
              {"trim_offsets", true},
              {"use_regex", true}}},
            {"post_processor",
             {{"type", "ByteLevel"},
              {"add_prefix_space", true},
              {"trim_offsets", false},
              {"use_regex", true}}},
            {"decoder",
             {{"type", "ByteLevel"},
              {"add_prefix_space", true},
              {"trim_offsets", true},
              {"use_regex", true}}},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", ""},
              {"end_of_word_suffix", ""},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"vocab", vocab},
              {"merges", merges}}}};
  if (vocab.contains("<|endoftext|>")) {
    j["added_tokens"].push_back({{"id", vocab.at("<|endoftext|>")},
                                 {"content", "<|endoftext|>"},
                                 {"single_word", false},
                                 {"lstrip", false},
                                 {"rstrip", false},
                                 {"normalized", true},
                                 {"special", true}});
  }
  // GPT2Tokenizer's defaults: <|endoftext|> is its BOS, EOS and UNK.
  json config = nullptr;
  if (vocab.contains("<|endoftext|>")) {
    config = {{"bos_token", "<|endoftext|>"},
              {"eos_token", "<|endoftext|>"},
              {"unk_token", "<|endoftext|>"}};
  }
  return std::make_shared<HfTokenizer>(j, vocab_json + " + " + merges_txt, std::move(config));
}

std::optional<int64_t> HfTokenizer::id_of(const std::string& token) const {
  if (auto it = added_by_content_.find(token); it != added_by_content_.end()) {
    return added_[it->second].id;
  }
  return model_->token_to_id(token);
}

template <typename OnText, typename OnToken>
void HfTokenizer::split_added(std::string_view text, const AddedSet& set, bool parse_special,
                              OnText on_text, OnToken on_token) const {
  size_t start_offset = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!set.first_byte[static_cast<unsigned char>(text[i])]) continue;
    const auto [length, index] = set.longest(text, i);
    if (index < 0) continue;
    const AddedToken& tok = added_[static_cast<size_t>(index)];
    size_t start = i, stop = i + length;
    if (tok.special && !parse_special) continue;
    if (tok.single_word) {
      const bool start_space = start == 0 || !is_word_char(code_point_before(text, start));
      size_t k = stop;
      const bool stop_space =
          stop == text.size() || !is_word_char(unicode::next_code_point(text, k));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > start_offset && unicode::is_whitespace(code_point_before(text, s))) {
        do {
          --s;
        } while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80);
      }
      start = std::max(s, start_offset);
    }
    const size_t match_end = stop;
    if (tok.rstrip) {
      size_t k = stop;
      while (k < text.size()) {
        size_t next = k;
        if (!unicode::is_whitespace(unicode::next_code_point(text, next))) break;
        k = next;
      }
      stop = k;
    }
    if (start_offset < start)
      on_text(text.substr(start_offset, start - start_offset), start_offset);
    on_token(tok.id, start, stop);
    start_offset = stop;
    i = std::max(match_end, stop) - 1;  // the matcher resumes after the match
  }
  if (start_offset < text.size()) on_text(text.substr(start_offset), start_offset);
}

void HfTokenizer::encode_plain(std::string_view piece, bool first,
                               std::vector<int64_t>& out) const {
  if (!pre_tokenizer_) {
    model_->tokenize(piece, false, out);
    return;
  }
  pre_tokenizer_->split(piece, first,
                        [&](std::string_view word) { model_->tokenize(word, byte_level_, out); });
}

void HfTokenizer::encode_into(std::string_view text, const EncodeOptions& options,
                              std::vector<int64_t>& out) const {
  auto on_token = [&](int64_t id, size_t, size_t) { out.push_back(id); };
  auto on_raw_text = [&](std::string_view piece, size_t offset) {
    std::string normalized;
    std::string_view norm = piece;
    if (normalizer_) {
      normalized = normalizer_->normalize(piece);
      norm = normalized;
    }
    if (normalized_set_.empty()) {
      encode_plain(norm, offset == 0, out);
      return;
    }
    split_added(
        norm, normalized_set_, options.parse_special,
        [&](std::string_view p, size_t off) { encode_plain(p, offset == 0 && off == 0, out); },
        on_token);
  };
  if (raw_set_.empty()) {
    on_raw_text(text, 0);
  } else {
    split_added(text, raw_set_, options.parse_special, on_raw_text, on_token);
  }
}

void HfTokenizer::encode_plain_aligned(std::string_view piece, const hf::Span* from,
                                       uint32_t input_end, bool first, Encoding& out) const {
  std::vector<int64_t> ids;
  std::vector<hf::Span> spans;
  // One word's tokens: their spans in the word, through the word's bytes, through the piece's.
  const auto emit = [&](std::string_view word, const hf::Span* word_from) {
    ids.clear();
    spans.clear();
    model_->tokenize_spans(word, byte_level_, ids, spans);
    const uint32_t word_end = word.empty() ? 0 : word_from[word.size() - 1].end;
    const uint32_t piece_end = word_end < piece.size() ? from[word_end].begin : input_end;
    for (size_t k = 0; k < ids.size(); ++k) {
      const hf::Span in_piece = hf::through(spans[k], word_from, word.size(), word_end);
      const hf::Span in_text = hf::through(in_piece, from, piece.size(), piece_end);
      out.ids.push_back(ids[k]);
      out.offsets.push_back({in_text.begin, in_text.end});
    }
  };
  if (pre_tokenizer_) {
    pre_tokenizer_->split_aligned(piece, first, emit);
    return;
  }
  std::vector<hf::Span> identity(piece.size());
  for (size_t i = 0; i < piece.size(); ++i)
    identity[i] = {static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)};
  emit(piece, identity.data());
}

void HfTokenizer::encode_with_offsets_into(std::string_view text, const EncodeOptions& options,
                                           Encoding& out) const {
  VOLT_CHECK(text.size() < (1ull << 32), "[tokenizer] ", where_,
             ": encode_with_offsets takes texts under 4 GB; encode it in parts");
  const auto on_token = [&](int64_t id, size_t b, size_t e) {
    out.ids.push_back(id);
    out.offsets.push_back({b, e});
  };
  // A piece of the raw text at `offset`: normalized with each byte's source, its normalized added
  // tokens split out, the rest encoded.
  const auto on_raw_text = [&](std::string_view piece, size_t offset) {
    hf::AlignedText norm;
    if (normalizer_) {
      normalizer_->normalize_aligned(piece, norm);
    } else {
      norm.copy(piece, 0);
    }
    for (hf::Span& sp : norm.from)
      sp = {sp.begin + static_cast<uint32_t>(offset), sp.end + static_cast<uint32_t>(offset)};
    const auto end = static_cast<uint32_t>(offset + piece.size());
    const std::string_view n = norm.text;
    const auto on_normalized_text = [&](std::string_view p, size_t off) {
      encode_plain_aligned(p, norm.from.data() + off,
                           off + p.size() < n.size() ? norm.from[off + p.size()].begin : end,
                           offset == 0 && off == 0, out);
    };
    if (normalized_set_.empty()) {
      on_normalized_text(n, 0);
      return;
    }
    split_added(n, normalized_set_, options.parse_special, on_normalized_text,
                [&](int64_t id, size_t b, size_t e) {
                  const hf::Span sp =
                      hf::through({static_cast<uint32_t>(b), static_cast<uint32_t>(e)},
                                  norm.from.data(), n.size(), end);
                  on_token(id, sp.begin, sp.end);
                });
  };
  if (raw_set_.empty()) {
    on_raw_text(text, 0);
  } else {
    split_added(text, raw_set_, options.parse_special, on_raw_text, on_token);
  }
}

std::string HfTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
      if (skip_special && added_[it->second].special) continue;
      tokens.push_back(added_[it->second].content);
      continue;
    }
    const std::string* tok = model_->id_to_token(id);
    VOLT_CHECK(tok != nullptr, "[tokenizer] decode: id ", id, " is not in the vocabulary (size ",
               vocab_size(), ")");
    tokens.push_back(*tok);
  }
  if (!decoder_) {
    // The crate joins tokens with spaces when there is no decoder.
    std::string s;
    for (size_t i = 0; i < tokens.size(); ++i) s += (i ? " " : "") + tokens[i];
    return s;
  }
  std::string s;
  for (auto& t : decoder_->decode_chain(std::move(tokens))) s += t;
  return s;
}

int64_t HfTokenizer::vocab_size() const {
  // The crate's get_vocab_size(with_added_tokens=true): the highest id + 1 over both vocabularies.
  int64_t n = model_->vocab_size();
  for (const auto& a : added_) n = std::max(n, a.id + 1);
  return n;
}

std::optional<int64_t> HfTokenizer::token_to_id(const std::string& token) const {
  return id_of(token);
}

std::string HfTokenizer::id_to_token(int64_t id) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return added_[it->second].content;
  const std::string* tok = model_->id_to_token(id);
  VOLT_CHECK(tok != nullptr, "[tokenizer] id ", id, " is not in the vocabulary (size ",
             vocab_size(), ")");
  return *tok;
}

void HfTokenizer::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  io::write_file_atomic((std::filesystem::path(dir) / "tokenizer.json").string(), json_text_);
  json config = config_.is_object() ? config_ : json::object();
  if (!config.contains("bos_token") && bos_) config["bos_token"] = id_to_token(*bos_);
  if (!config.contains("eos_token") && eos_) config["eos_token"] = id_to_token(*eos_);
  if (!config.contains("pad_token") && pad_) config["pad_token"] = id_to_token(*pad_);
  if (!config.contains("tokenizer_class")) config["tokenizer_class"] = "PreTrainedTokenizerFast";
  io::write_json((std::filesystem::path(dir) / "tokenizer_config.json").string(), config);
}

}  // namespace volt

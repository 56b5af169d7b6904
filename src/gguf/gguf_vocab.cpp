// tokenizer.json / tokenizer.model -> llama.cpp's tokenizer metadata (gguf_vocab.h). llama.cpp
// implements a fixed set of pre-tokenizers, named by tokenizer.ggml.pre: the regex in
// tokenizer.json decides which one it is, and one llama.cpp does not have is an error (its
// tokens would silently differ from volt's).
#include "volt/gguf/gguf_vocab.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/sentencepiece.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::gguf {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

enum TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

// The byte-level pre-tokenizer regexes llama.cpp implements, by the name it gives them.
const std::map<std::string, std::string>& known_byte_level_regexes() {
  static const std::map<std::string, std::string> m = {
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "llama-bpe"},
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "qwen2"},
  };
  return m;
}

// Added tokens that models mark as not special although they are control tokens (llama.cpp's
// converter treats them the same way).
bool looks_special(const std::string& t) {
  auto wrapped = [&](const std::string& a, const std::string& b) {
    return t.size() >= a.size() + b.size() && t.compare(0, a.size(), a) == 0 &&
           t.compare(t.size() - b.size(), b.size(), b) == 0;
  };
  return t == "<pad>" || t == "<mask>" || wrapped("<|", "|>") || wrapped("<unused", ">");
}

bool is_byte_token(const std::string& t) {
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4]));
}

std::string byte_level_pre(const json& pre, const std::string& where) {
  if (pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true))
    return "gpt-2";
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers")) {
    const auto& seq = pre["pretokenizers"];
    if (seq.size() == 2 && seq[0].value("type", "") == "Split" &&
        seq[1].value("type", "") == "ByteLevel" && !seq[1].value("use_regex", true) &&
        seq[0].contains("pattern") && seq[0]["pattern"].contains("Regex")) {
      const std::string regex = seq[0]["pattern"]["Regex"].get<std::string>();
      const auto& known = known_byte_level_regexes();
      if (auto it = known.find(regex); it != known.end()) return it->second;
      VOLT_FAIL("[gguf] ", where, ": the pre-tokenizer regex ", json(regex).dump(),
                " is not one llama.cpp implements that volt knows (GPT-2's, Llama 3's, Qwen2's)");
    }
  }
  VOLT_FAIL("[gguf] ", where, ": pre_tokenizer ", pre.dump().substr(0, 200),
            " has no llama.cpp counterpart volt knows (ByteLevel as GPT-2, or Split(regex) + "
            "ByteLevel as "
            "Llama 3 / Qwen2)");
}

void read_chat_template(const fs::path& dir, Vocab& v) {
  if (fs::exists(dir / "chat_template.jinja")) {
    v.chat_template = io::read_file((dir / "chat_template.jinja").string());
    return;
  }
  const fs::path config = dir / "tokenizer_config.json";
  if (!fs::exists(config)) return;
  json c;
  try {
    c = json::parse(io::read_file(config.string()));
  } catch (const json::exception& e) {
    VOLT_FAIL("[gguf] ", config.string(), ": not valid JSON: ", e.what());
  }
  if (!c.is_object() || !c.contains("chat_template")) return;
  const auto& t = c["chat_template"];
  if (t.is_string()) v.chat_template = t.get<std::string>();
  if (t.is_array()) {
    for (const auto& named : t) {
      if (named.is_object() && named.value("name", "") == "default")
        v.chat_template = named.value("template", "");
    }
  }
}

// tokenizer.json's BPE model: vocabulary, merges, added tokens.
void read_hf_bpe(const fs::path& file, int64_t vocab_size, Vocab& v) {
  const std::string where = file.string();
  json j;
  try {
    j = json::parse(io::read_file(where));
  } catch (const json::exception& e) {
    VOLT_FAIL("[gguf] ", where, ": not valid JSON: ", e.what());
  }
  const json& m = j.at("model");
  const std::string type = m.value("type", "");
  VOLT_CHECK(type == "BPE", "[gguf] ", where, ": model type '", type,
             "' is not supported (volt exports BPE tokenizers: byte-level or SentencePiece-style)");
  const bool byte_fallback = m.value("byte_fallback", false);
  v.model = byte_fallback ? "llama" : "gpt2";
  for (const auto& [token, id_json] : m.at("vocab").items()) {
    const int64_t id = id_json.get<int64_t>();
    VOLT_CHECK(id >= 0 && id < vocab_size, "[gguf] ", where, ": token id ", id, " of ",
               json(token).dump(), " is outside the model's vocabulary of ", vocab_size);
    v.tokens[id] = token;
    v.types[id] = byte_fallback && is_byte_token(token) ? kByte : kNormal;
  }
  // Merges: "a b" strings, or [a, b] pairs (tokenizers >= 0.20, where a token may hold a space).
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& mj : m.value("merges", json::array())) {
    if (mj.is_string()) {
      const std::string s = mj.get<std::string>();
      const size_t sp = s.find(' ', 1);
      VOLT_CHECK(sp != std::string::npos, "[gguf] ", where, ": merge ", mj.dump(), " is not 'a b'");
      merges.push_back({s.substr(0, sp), s.substr(sp + 1)});
    } else {
      merges.push_back({mj.at(0).get<std::string>(), mj.at(1).get<std::string>()});
    }
  }
  if (byte_fallback) {
    // llama.cpp's SentencePiece tokenizer merges the adjacent pair whose result scores highest:
    // the score of a merged token is minus the rank of the merge that makes it, so the order is
    // BPE's.
    std::map<std::string, int64_t> id_of;
    for (const auto& [token, id_json] : m.at("vocab").items())
      id_of[token] = id_json.get<int64_t>();
    v.scores.assign(v.tokens.size(), 0.0f);
    std::vector<bool> scored(v.tokens.size(), false);
    for (size_t r = 0; r < merges.size(); ++r) {
      auto it = id_of.find(merges[r].first + merges[r].second);
      if (it == id_of.end() || scored[it->second]) continue;
      v.scores[it->second] = -static_cast<float>(r + 1);
      scored[it->second] = true;
    }
    if (m.contains("unk_token") && m["unk_token"].is_string()) {
      if (auto it = id_of.find(m["unk_token"].get<std::string>()); it != id_of.end()) {
        v.unk = it->second;
        v.types[it->second] = kUnknown;
      }
    }
    // SentencePiece's dummy prefix: a Prepend("▁") normalizer or a Metaspace that prepends.
    const std::string norm = j.value("normalizer", json()).dump();
    const std::string pre = j.value("pre_tokenizer", json()).dump();
    v.add_space_prefix = norm.find("\"Prepend\"") != std::string::npos ||
                         (pre.find("\"Metaspace\"") != std::string::npos &&
                          pre.find("\"never\"") == std::string::npos);
  } else {
    v.pre = byte_level_pre(j.value("pre_tokenizer", json()), where);
    const json norm = j.value("normalizer", json());
    if (!norm.is_null()) {
      VOLT_CHECK(norm.value("type", "") == "NFC", "[gguf] ", where, ": normalizer ",
                 norm.dump().substr(0, 200),
                 " has no llama.cpp counterpart for a byte-level tokenizer (only NFC does)");
      v.normalizer_nfc = true;
    }
    for (const auto& [a, b] : merges) {
      // llama.cpp splits a merge at its one space: a space inside a token is written as U+0120
      // (its byte-level image), as llama.cpp's converter does.
      auto escape = [](const std::string& s) {
        std::string out;
        for (char c : s) out += c == ' ' ? std::string("\xC4\xA0") : std::string(1, c);
        return out;
      };
      v.merges.push_back(escape(a) + " " + escape(b));
    }
  }
  for (const auto& t : j.value("added_tokens", json::array())) {
    const int64_t id = t.at("id").get<int64_t>();
    const std::string content = t.at("content").get<std::string>();
    VOLT_CHECK(id >= 0 && id < vocab_size, "[gguf] ", where, ": added token ", json(content).dump(),
               " (id ", id, ") is outside the model's vocabulary of ", vocab_size);
    v.tokens[id] = content;
    if (t.value("special", false) || looks_special(content)) {
      v.types[id] = id == v.unk ? kUnknown : kControl;
    } else {
      v.types[id] = kUserDefined;
    }
  }
}

// A SentencePiece .model: its pieces, scores and types are llama.cpp's as they are.
void read_sentencepiece(const SentencePieceTokenizer& tok, const std::string& where,
                        int64_t vocab_size, Vocab& v) {
  const auto& m = tok.model();
  VOLT_CHECK(m.trainer_spec.model_type == spm::ModelType::kBpe, "[gguf] ", where,
             ": a SentencePiece ", tok.kind(),
             " model is not supported by volt's GGUF export (BPE only)");
  VOLT_CHECK(static_cast<int64_t>(m.pieces.size()) <= vocab_size, "[gguf] ", where, ": ",
             m.pieces.size(), " pieces do not fit the model's vocabulary of ", vocab_size);
  v.model = "llama";
  v.scores.assign(v.tokens.size(), -1000.0f);
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    v.tokens[i] = m.pieces[i].text;
    v.scores[i] = m.pieces[i].score;
    v.types[i] = static_cast<int32_t>(m.pieces[i].type);
    if (m.pieces[i].type == spm::PieceType::kUnknown) v.unk = static_cast<int64_t>(i);
  }
  v.add_space_prefix = m.normalizer_spec.add_dummy_prefix;
}

}  // namespace

Vocab read_vocab(const std::string& dir_str, int64_t vocab_size,
                 std::optional<int64_t> fallback_eos) {
  const fs::path dir(dir_str);
  Vocab v;
  v.tokens.resize(static_cast<size_t>(vocab_size));
  v.types.assign(static_cast<size_t>(vocab_size), kUnused);
  for (int64_t i = 0; i < vocab_size; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  v.pre = "default";
  const bool hf = fs::exists(dir / "tokenizer.json");
  if (hf) read_hf_bpe(dir / "tokenizer.json", vocab_size, v);  // checked before volt loads it
  const auto tokenizer = load_tokenizer(dir_str);  // volt's reading: special ids, BOS by default
  if (!hf) {
    const auto* sp = dynamic_cast<const SentencePieceTokenizer*>(tokenizer.get());
    VOLT_CHECK(sp != nullptr, "[gguf] ", dir_str, ": the tokenizer (", tokenizer->kind(),
               ") is neither a tokenizer.json BPE nor a SentencePiece tokenizer.model: llama.cpp "
               "cannot read it");
    read_sentencepiece(*sp, (dir / "tokenizer.model").string(), vocab_size, v);
  }
  if (!v.scores.empty()) {
    for (size_t i = 0; i < v.scores.size(); ++i) {
      if (v.types[i] == kUnused) v.scores[i] = -1000.0f;
    }
  }
  v.bos = tokenizer->bos_id();
  v.eos = tokenizer->eos_id();
  if (!v.eos) v.eos = fallback_eos;
  v.pad = tokenizer->pad_id();
  v.add_bos = tokenizer->adds_bos_by_default();
  v.add_eos = tokenizer->adds_eos_by_default();
  read_chat_template(dir, v);
  return v;
}

void add_vocab(Writer& w, const Vocab& v) {
  w.add_string("tokenizer.ggml.model", v.model);
  w.add_string("tokenizer.ggml.pre", v.pre);
  w.add_strings("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.add_f32s("tokenizer.ggml.scores", v.scores);
  w.add_i32s("tokenizer.ggml.token_type", v.types);
  if (!v.merges.empty()) w.add_strings("tokenizer.ggml.merges", v.merges);
  auto id = [&](const char* key, const std::optional<int64_t>& x) {
    if (x) w.add_u32(key, static_cast<uint32_t>(*x));
  };
  id("tokenizer.ggml.bos_token_id", v.bos);
  id("tokenizer.ggml.eos_token_id", v.eos);
  id("tokenizer.ggml.unknown_token_id", v.unk);
  id("tokenizer.ggml.padding_token_id", v.pad);
  w.add_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.add_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (v.add_space_prefix) w.add_bool("tokenizer.ggml.add_space_prefix", *v.add_space_prefix);
  if (v.normalizer_nfc) w.add_bool("tokenizer.ggml.normalizer.nfc", true);
  if (!v.chat_template.empty()) w.add_string("tokenizer.chat_template", v.chat_template);
}

}  // namespace volt::gguf

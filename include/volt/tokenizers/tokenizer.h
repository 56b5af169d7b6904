// One interface for every tokenizer volt knows: character level today; byte-level BPE,
// SentencePiece-style BPE and WordPiece plug in behind it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace volt {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// Text to ids. Characters the vocabulary lacks are an error naming them (or the unk id).
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
  virtual std::string id_to_token(int64_t id) const = 0;
  virtual std::optional<int64_t> eos_id() const { return std::nullopt; }
  virtual std::optional<int64_t> bos_id() const { return std::nullopt; }
  /// Writes the tokenizer's files into dir (a Hugging Face tokenizer.json where possible).
  virtual void save(const std::string& dir) const = 0;
  virtual std::string kind() const = 0;
};

/// Loads a tokenizer from a file or a directory holding one (tokenizer.json).
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace volt

// The token cache: a corpus tokenized once into binary shards (uint16 ids when the vocabulary
// fits, else uint32) plus a document index, memory-mapped for training. No LibTorch here.
//
// Layout of a cache directory (<cache_dir>/<name>-<key>/):
//   meta.json          what was tokenized (corpus, tokenizer fingerprint, settings), the dtype,
//                      counts, shards, and the inputs' manifest (path, size, mtime, sha256)
//   index.bin          int64 little-endian token offsets, documents + 1 of them: document d is
//                      tokens [index[d], index[d+1]) of the concatenated shards
//   tokens-NNNNN.bin   the ids, little-endian; a document never spans two shards
// The key hashes corpus + tokenizer + settings; the manifest says whether the inputs changed.
// An input whose size and mtime match is taken as unchanged; otherwise its content is hashed, so
// touching a file does not force a rebuild but editing one does (git's index does the same).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "volt/data/corpus.h"
#include "volt/io/mapped_file.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::data {

struct TokenCacheOptions {
  std::string cache_dir;          // the root; empty: default_cache_dir()
  std::string name = "corpus";    // readable prefix of the directory name
  bool add_special_tokens = true; // the tokenizer's own post-processor template
  bool add_bos = false;           // start every document with BOS (unless the template did)
  bool append_eos = true;         // end every document with EOS, when the tokenizer has one
  int threads = 0;                // tokenizer threads; 0: every core
  int64_t shard_tokens = int64_t{1} << 27;  // tokens per shard file (a document may overflow it)
  bool force_rebuild = false;
};

/// $VOLT_CACHE_DIR, else $XDG_CACHE_HOME/volt/data, else ~/.cache/volt/data.
std::string default_cache_dir();

/// A tokenizer's identity for cache keys: sha256 over the file, or over a directory's tokenizer
/// files (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, *.model, *.tiktoken, ...;
/// names and contents, sorted by name), so a checkpoint's weights do not change it.
std::string fingerprint_path(const std::string& path);

/// What a build or an open did, for the CLI and the benchmarks.
struct TokenCacheReport {
  bool built = false;        // tokenized now (false: reopened)
  std::string reason;        // why it was (re)built: "new", "inputs changed: a.txt", ...
  double seconds = 0;        // wall time of open_or_build
  int64_t input_bytes = 0;   // corpus bytes read
};

class TokenCache {
 public:
  using Progress = std::function<void(int64_t bytes_done, int64_t bytes_total)>;

  /// Opens the cache of this corpus + tokenizer + settings, building it first when it is missing,
  /// stale or unreadable. Tokenization runs on options.threads threads.
  static TokenCache open_or_build(const CorpusOptions& corpus, const Tokenizer& tokenizer,
                                  const std::string& tokenizer_fingerprint,
                                  const TokenCacheOptions& options, const Progress& progress = {},
                                  TokenCacheReport* report = nullptr);
  /// Opens an existing cache directory (no staleness check); a damaged one is a volt::Error.
  static TokenCache open(const std::string& dir);

  int64_t num_documents() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t num_tokens() const { return offsets_.empty() ? 0 : offsets_.back(); }
  int64_t document_length(int64_t doc) const;
  std::vector<int64_t> document_lengths() const;
  /// Copies tokens [begin, begin + count) of document `doc` into out, widened to int64.
  void read(int64_t doc, int64_t begin, int64_t count, int64_t* out) const;
  std::vector<int64_t> document(int64_t doc) const;
  int bytes_per_token() const { return bytes_per_token_; }
  int64_t vocab_size() const { return vocab_size_; }
  const std::string& dir() const { return dir_; }
  const nlohmann::json& meta() const { return meta_; }

 private:
  static TokenCache open_checked(const std::string& dir);
  struct Shard {
    io::MappedFile file;
    int64_t first_token = 0, tokens = 0;
  };
  std::string dir_;
  nlohmann::json meta_;
  int bytes_per_token_ = 2;
  int64_t vocab_size_ = 0;
  std::vector<int64_t> offsets_;  // documents + 1
  std::vector<std::shared_ptr<Shard>> shards_;
};

}  // namespace volt::data

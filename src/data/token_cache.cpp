#include "volt/data/token_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "volt/core/atomic_file.h"
#include "volt/core/check.h"
#include "volt/core/sha256.h"
#include "volt/io/files.h"

namespace volt::data {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// 2: the tokenizers add BOS as transformers does (Llama 3, Gemma), so older caches hold other ids.
constexpr int kFormatVersion = 2;
// Tokenize in chunks of about this much text: large enough to keep every thread busy, small
// enough that the texts and their ids stay a modest share of memory.
constexpr size_t kChunkBytes = size_t{8} << 20;

// An exclusive flock(2) on a file, released when destroyed (or when the process dies).
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    VOLT_CHECK(fd_ >= 0, "[data] ", path, ": cannot open the lock file: ", std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      VOLT_CHECK(errno == EINTR, "[data] ", path, ": flock failed: ", std::strerror(errno));
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

struct FileStat {
  int64_t size = 0, mtime_ns = 0;
};

FileStat stat_file(const std::string& path) {
  struct stat st {};
  VOLT_CHECK(::stat(path.c_str(), &st) == 0, "[data] ", path,
             ": cannot stat: ", std::strerror(errno));
  return {static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

std::string shard_name(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "tokens-%05zu.bin", i);
  return buf;
}

// Why the recorded inputs no longer describe `files` ("" when they still do). Inputs whose stat
// changed but whose content did not get their stat refreshed in `inputs`.
std::string stale_inputs(Json& inputs, const std::vector<std::string>& files, bool* refreshed) {
  if (inputs.size() != files.size()) {
    return "the corpus now has " + std::to_string(files.size()) + " files (was " +
           std::to_string(inputs.size()) + ")";
  }
  for (size_t i = 0; i < files.size(); ++i) {
    Json& in = inputs[i];
    if (in.value("path", "") != files[i]) return "input files changed: " + files[i];
    const FileStat st = stat_file(files[i]);
    if (st.size == in.value("size", int64_t{-1}) &&
        st.mtime_ns == in.value("mtime_ns", int64_t{-1})) {
      continue;
    }
    if (st.size != in.value("size", int64_t{-1}) ||
        sha256_hex(io::read_file(files[i])) != in.value("sha256", "")) {
      return "input changed: " + files[i];
    }
    in["mtime_ns"] = st.mtime_ns;  // touched, not edited
    *refreshed = true;
  }
  return "";
}

// Writes shards and the index of a cache being built.
class CacheWriter {
 public:
  CacheWriter(std::string dir, int bytes_per_token, int64_t vocab_size, int64_t shard_tokens)
      : dir_(std::move(dir)),
        bytes_(bytes_per_token),
        vocab_(vocab_size),
        shard_tokens_(shard_tokens) {
    offsets_.push_back(0);
  }

  void add(const std::vector<int64_t>& ids, const std::string& source) {
    if (!shard_ || shard_fill_ >= shard_tokens_) open_shard();
    buf_.resize(ids.size() * static_cast<size_t>(bytes_));
    for (size_t i = 0; i < ids.size(); ++i) {
      const int64_t id = ids[i];
      VOLT_CHECK(id >= 0 && id < vocab_, "[data] ", source, ": token id ", id,
                 " is outside the tokenizer's vocabulary (", vocab_, ")");
      if (bytes_ == 2) {
        const auto v = static_cast<uint16_t>(id);
        std::memcpy(&buf_[i * 2], &v, 2);
      } else {
        const auto v = static_cast<uint32_t>(id);
        std::memcpy(&buf_[i * 4], &v, 4);
      }
    }
    shard_->write(buf_.data(), buf_.size());
    shard_fill_ += static_cast<int64_t>(ids.size());
    shards_.back()["documents"] = shards_.back()["documents"].get<int64_t>() + 1;
    shards_.back()["tokens"] = shard_fill_;
    offsets_.push_back(offsets_.back() + static_cast<int64_t>(ids.size()));
  }

  // Commits the shards and index; returns the shard table for meta.json.
  Json finish() {
    if (shard_) shard_->commit();
    AtomicFile index((fs::path(dir_) / "index.bin").string());
    index.write(offsets_.data(), offsets_.size() * sizeof(int64_t));
    index.commit();
    return shards_;
  }
  int64_t documents() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t tokens() const { return offsets_.back(); }

 private:
  void open_shard() {
    if (shard_) shard_->commit();
    const std::string name = shard_name(shards_.size());
    shard_ = std::make_unique<AtomicFile>((fs::path(dir_) / name).string());
    shards_.push_back({{"file", name},
                       {"first_document", documents()},
                       {"documents", 0},
                       {"first_token", tokens()},
                       {"tokens", 0}});
    shard_fill_ = 0;
  }

  std::string dir_;
  int bytes_;
  int64_t vocab_, shard_tokens_;
  std::unique_ptr<AtomicFile> shard_;
  int64_t shard_fill_ = 0;
  Json shards_ = Json::array();
  std::vector<int64_t> offsets_;
  std::string buf_;
};

Json spec_of(const CorpusOptions& c, const std::string& tokenizer_fingerprint,
             const TokenCacheOptions& o) {
  return {{"format_version", kFormatVersion},
          {"corpus",
           {{"format", c.format},
            {"paths", c.paths},
            {"exclude", c.exclude},
            {"split", c.split},
            {"text_field", c.text_field}}},
          {"tokenizer", tokenizer_fingerprint},
          {"add_special_tokens", o.add_special_tokens},
          {"add_bos", o.add_bos},
          {"append_eos", o.append_eos}};
}

std::string sanitize(const std::string& name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return s.empty() ? "corpus" : s;
}

// Tokenizes the corpus into a fresh directory `tmp`; returns meta.json's content.
Json build(const CorpusOptions& corpus, const Tokenizer& tok, const Json& spec,
           const std::vector<std::string>& files, const TokenCacheOptions& o,
           const std::string& tmp, const TokenCache::Progress& progress, int threads) {
  // Each input is read once: hashed for the manifest, then split into documents.
  Json inputs = Json::array();
  int64_t total_bytes = 0;
  std::vector<FileStat> stats;
  for (const auto& f : files) stats.push_back(stat_file(f)), total_bytes += stats.back().size;

  const int64_t vocab = tok.vocab_size();
  const int bytes_per_token = vocab <= 65536 ? 2 : 4;
  CacheWriter writer(tmp, bytes_per_token, vocab, o.shard_tokens);
  EncodeOptions enc;
  enc.add_special_tokens = o.add_special_tokens;
  enc.parse_special = false;  // "<|endoftext|>" written in a document is text, not a control token
  const auto eos = o.append_eos ? tok.eos_id() : std::nullopt;
  const auto bos = o.add_bos ? tok.bos_id() : std::nullopt;
  VOLT_CHECK(!o.add_bos || bos, "[data] add_bos is set but the tokenizer has no BOS token");

  std::vector<std::string> texts, sources;
  size_t chunk_bytes = 0;
  int64_t done_bytes = 0;
  auto flush = [&] {
    if (texts.empty()) return;
    // Name the document, not just the byte, when a file is not UTF-8.
    for (size_t i = 0; i < texts.size(); ++i) check_utf8(texts[i], "[data] " + sources[i]);
    auto ids = tok.encode_batch(texts, enc, threads);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (bos && (ids[i].empty() || ids[i].front() != *bos)) ids[i].insert(ids[i].begin(), *bos);
      if (eos && (ids[i].empty() || ids[i].back() != *eos)) ids[i].push_back(*eos);
      writer.add(ids[i], sources[i]);
    }
    done_bytes += static_cast<int64_t>(chunk_bytes);
    if (progress) progress(std::min(done_bytes, total_bytes), total_bytes);
    texts.clear();
    sources.clear();
    chunk_bytes = 0;
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& file = files[i];
    std::string bytes = io::read_file(file);
    inputs.push_back({{"path", file},
                      {"size", static_cast<int64_t>(bytes.size())},
                      {"mtime_ns", stats[i].mtime_ns},
                      {"sha256", sha256_hex(bytes)}});
    read_corpus_text(corpus, file, std::move(bytes), [&](Document&& d) {
      chunk_bytes += d.text.size();
      texts.push_back(std::move(d.text));
      sources.push_back(std::move(d.source));
      if (chunk_bytes >= kChunkBytes) flush();
    });
  }
  flush();
  if (progress) progress(total_bytes, total_bytes);
  VOLT_CHECK(writer.documents() > 0, "[data] ", corpus.paths.empty() ? "" : corpus.paths[0],
             ": the corpus has no documents (every one is empty or whitespace)");
  Json meta = spec;
  meta["dtype"] = bytes_per_token == 2 ? "uint16" : "uint32";
  meta["vocab_size"] = vocab;
  meta["documents"] = writer.documents();
  meta["tokens"] = writer.tokens();
  meta["input_bytes"] = total_bytes;
  meta["shards"] = writer.finish();
  meta["inputs"] = std::move(inputs);
  return meta;
}

}  // namespace

std::string default_cache_dir() {
  if (const char* d = std::getenv("VOLT_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return (fs::path(x) / "volt" / "data").string();
  if (const char* h = std::getenv("HOME"); h && *h)
    return (fs::path(h) / ".cache" / "volt" / "data").string();
  return (fs::path(".cache") / "volt" / "data").string();
}

std::string fingerprint_path(const std::string& path) {
  VOLT_CHECK(fs::exists(path), "[data] ", path, ": no such file or directory");
  if (!fs::is_directory(path)) return sha256_hex(io::read_file(path));
  // Only what load_tokenizer reads: a checkpoint directory also holds gigabytes of weights.
  auto is_tokenizer_file = [](const fs::path& p) {
    static const std::set<std::string> names = {
        "tokenizer.json", "tokenizer_config.json",   "vocab.json",
        "merges.txt",     "special_tokens_map.json", "added_tokens.json"};
    const auto ext = p.extension().string();
    return names.count(p.filename().string()) > 0 || ext == ".model" || ext == ".tiktoken";
  };
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path)) {
    if (e.is_regular_file() && is_tokenizer_file(e.path())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  Sha256 h;
  for (const auto& f : files) {
    h.update(f.filename().string());
    h.update(std::string_view("\0", 1));
    h.update(sha256_hex(io::read_file(f.string())));
  }
  return h.hex_digest();
}

TokenCache TokenCache::open_or_build(const CorpusOptions& corpus, const Tokenizer& tok,
                                     const std::string& fingerprint, const TokenCacheOptions& o,
                                     const Progress& progress, TokenCacheReport* report) {
  const auto t0 = std::chrono::steady_clock::now();
  validate(corpus);
  const Json spec = spec_of(corpus, fingerprint, o);
  const std::string key = sha256_hex(spec.dump()).substr(0, 16);
  const fs::path root = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  const fs::path dir = root / (sanitize(o.name) + "-" + key);
  const auto files = corpus_files(corpus);
  const int threads = o.threads > 0
                          ? o.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  TokenCacheReport r;
  auto done = [&](TokenCache cache) {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (report) *report = r;
    return cache;
  };
  // The cache when it is current; else why not, in r.reason.
  auto current = [&]() -> std::optional<TokenCache> {
    r.reason = o.force_rebuild ? "rebuild requested" : "new";
    if (o.force_rebuild || !fs::exists(dir / "meta.json")) return std::nullopt;
    try {
      Json meta = io::read_json((dir / "meta.json").string());
      bool refreshed = false;
      r.reason = stale_inputs(meta.at("inputs"), files, &refreshed);
      if (!r.reason.empty()) return std::nullopt;
      TokenCache cache = open(dir.string());
      if (refreshed) {
        // Best effort: a read-only or shared cache stays usable; the next open hashes again.
        try {
          io::write_json((dir / "meta.json").string(), meta);
        } catch (const std::exception&) {
        }
      }
      r.input_bytes = meta.value("input_bytes", int64_t{0});
      return cache;
    } catch (const std::exception& e) {  // volt, JSON and filesystem errors alike
      r.reason = std::string("unreadable cache (") + e.what() + ")";
      return std::nullopt;
    }
  };
  if (auto cache = current()) return done(std::move(*cache));

  // Build under a lock: concurrent runs on one cache (a sweep, prepare beside fit) build it once.
  fs::create_directories(root);
  FileLock lock((root / (dir.filename().string() + ".lock")).string());
  if (!o.force_rebuild) {
    if (auto cache = current()) return done(std::move(*cache));  // another process built it
  }
  const std::string unique =
      std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const fs::path tmp = root / (dir.filename().string() + ".tmp-" + unique);
  fs::create_directories(tmp);
  try {
    Json meta = build(corpus, tok, spec, files, o, tmp.string(), progress, threads);
    meta["build_seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    io::write_json((tmp / "meta.json").string(), meta);
    r.input_bytes = meta["input_bytes"].get<int64_t>();
    // Publish: a reader sees the old directory or the new one, never a half-written one.
    const fs::path old = root / (dir.filename().string() + ".old-" + unique);
    if (fs::exists(dir)) fs::rename(dir, old);
    fs::rename(tmp, dir);
    fsync_dir(root.string());
    std::error_code ec;
    fs::remove_all(old, ec);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  r.built = true;
  return done(open(dir.string()));
}

TokenCache TokenCache::open(const std::string& dir) {
  try {
    return open_checked(dir);
  } catch (const nlohmann::json::exception& e) {
    VOLT_FAIL("[data] token cache ", dir, "/meta.json: ", e.what());
  }
}

TokenCache TokenCache::open_checked(const std::string& dir) {
  TokenCache c;
  c.dir_ = dir;
  const std::string where = "[data] token cache " + dir;
  c.meta_ = io::read_json((fs::path(dir) / "meta.json").string());
  VOLT_CHECK(c.meta_.value("format_version", 0) == kFormatVersion, where,
             ": format_version is not ", kFormatVersion);
  const std::string dtype = c.meta_.value("dtype", "");
  VOLT_CHECK(dtype == "uint16" || dtype == "uint32", where, ": unknown dtype '", dtype, "'");
  c.bytes_per_token_ = dtype == "uint16" ? 2 : 4;
  c.vocab_size_ = c.meta_.value("vocab_size", int64_t{0});
  const int64_t docs = c.meta_.value("documents", int64_t{-1});
  const int64_t tokens = c.meta_.value("tokens", int64_t{-1});

  io::MappedFile index((fs::path(dir) / "index.bin").string(), where + "/index.bin");
  VOLT_CHECK(docs >= 0 && index.size() == static_cast<size_t>(docs + 1) * sizeof(int64_t), where,
             "/index.bin: ", index.size(), " bytes, want ", (docs + 1) * 8, " for ", docs,
             " documents");
  c.offsets_.resize(static_cast<size_t>(docs + 1));
  std::memcpy(c.offsets_.data(), index.data(), index.size());
  VOLT_CHECK(c.offsets_.front() == 0 && c.offsets_.back() == tokens &&
                 std::is_sorted(c.offsets_.begin(), c.offsets_.end()),
             where, "/index.bin: offsets are not increasing from 0 to ", tokens);

  int64_t expect_first = 0;
  for (const auto& s : c.meta_.at("shards")) {
    auto shard = std::make_shared<Shard>();
    const std::string file = s.value("file", "");
    shard->first_token = s.value("first_token", int64_t{-1});
    shard->tokens = s.value("tokens", int64_t{-1});
    shard->file = io::MappedFile((fs::path(dir) / file).string(), where + "/" + file);
    VOLT_CHECK(shard->first_token == expect_first &&
                   shard->file.size() == static_cast<size_t>(shard->tokens * c.bytes_per_token_),
               where, "/", file, ": ", shard->file.size(), " bytes, want ",
               shard->tokens * c.bytes_per_token_, " (", shard->tokens, " tokens)");
    expect_first += shard->tokens;
    c.shards_.push_back(std::move(shard));
  }
  VOLT_CHECK(expect_first == tokens, where, ": the shards hold ", expect_first,
             " tokens, meta.json says ", tokens);
  return c;
}

int64_t TokenCache::document_length(int64_t doc) const {
  VOLT_CHECK(doc >= 0 && doc < num_documents(), "[data] document ", doc, " is out of range (",
             num_documents(), " documents)");
  return offsets_[static_cast<size_t>(doc) + 1] - offsets_[static_cast<size_t>(doc)];
}

std::vector<int64_t> TokenCache::document_lengths() const {
  std::vector<int64_t> n(static_cast<size_t>(num_documents()));
  for (size_t d = 0; d < n.size(); ++d) n[d] = offsets_[d + 1] - offsets_[d];
  return n;
}

void TokenCache::read(int64_t doc, int64_t begin, int64_t count, int64_t* out) const {
  const int64_t n = document_length(doc);
  VOLT_CHECK(begin >= 0 && count >= 0 && begin + count <= n, "[data] tokens [", begin, ", ",
             begin + count, ") are outside document ", doc, " (", n, " tokens)");
  const int64_t first = offsets_[static_cast<size_t>(doc)] + begin;
  // The shard holding the document: the last one starting at or before it.
  auto it = std::upper_bound(
      shards_.begin(), shards_.end(), first,
      [](int64_t t, const std::shared_ptr<Shard>& s) { return t < s->first_token; });
  const Shard& s = **(it - 1);
  VOLT_CHECK(first + count <= s.first_token + s.tokens, "[data] token cache ", dir_, ": document ",
             doc, " runs past the end of its shard (index.bin and the shards disagree)");
  const uint8_t* p = s.file.data() + (first - s.first_token) * bytes_per_token_;
  if (bytes_per_token_ == 2) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out[i] = v;
    }
  } else {
    for (int64_t i = 0; i < count; ++i) {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = v;
    }
  }
}

std::vector<int64_t> TokenCache::document(int64_t doc) const {
  std::vector<int64_t> ids(static_cast<size_t>(document_length(doc)));
  read(doc, 0, static_cast<int64_t>(ids.size()), ids.data());
  return ids;
}

}  // namespace volt::data

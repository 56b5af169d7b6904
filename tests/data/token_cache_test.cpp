// The token cache: what it stores equals what the tokenizer gives, it is reopened rather than
// rebuilt, rebuilt exactly when an input or a setting changes, and damage is repaired.
#include "volt/data/token_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "test_data.h"
#include "test_util.h"
#include "volt/io/files.h"

namespace volt::data {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::ScopedTempDir;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

struct Fixture {
  ScopedTempDir tmp;
  std::shared_ptr<Tokenizer> tok = load_tokenizer(volt_test_data("tokenizers/gpt2/tokenizer.json"));
  std::string fp = fingerprint_path(volt_test_data("tokenizers/gpt2/tokenizer.json"));
  CorpusOptions corpus;
  TokenCacheOptions opts;
  Fixture() {
    write(tmp / "a.txt", "Hello world\n\nSecond doc <|endoftext|> here\n");
    write(tmp / "b.txt", "  \nThird document.\n");
    corpus.format = "text";
    corpus.split = "line";
    corpus.paths = {tmp / "*.txt"};
    opts.cache_dir = tmp / "cache";
    opts.threads = 2;
  }
  TokenCache open(TokenCacheReport* r) { return TokenCache::open_or_build(corpus, *tok, fp, opts, {}, r); }
};

TEST(TokenCache, StoresWhatTheTokenizerGivesPlusEos) {
  Fixture f;
  TokenCacheReport r;
  const auto cache = f.open(&r);
  EXPECT_TRUE(r.built);
  EXPECT_EQ(r.reason, "new");
  ASSERT_EQ(cache.num_documents(), 3);
  EXPECT_EQ(cache.bytes_per_token(), 2);
  const std::vector<std::string> docs = {"Hello world", "Second doc <|endoftext|> here", "Third document."};
  EncodeOptions plain;
  plain.parse_special = false;  // the literal "<|endoftext|>" in a document stays text
  int64_t total = 0;
  for (int64_t d = 0; d < 3; ++d) {
    auto want = f.tok->encode(docs[d], plain);
    want.push_back(50256);
    EXPECT_EQ(cache.document(d), want) << docs[d];
    total += static_cast<int64_t>(want.size());
  }
  EXPECT_EQ(cache.num_tokens(), total);
  std::vector<int64_t> mid(2);
  cache.read(1, 1, 2, mid.data());
  const auto doc1 = cache.document(1);
  EXPECT_EQ(mid, std::vector<int64_t>(doc1.begin() + 1, doc1.begin() + 3));
  EXPECT_NE(error_of([&] { cache.read(0, 1, 100, mid.data()); }).find("outside document 0"),
            std::string::npos);
}

TEST(TokenCache, ReopensUntilAnInputOrASettingChanges) {
  Fixture f;
  TokenCacheReport r;
  const std::string dir = f.open(&r).dir();
  f.open(&r);
  EXPECT_FALSE(r.built);
  // Touched but not edited: reopened, not rebuilt.
  fs::last_write_time(f.tmp / "a.txt", fs::last_write_time(f.tmp / "a.txt") + std::chrono::seconds(5));
  f.open(&r);
  EXPECT_FALSE(r.built);
  // Edited: rebuilt in place, with the reason.
  write(f.tmp / "b.txt", "Third document, edited.\n");
  auto c = f.open(&r);
  EXPECT_TRUE(r.built);
  EXPECT_NE(r.reason.find("b.txt"), std::string::npos) << r.reason;
  EXPECT_EQ(c.dir(), dir);
  // A new file.
  write(f.tmp / "c.txt", "Fourth.\n");
  c = f.open(&r);
  EXPECT_TRUE(r.built);
  EXPECT_EQ(c.num_documents(), 4);
  // Another setting is another cache.
  f.opts.append_eos = false;
  c = f.open(&r);
  EXPECT_TRUE(r.built);
  EXPECT_NE(c.dir(), dir);
  EXPECT_NE(c.document(0).back(), 50256);
  // Leftovers of the builds are gone: only the two cache directories remain (beside their locks).
  int dirs = 0;
  for (const auto& e : fs::directory_iterator(f.opts.cache_dir)) {
    if (e.is_directory()) ++dirs;
    else EXPECT_EQ(e.path().extension(), ".lock") << e.path();
  }
  EXPECT_EQ(dirs, 2);
}

TEST(TokenCache, RepairsADamagedCache) {
  Fixture f;
  TokenCacheReport r;
  const std::string dir = f.open(&r).dir();
  fs::resize_file(fs::path(dir) / "tokens-00000.bin", 3);
  EXPECT_NE(error_of([&] { TokenCache::open(dir); }).find("tokens-00000.bin: 3 bytes"), std::string::npos);
  const auto c = f.open(&r);
  EXPECT_TRUE(r.built);
  EXPECT_NE(r.reason.find("unreadable cache"), std::string::npos) << r.reason;
  EXPECT_EQ(c.num_documents(), 3);
}

TEST(TokenCache, ShardsSplitBetweenDocumentsAndReadBackTheSame) {
  Fixture f;
  std::string many;
  for (int i = 0; i < 200; ++i) many += "line number " + std::to_string(i) + " of the corpus\n";
  write(f.tmp / "a.txt", many);
  TokenCacheReport r;
  const auto whole = f.open(&r);
  f.opts.shard_tokens = 50;
  f.opts.name = "small-shards";
  f.opts.force_rebuild = true;
  const auto sharded = f.open(&r);
  EXPECT_GT(sharded.meta()["shards"].size(), 20u);
  ASSERT_EQ(sharded.num_documents(), whole.num_documents());
  for (int64_t d = 0; d < whole.num_documents(); ++d) EXPECT_EQ(sharded.document(d), whole.document(d));
}

TEST(TokenCache, WideVocabulariesUseUint32) {
  Fixture f;
  const std::string path = volt_test_data("tokenizers/llama3/tokenizer.json");
  auto llama3 = load_tokenizer(path);
  TokenCacheReport r;
  f.opts.add_bos = true;
  const auto c = TokenCache::open_or_build(f.corpus, *llama3, fingerprint_path(path), f.opts, {}, &r);
  EXPECT_EQ(c.bytes_per_token(), 4);
  EXPECT_EQ(c.meta()["dtype"], "uint32");
  // add_bos prepends <|begin_of_text|> (128000); EOS is <|end_of_text|> (128001).
  const auto d0 = c.document(0);
  EXPECT_EQ(d0.front(), 128000);
  EXPECT_EQ(d0.back(), *llama3->eos_id());
  EXPECT_GT(d0.back(), 65535);
}

TEST(TokenCache, BadInputsNameTheDocument) {
  Fixture f;
  write(f.tmp / "b.txt", "fine\nbad \xff byte\n");
  EXPECT_NE(error_of([&] { f.open(nullptr); }).find("b.txt:2"), std::string::npos)
      << error_of([&] { f.open(nullptr); });
  write(f.tmp / "a.txt", "\n \n");
  write(f.tmp / "b.txt", "\n");
  EXPECT_NE(error_of([&] { f.open(nullptr); }).find("no documents"), std::string::npos);
  // A failed build leaves nothing behind but its lock file.
  int dirs = 0;
  if (fs::exists(f.opts.cache_dir)) {
    for (const auto& e : fs::directory_iterator(f.opts.cache_dir)) dirs += e.is_directory() ? 1 : 0;
  }
  EXPECT_EQ(dirs, 0);
}

TEST(TokenCache, ConcurrentBuildersBuildOnceAndLeaveNoTemporaries) {
  Fixture f;
  std::vector<TokenCacheReport> reports(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] { errors[i] = error_of([&] { f.open(&reports[i]); }); });
  }
  for (auto& t : threads) t.join();
  int built = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(errors[i], "<no error>");
    built += reports[i].built ? 1 : 0;
  }
  EXPECT_EQ(built, 1);  // the others waited on the lock and found the cache current
  for (const auto& e : fs::directory_iterator(f.opts.cache_dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
    EXPECT_EQ(name.find(".old-"), std::string::npos) << name;
  }
}

TEST(TokenCache, FingerprintsChangeWithContent) {
  ScopedTempDir tmp;
  fs::create_directories(tmp / "tok");
  write(tmp / "tok/tokenizer.json", "{}");
  const auto a = fingerprint_path(tmp / "tok");
  write(tmp / "tok/tokenizer_config.json", "{}");
  const auto b = fingerprint_path(tmp / "tok");
  EXPECT_NE(a, b);
  EXPECT_EQ(b, fingerprint_path(tmp / "tok"));
  // A checkpoint directory's weights are not part of the tokenizer's identity.
  write(tmp / "tok/model.safetensors", "weights");
  EXPECT_EQ(b, fingerprint_path(tmp / "tok"));
  EXPECT_EQ(fingerprint_path(tmp / "tok/tokenizer.json").size(), 64u);
}

}  // namespace
}  // namespace volt::data

// The byte-level BPE trainer: merges derived by hand on a one-word corpus, special tokens,
// min_frequency and vocab_size, round trips on Tiny Shakespeare, save/load, and parity with
// Hugging Face: the `tokenizers` crate's BpeTrainer (through its Node binding) learns the same
// merge list on Tiny Shakespeare, and the crate and tokenizers.js give the same ids as volt when
// they load volt's trained tokenizer.json. The reference figures come from
// scripts/bpe_trainer_reference.mjs (run instructions at its top).
#include "volt/tokenizers/bpe_trainer.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/core/sha256.h"
#include "volt/io/files.h"

namespace volt {
namespace {

using test::error_of;
using test::ScopedTempDir;
using Merges = std::vector<std::pair<std::string, std::string>>;

Merges merges_of(const nlohmann::ordered_json& tokenizer_json) {
  Merges out;
  for (const auto& m : tokenizer_json.at("model").at("merges")) out.emplace_back(m.at(0), m.at(1));
  return out;
}

nlohmann::ordered_json train_text(const std::string& text, int64_t vocab_size,
                                  int64_t min_frequency = 0,
                                  std::vector<std::string> special_tokens = {}) {
  BpeTrainerOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  o.special_tokens = std::move(special_tokens);
  BpeTrainer trainer(o);
  trainer.feed(text);
  return trainer.train();
}

const std::string& shakespeare_path() {
  static const std::string path = volt_test_data("corpora/tinyshakespeare/input.txt");
  return path;
}

// "aaabdaaabac" is one word (GPT-2's regex keeps letters together). Byte-level ids: the 94
// printable ASCII characters come first in code-point order, so 'a' = 64, 'b' = 65, 'c' = 66,
// 'd' = 67, and merges take ids 256, 257, ...
//   pairs: aa 4, ab 2, bd 1, da 1, ba 1, ac 1          -> merge a+a   (most frequent)
//   aa a b d aa a b a c: (aa,a) 2, (a,b) 2 ...         -> merge a+b   (tie: (64,65) < (256,64))
//   aa ab d aa ab a c: (aa,ab) 2, the rest 1            -> merge aa+ab
//   aaab d aaab a c: all 1; smallest pair (a,c)=(64,66) -> merge a+c
//   aaab d aaab ac: (258,67) (67,258) (258,259)         -> merge d+aaab  (67 is smallest)
//   aaab daaab ac: (258,260) (260,259)                  -> merge aaab+daaab
//   aaabdaaab ac                                        -> merge aaabdaaab+ac, then nothing left
// The crate's trainer gives exactly this list (scripts/bpe_trainer_reference.mjs, "tiny merges").
const Merges kTinyMerges = {{"a", "a"},    {"a", "b"},        {"aa", "ab"},       {"a", "c"},
                            {"d", "aaab"}, {"aaab", "daaab"}, {"aaabdaaab", "ac"}};

TEST(BpeTrainer, HandDerivedMergesOnATinyCorpus) {
  const auto j = train_text("aaabdaaabac", 1000);
  EXPECT_EQ(merges_of(j), kTinyMerges);
  const auto& vocab = j.at("model").at("vocab");
  EXPECT_EQ(vocab.size(), 256u + 7u);  // training stops when no pair is left
  EXPECT_EQ(vocab.at("a"), 64);
  EXPECT_EQ(vocab.at("!"), 0);
  EXPECT_EQ(vocab.at("aa"), 256);
  EXPECT_EQ(vocab.at("aaab"), 258);
  EXPECT_EQ(vocab.at("aaabdaaabac"), 262);
}

TEST(BpeTrainer, VocabSizeIsRespected) {
  const auto j = train_text("aaabdaaabac", 258);
  EXPECT_EQ(merges_of(j), Merges(kTinyMerges.begin(), kTinyMerges.begin() + 2));
  EXPECT_EQ(j.at("model").at("vocab").size(), 258u);

  BpeTrainerOptions o;
  o.vocab_size = 2000;
  o.special_tokens = {"<|endoftext|>"};
  BpeTrainer trainer(o);
  trainer.feed_file(shakespeare_path());
  auto tok = trainer.tokenizer();
  EXPECT_EQ(tok->vocab_size(), 2000);
  EXPECT_EQ(trainer.stats().merges, 2000 - 1 - 256);
}

TEST(BpeTrainer, MinFrequencyStopsAtTheFirstRarePair) {
  // After a+a (4), a+b (2), aa+ab (2) every pair occurs once.
  EXPECT_EQ(merges_of(train_text("aaabdaaabac", 1000, 2)),
            Merges(kTinyMerges.begin(), kTinyMerges.begin() + 3));
  EXPECT_EQ(merges_of(train_text("aaabdaaabac", 1000, 3)), Merges({{"a", "a"}}));
  EXPECT_TRUE(merges_of(train_text("aaabdaaabac", 1000, 5)).empty());
  // Word counts weight the pairs: words "ab" x1 and " ab" x3, so (a,b) occurs 4 times, then
  // (Ġ,ab) 3 times; at 4 only the first merge is frequent enough.
  EXPECT_EQ(merges_of(train_text("ab ab ab ab", 1000, 3)), (Merges{{"a", "b"}, {"Ġ", "ab"}}));
  EXPECT_EQ(merges_of(train_text("ab ab ab ab", 1000, 4)), (Merges{{"a", "b"}}));
}

TEST(BpeTrainer, SpecialTokensTakeTheFirstIds) {
  const auto j = train_text("aaabdaaabac", 1000, 0, {"<|endoftext|>", "<pad>"});
  const auto& vocab = j.at("model").at("vocab");
  EXPECT_EQ(vocab.at("<|endoftext|>"), 0);
  EXPECT_EQ(vocab.at("<pad>"), 1);
  EXPECT_EQ(vocab.at("!"), 2);
  EXPECT_EQ(vocab.at("a"), 66);
  EXPECT_EQ(vocab.at("aa"), 258);
  EXPECT_EQ(merges_of(j), kTinyMerges);  // the shift changes no comparison between pairs
  const auto& added = j.at("added_tokens");
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].at("content"), "<|endoftext|>");
  EXPECT_EQ(added[0].at("id"), 0);
  EXPECT_EQ(added[0].at("special"), true);
  EXPECT_EQ(added[1].at("content"), "<pad>");
  EXPECT_EQ(added[1].at("id"), 1);
  // Hugging Face's layout around the model.
  EXPECT_EQ(j.at("version"), "1.0");
  EXPECT_TRUE(j.at("normalizer").is_null());
  EXPECT_EQ(j.at("pre_tokenizer").at("type"), "ByteLevel");
  EXPECT_EQ(j.at("pre_tokenizer").at("add_prefix_space"), false);
  EXPECT_EQ(j.at("post_processor").at("type"), "ByteLevel");
  EXPECT_EQ(j.at("decoder").at("type"), "ByteLevel");
  EXPECT_EQ(j.at("model").at("type"), "BPE");
  // Vocabulary written in id order, as the crate writes it.
  int64_t expect = 0;
  for (const auto& item : vocab.items()) EXPECT_EQ(item.value(), expect++);
}

TEST(BpeTrainer, BadOptionsAndInputsAreClearErrors) {
  EXPECT_NE(error_of([] { train_text("abc", 200); }).find("vocab_size 200 is too small"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              train_text("abc", 257, 0, {"<s>", "</s>"});
            }).find("need 258"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              BpeTrainer t;
              t.feed("ok \xff bad");
            }).find("[bpe_trainer] text: invalid UTF-8 at byte 3"),
            std::string::npos);
  ScopedTempDir dir;
  EXPECT_NE(error_of([&] { BpeTrainer().feed_file(dir / "missing.txt"); }).find("missing.txt"),
            std::string::npos);
  EXPECT_NE(error_of([] { BpeTrainer().tokenizer_json(); }).find("train() has not run"),
            std::string::npos);
}

TEST(BpeTrainer, RoundTripsTinyShakespeareAndSavesLoads) {
  BpeTrainerOptions o;
  o.vocab_size = 1024;
  o.min_frequency = 2;
  o.special_tokens = {"<|endoftext|>"};
  std::vector<int64_t> progress_stages;
  o.on_progress = [&](const BpeTrainerProgress& p) {
    EXPECT_LE(p.current, p.total);
    progress_stages.push_back(p.current);
  };
  BpeTrainer trainer(o);
  trainer.feed_file(shakespeare_path());
  auto tok = trainer.tokenizer();
  EXPECT_FALSE(progress_stages.empty());
  const std::string text = io::read_file(shakespeare_path());
  const auto ids = tok->encode(text);
  EXPECT_EQ(tok->decode(ids), text);
  // 1024 tokens compress Shakespeare to under half the bytes (2.43 bytes/token).
  EXPECT_GT(static_cast<double>(text.size()) / static_cast<double>(ids.size()), 2.4);
  EXPECT_EQ(tok->eos_id(), 0);
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->encode("<|endoftext|>"), (std::vector<int64_t>{0}));
  // Text the corpus never had still round-trips: 256 byte symbols cover any UTF-8.
  const std::string odd = "naïve café — 東京 🤖 \t\r\n  ";
  EXPECT_EQ(tok->decode(tok->encode(odd)), odd);

  ScopedTempDir dir;
  tok->save(dir.path());
  const auto cfg = io::read_json(dir / "tokenizer_config.json");
  EXPECT_EQ(cfg.at("bos_token"), "<|endoftext|>");
  EXPECT_EQ(cfg.at("eos_token"), "<|endoftext|>");
  for (const std::string& path : {dir.path(), dir / "tokenizer.json"}) {
    const auto loaded = load_tokenizer(path);
    EXPECT_EQ(loaded->vocab_size(), 1024);
    EXPECT_EQ(loaded->encode(text), ids);
    EXPECT_EQ(loaded->eos_id(), 0);
  }
  // The file on disk is the trainer's JSON, keys in the crate's order.
  EXPECT_EQ(io::read_file(dir / "tokenizer.json"), trainer.tokenizer_json().dump(2));
}

TEST(BpeTrainer, TokenizerConfigNamesBosAndEos) {
  EXPECT_FALSE(bpe_tokenizer_config({}).contains("bos_token"));
  const auto gpt2 = bpe_tokenizer_config({"<|endoftext|>"});
  EXPECT_EQ(gpt2.at("bos_token"), "<|endoftext|>");
  EXPECT_EQ(gpt2.at("eos_token"), "<|endoftext|>");
  const auto llama = bpe_tokenizer_config({"<unk>", "<s>", "</s>", "<pad>"});
  EXPECT_EQ(llama.at("bos_token"), "<s>");
  EXPECT_EQ(llama.at("eos_token"), "</s>");
  EXPECT_EQ(llama.at("pad_token"), "<pad>");
  EXPECT_FALSE(bpe_tokenizer_config({"<mask>"}).contains("pad_token"));
}

// ---------------------------------------------------------------- parity with Hugging Face
// scripts/bpe_trainer_reference.mjs, `tokenizers` 0.23.2 (the crate's Node binding). Its trainer
// runs with the crate's defaults: min_frequency 0, vocab_size 30000 (never reached: Tiny
// Shakespeare runs out of pairs after 21271 merges) and an alphabet of only the 65 characters
// the corpus has. Neither difference changes a merge: the ids of the seen characters keep their
// code-point order inside our 256, and merged tokens are numbered in the same order, so every
// comparison between two pairs, tie-breaks included, comes out the same.
constexpr int64_t kHfMerges = 21271;
constexpr const char* kHfMergesSha256 =
    "0a891e142d9e04f6d6b9e16e98855724428611c77301f03b4094c1af66cf2597";
const Merges kHfFirst50 = {
    {"Ġ", "t"},  {"h", "e"},  {"Ġ", "a"},  {"o", "u"},  {"Ġ", "s"},   {"Ġ", "m"},   {"i", "n"},
    {"Ġ", "w"},  {"r", "e"},  {"h", "a"},  {"n", "d"},  {"Ġt", "he"}, {"Ġ", "b"},   {"i", "s"},
    {"o", "r"},  {"Ġ", "f"},  {"e", "r"},  {"l", "l"},  {"i", "t"},   {"o", "n"},   {"Ġ", "d"},
    {"Ġ", "c"},  {"e", "s"},  {"e", "n"},  {"Ġ", "n"},  {"Ġ", "l"},   {"Ġ", "y"},   {"Ġt", "h"},
    {"a", "r"},  {"Ġ", "h"},  {"Ġ", "o"},  {"Ġt", "o"}, {"Ġy", "ou"}, {"Ġ", "p"},   {"ha", "t"},
    {"Ġ", "I"},  {"Ġ", "he"}, {"v", "e"},  {"o", "t"},  {"s", "t"},   {"Ġa", "nd"}, {"o", "w"},
    {"in", "g"}, {"a", "n"},  {"Ġo", "f"}, {"o", "m"},  {"Ġ", "g"},   {"a", "t"},   {"Ġb", "e"},
    {"s", "e"}};
const Merges kHfLast5 = {{"Ġmagnific", "ence"},
                         {"Barklough", "ly"},
                         {"GENTLE", "MEN"},
                         {"fantastic", "oes"},
                         {"Ġmicrocos", "m"}};

TEST(BpeTrainer, MergesMatchHuggingFacesTrainerOnTinyShakespeare) {
  BpeTrainerOptions o;
  o.vocab_size = 256 + kHfMerges + 1000;  // room for more: the corpus must run out first
  o.min_frequency = 0;
  BpeTrainer trainer(o);
  trainer.feed_file(shakespeare_path());
  const Merges merges = merges_of(trainer.train());
  ASSERT_EQ(static_cast<int64_t>(merges.size()), kHfMerges);
  EXPECT_EQ(Merges(merges.begin(), merges.begin() + 50), kHfFirst50);
  EXPECT_EQ(Merges(merges.end() - 5, merges.end()), kHfLast5);
  Sha256 sha;
  for (const auto& [a, b] : merges) sha.update(a + " " + b + "\n");
  EXPECT_EQ(sha.hex_digest(), kHfMergesSha256);
}

// volt's tokenizer (vocab 2000, min_frequency 2, <|endoftext|>) loaded by the crate and by
// tokenizers.js: both give these ids (the script checks they agree with each other).
constexpr const char* kSample =
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n  O Romeo, Romeo! wherefore "
    "art thou Romeo?<|endoftext|>naïve café — 東京 🤖 1234567 it's   spaced\tout\n";
const std::vector<int64_t> kHfSampleIds = {
    672, 1197, 26,  199, 775, 549, 332,  585, 1813, 803, 272, 362, 715, 12,  675,  318,
    617, 14,   199, 199, 221, 532, 1166, 12,  1166, 1,   711, 549, 743, 343, 1166, 31,
    0,   78,   65,  128, 108, 294, 278,  65,  70,   128, 103, 221, 159, 223, 243,  221,
    163, 252,  110, 161, 119, 106, 221,  173, 254,  98,  245, 221, 17,  18,  19,   20,
    21,  22,   23,  339, 321, 221, 221,  411, 860,  68,  198, 487, 199};
constexpr size_t kHfCorpusIds = 390480;
constexpr const char* kHfCorpusIdsSha256 =
    "544dbaf844bfe345b5d780c3991e1d1be66a85965359dba7d55202ef3547654c";

TEST(BpeTrainer, TrainedTokenizerEncodesLikeHuggingFace) {
  BpeTrainerOptions o;
  o.vocab_size = 2000;
  o.min_frequency = 2;
  o.special_tokens = {"<|endoftext|>"};
  BpeTrainer trainer(o);
  trainer.feed_file(shakespeare_path());
  auto tok = trainer.tokenizer();
  EXPECT_EQ(tok->encode(kSample), kHfSampleIds);
  const auto ids = tok->encode(io::read_file(shakespeare_path()));
  ASSERT_EQ(ids.size(), kHfCorpusIds);
  std::string joined;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) joined += ' ';
    joined += std::to_string(ids[i]);
  }
  EXPECT_EQ(sha256_hex(joined), kHfCorpusIdsSha256);
}

}  // namespace
}  // namespace volt

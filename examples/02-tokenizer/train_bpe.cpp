// Example 02: train byte-level BPE tokenizers on Tiny Shakespeare and weigh vocabulary size.
//
// For each vocabulary size V it trains a tokenizer on the first 90% of the corpus (volt's
// BpeTrainer, Hugging Face's algorithm), then measures on the held-out last 10%:
//   - compression: bytes per token and tokens per word (fewer tokens = shorter sequences);
//   - the price: V x d embedding parameters (and as many multiply-adds per token in the output
//     softmax when the weights are tied), against how much text a fixed context of T tokens holds.
// Baselines: characters (nanoGPT's Shakespeare vocabulary) and GPT-2's 50,257-token tokenizer,
// trained on web text rather than on Shakespeare.
//
//   cmake --build build --target example02_tokenizer && ./build/bin/example02_tokenizer
//   ./build/bin/example02_tokenizer --vocab-sizes 512,1024,4096,8192 --out tok/
//
// Exits 1 when a tokenizer fails to round-trip the held-out text or compression does not grow
// with V, so ctest can run it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "example_data.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/bpe_trainer.h"
#include "volt/tokenizers/char_tokenizer.h"
#include "volt/tokenizers/tokenizer.h"

// The model whose embedding we price: babyGPT-sized (nanoGPT's Shakespeare model uses 384).
constexpr int64_t kDModel = 384;
// ... with this many Transformer blocks of 12 d^2 weights each (attention 4 d^2, MLP 8 d^2).
constexpr int64_t kLayers = 6;
// A context window of this many tokens; what it holds depends on bytes/token.
constexpr int64_t kContext = 256;
// The held-out tail of the corpus: compression is measured on text the trainer never saw.
constexpr double kHeldOutFraction = 0.1;
constexpr int64_t kMinFrequency = 2;  // pairs seen once are noise (ByteLevelBPETokenizer's default)
const char* const kSpecialToken = "<|endoftext|>";

namespace {

using volt::examples::data_file;

std::vector<int64_t> parse_sizes(const std::string& list) {
  std::vector<int64_t> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    VOLT_CHECK(end != item.c_str() && *end == '\0' && v > 0, "[example02] --vocab-sizes: '", item,
               "' is not a positive integer");
    out.push_back(v);
  }
  VOLT_CHECK(!out.empty(), "[example02] --vocab-sizes is empty");
  return out;
}

int64_t count_words(const std::string& text) {
  std::istringstream in(text);
  std::string w;
  int64_t n = 0;
  while (in >> w) ++n;
  return n;
}

struct Row {
  std::string name;
  int64_t vocab = 0;
  double train_seconds = -1;  // < 0: not trained here
  double bytes_per_token = 0;
  double tokens_per_word = 0;
  bool round_trips = false;
};

Row measure(const std::string& name, const volt::Tokenizer& tok, const std::string& held_out,
            int64_t words, double seconds) {
  const auto ids = tok.encode(held_out);
  Row r;
  r.name = name;
  r.vocab = tok.vocab_size();
  r.train_seconds = seconds;
  r.bytes_per_token = static_cast<double>(held_out.size()) / static_cast<double>(ids.size());
  r.tokens_per_word = static_cast<double>(ids.size()) / static_cast<double>(words);
  r.round_trips = tok.decode(ids) == held_out;
  return r;
}

void print_table(const std::vector<Row>& rows) {
  const double blocks = static_cast<double>(12 * kLayers * kDModel * kDModel);
  std::printf(
      "\nheld-out text: the last %.0f%% of Tiny Shakespeare; a model with d = %lld and %lld "
      "blocks (%.1fM weights besides the embedding); context T = %lld tokens\n\n",
      kHeldOutFraction * 100, static_cast<long long>(kDModel), static_cast<long long>(kLayers),
      blocks / 1e6, static_cast<long long>(kContext));
  std::printf(
      "| tokenizer | V | train s | bytes/token | tokens/word | T tokens hold | "
      "embedding V*d | share of model | round trip |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (const auto& r : rows) {
    char seconds[32] = "-";
    if (r.train_seconds >= 0) std::snprintf(seconds, sizeof(seconds), "%.2f", r.train_seconds);
    const double embedding = static_cast<double>(r.vocab * kDModel);
    std::printf("| %s | %lld | %s | %.2f | %.2f | %.0f bytes | %.2fM | %.0f%% | %s |\n",
                r.name.c_str(), static_cast<long long>(r.vocab), seconds, r.bytes_per_token,
                r.tokens_per_word, r.bytes_per_token * static_cast<double>(kContext),
                embedding / 1e6, 100 * embedding / (embedding + blocks),
                r.round_trips ? "ok" : "FAILED");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string sizes_arg = "512,1024,4096";
  std::string out_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--vocab-sizes" && i + 1 < argc) {
      sizes_arg = argv[++i];
    } else if (arg == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else {
      std::printf(
          "usage: %s [--vocab-sizes 512,1024,4096] [--out DIR]\n"
          "Trains byte-level BPE tokenizers on 90%% of Tiny Shakespeare and compares their\n"
          "compression on the rest with characters and GPT-2. --out saves the largest one.\n"
          "Data: $VOLT_DATA_DIR, else ../shared/data beside the repository.\n",
          argv[0]);
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  try {
    const auto sizes = parse_sizes(sizes_arg);
    const std::string text = volt::io::read_file(data_file("corpora/tinyshakespeare/input.txt"));
    // Cut at a line end so the held-out part starts with a whole line.
    size_t cut = text.find(
        '\n', static_cast<size_t>(static_cast<double>(text.size()) * (1 - kHeldOutFraction)));
    VOLT_CHECK(cut != std::string::npos, "[example02] the corpus has no line break near its end");
    ++cut;
    const std::string train = text.substr(0, cut);
    const std::string held_out = text.substr(cut);
    const int64_t words = count_words(held_out);
    std::printf("Tiny Shakespeare: %zu bytes for training, %zu held out (%lld words)\n",
                train.size(), held_out.size(), static_cast<long long>(words));

    std::vector<Row> rows;
    const auto chars = volt::CharTokenizer::from_text(text);
    rows.push_back(measure("characters", chars, held_out, words, -1));

    std::shared_ptr<volt::HfTokenizer> largest;
    for (const int64_t v : sizes) {
      volt::BpeTrainerOptions options;
      options.vocab_size = v;
      options.min_frequency = kMinFrequency;
      options.special_tokens = {kSpecialToken};
      const auto t0 = std::chrono::steady_clock::now();
      volt::BpeTrainer trainer(options);
      // Line by line, as `volt tokenizer train` and Hugging Face read a training file.
      size_t start = 0;
      while (start < train.size()) {
        const size_t nl = train.find('\n', start);
        const size_t end = nl == std::string::npos ? train.size() : nl + 1;
        trainer.feed(std::string_view(train).substr(start, end - start));
        start = end;
      }
      auto tok = trainer.tokenizer();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rows.push_back(measure("BPE " + std::to_string(v), *tok, held_out, words, seconds));
      // The newest tokens are the longest: whole words and names (Ġ is the space byte).
      const auto& merges = trainer.tokenizer_json()["model"]["merges"];
      std::string newest;
      for (size_t i = merges.size() >= 4 ? merges.size() - 4 : 0; i < merges.size(); ++i) {
        newest += " " + merges[i][0].get<std::string>() + merges[i][1].get<std::string>();
      }
      std::printf("trained V=%lld in %.2f s: %lld merges; the last ones made%s\n",
                  static_cast<long long>(v), seconds,
                  static_cast<long long>(trainer.stats().merges), newest.c_str());
      if (!largest || tok->vocab_size() > largest->vocab_size()) largest = tok;
    }

    const auto gpt2 = volt::load_tokenizer(data_file("tokenizers/gpt2"));
    rows.push_back(measure("GPT-2", *gpt2, held_out, words, -1));
    print_table(rows);

    if (!out_dir.empty()) {
      largest->save(out_dir);
      std::printf("\nsaved V=%lld to %s (tokenizer.json + tokenizer_config.json)\n",
                  static_cast<long long>(largest->vocab_size()), out_dir.c_str());
    }

    bool ok = true;
    for (size_t i = 0; i < rows.size(); ++i) {
      ok = ok && rows[i].round_trips;
      // Among the trained ones (rows 1..sizes), more merges must never compress worse.
      if (i >= 2 && i <= sizes.size() && rows[i].vocab > rows[i - 1].vocab) {
        ok = ok && rows[i].bytes_per_token >= rows[i - 1].bytes_per_token;
      }
    }
    return ok ? 0 : 1;
  } catch (const volt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}

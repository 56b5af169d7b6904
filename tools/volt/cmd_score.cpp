// volt score --model DIR [--adapter DIR] (--text T | --file F | --ids "1 2 3") [--json] [--stride
// N]
//   The mean cross-entropy of each token given the ones before it (nats/token), the number of
//   tokens scored and the perplexity e^loss. Text is encoded with the directory's tokenizer and
//   its special-token template (Llama's BOS, as transformers' tokenizer(text) adds it); --ids are
//   scored exactly as given.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "model_loading.h"
#include "usage.h"
#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/models/pretrained.h"
#include "volt/models/score.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt::cli {

Action add_score(CLI::App& app) {
  struct Args {
    std::string model, adapter, text, file, ids;
    int64_t stride = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option(
      "--model,--checkpoint", a->model,
      "a Hugging Face model or checkpoint directory (an fsdp run's sharded checkpoint too); with "
      "--adapter, the base (default: the adapter's base_model_name_or_path)");
  app.add_option("--adapter", a->adapter,
                 "a LoRA adapter directory (PEFT's format) on top of the model");
  auto* text = app.add_option("--text", a->text, "text to score");
  auto* file =
      app.add_option("--file", a->file, "a UTF-8 text file to score")->check(CLI::ExistingFile);
  auto* ids = app.add_option("--ids", a->ids, "token ids separated by spaces, scored as given");
  text->excludes(file)->excludes(ids);
  file->excludes(ids);
  app.add_option("--stride", a->stride,
                 "window advance for texts longer than the context (0: half of it)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_flag("--json", a->json, "print {\"mean_nll\": x, \"tokens\": n, \"perplexity\": x}");
  return [a]() {
    VOLT_CHECK(!a->text.empty() || !a->file.empty() || !a->ids.empty(),
               "[score] give one of --text, --file or --ids");
    const std::string base = base_model_dir(a->model, a->adapter, "[score]");
    auto model = load_model(base, a->adapter);
    std::vector<int64_t> tokens;
    if (!a->ids.empty()) {
      std::istringstream in(a->ids);
      std::string word;
      while (in >> word) {
        try {
          size_t used = 0;
          tokens.push_back(std::stoll(word, &used));
          VOLT_CHECK(used == word.size(), "");
        } catch (const std::exception&) {
          VOLT_FAIL("[score] --ids: '", word, "' is not an integer token id");
        }
      }
    } else {
      auto tokenizer = load_tokenizer(tokenizer_dir(base, a->adapter));
      EncodeOptions o;
      o.add_special_tokens = true;
      const std::string text = a->text.empty() ? io::read_file(a->file) : a->text;
      check_utf8(text, a->text.empty() ? a->file : "--text");
      tokens = tokenizer->encode(text, o);
    }
    const auto r = score_tokens(*model, tokens, a->stride);
    if (a->json) {
      std::printf("%s\n",
                  nlohmann::json{
                      {"mean_nll", r.mean_nll}, {"tokens", r.tokens}, {"perplexity", r.perplexity}}
                      .dump()
                      .c_str());
    } else {
      std::printf(
          "mean_nll %.6f nats/token over %lld tokens (all but the first), perplexity %.4f\n",
          r.mean_nll, static_cast<long long>(r.tokens), r.perplexity);
    }
    return 0;
  };
}

}  // namespace volt::cli

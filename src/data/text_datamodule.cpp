#include "volt/data/text_datamodule.h"

#include <cstdlib>
#include <filesystem>

#include "volt/core/check.h"
#include "volt/io/files.h"
#include "volt/tokenizers/char_tokenizer.h"

namespace volt {

namespace {

// nanoGPT's get_batch: B random offsets, x = data[i : i+T], y = data[i+1 : i+T+1].
class RandomWindowLoader : public DataLoader {
 public:
  RandomWindowLoader(torch::Tensor data, int64_t block, int64_t batch, int64_t batches, int64_t seed)
      : data_(std::move(data)), block_(block), batch_(batch), batches_(batches), seed_(seed) {}
  int64_t size() const override { return batches_; }
  Batch get(int64_t epoch, int64_t index) const override {
    // A generator per (seed, epoch, index): reproducible, and resumable at any position.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(
        static_cast<uint64_t>(seed_) * 1000003ULL + static_cast<uint64_t>(epoch) * 7919ULL * 1000003ULL +
        static_cast<uint64_t>(index) + 1);
    auto starts = torch::randint(0, data_.numel() - block_, {batch_}, gen, torch::kLong);
    return windows(starts);
  }

 protected:
  Batch windows(const torch::Tensor& starts) const {
    auto offsets = torch::arange(block_ + 1, torch::kLong);  // (T+1)
    auto idx = starts.unsqueeze(1) + offsets.unsqueeze(0);  // (B, T+1)
    auto w = data_.index({idx});                              // (B, T+1)
    Batch b;
    b.input_ids = w.narrow(1, 0, block_).contiguous();
    b.labels = w.narrow(1, 1, block_).contiguous();
    return b;
  }
  torch::Tensor data_;
  int64_t block_, batch_, batches_, seed_;
};

// A fixed validation set: windows at evenly spaced offsets covering the whole split, so the
// estimate is deterministic and does not favour the start of the text.
class FixedWindowLoader : public RandomWindowLoader {
 public:
  using RandomWindowLoader::RandomWindowLoader;
  Batch get(int64_t /*epoch*/, int64_t index) const override {
    const int64_t total = batches_ * batch_;
    const int64_t span = data_.numel() - block_ - 1;
    auto k = torch::arange(index * batch_, (index + 1) * batch_, torch::kLong);
    auto starts = torch::div(k * span, std::max<int64_t>(total - 1, 1), "floor");
    return windows(starts);
  }
};

}  // namespace

TextDataOptions text_data_options_from(ConfigSection& s, TextDataOptions o) {
  o.path = s.require<std::string>("path");
  o.tokenizer = s.get<std::string>("tokenizer", o.tokenizer);
  o.block_size = s.get<int64_t>("block_size", o.block_size);
  o.batch_size = s.get<int64_t>("batch_size", o.batch_size);
  o.val_fraction = s.get<double>("val_fraction", o.val_fraction);
  o.val_batches = s.get<int64_t>("val_batches", o.val_batches);
  o.seed = s.get<int64_t>("seed", o.seed);
  o.train_batches_per_epoch = s.get<int64_t>("train_batches_per_epoch", o.train_batches_per_epoch);
  VOLT_CHECK(o.block_size > 0, "[data] block_size must be positive, got ", o.block_size);
  VOLT_CHECK(o.batch_size > 0, "[data] batch_size must be positive, got ", o.batch_size);
  VOLT_CHECK(o.val_fraction > 0 && o.val_fraction < 1, "[data] val_fraction must be in (0, 1), got ",
             o.val_fraction);
  VOLT_CHECK(o.val_batches > 0, "[data] val_batches must be positive, got ", o.val_batches);
  return o;
}

TextDataModule::TextDataModule(TextDataOptions options) : options_(std::move(options)) {}

void TextDataModule::prepare_data() {
  options_.path = resolve_data_path(options_.path);
  // A tokenizer path may be relative to the data directory too ("tokenizers/gpt2").
  if (options_.tokenizer != "char") options_.tokenizer = resolve_data_path(options_.tokenizer);
}

void TextDataModule::setup(const std::string& /*stage*/) {
  if (train_.defined()) return;  // already set up (the CLI sets up early to size the vocabulary)
  const std::string text = io::read_file(options_.path);
  VOLT_CHECK(!text.empty(), "[data] ", options_.path, ": the corpus is empty");
  check_utf8(text, options_.path);  // the message names the file, not just "text"
  if (!tokenizer_) {
    if (options_.tokenizer == "char") {
      tokenizer_ = std::make_shared<CharTokenizer>(CharTokenizer::from_text(text));
    } else {
      tokenizer_ = load_tokenizer(options_.tokenizer);
    }
  }
  // nanoGPT splits the characters at 90%; split the text at the same point, then tokenize.
  auto ids = tokenizer_->encode(text);
  auto all = torch::from_blob(ids.data(), {static_cast<int64_t>(ids.size())}, torch::kLong).clone();
  const auto n_train = static_cast<int64_t>(static_cast<double>(all.numel()) * (1.0 - options_.val_fraction));
  train_ = all.narrow(0, 0, n_train);
  val_ = all.narrow(0, n_train, all.numel() - n_train);
  const int64_t need = options_.block_size + 2;
  VOLT_CHECK(train_.numel() >= need && val_.numel() >= need, "[data] ", options_.path, ": ",
             all.numel(), " tokens are too few for block_size ", options_.block_size,
             " (each split needs at least ", need, ")");
}

std::shared_ptr<DataLoader> TextDataModule::train_dataloader() {
  VOLT_CHECK(train_.defined(), "[data] call setup() before train_dataloader()");
  int64_t batches = options_.train_batches_per_epoch;
  if (batches <= 0) batches = std::max<int64_t>(1, train_.numel() / (options_.block_size * options_.batch_size));
  return std::make_shared<RandomWindowLoader>(train_, options_.block_size, options_.batch_size,
                                              batches, options_.seed);
}

std::shared_ptr<DataLoader> TextDataModule::val_dataloader() {
  VOLT_CHECK(val_.defined(), "[data] call setup() before val_dataloader()");
  return std::make_shared<FixedWindowLoader>(val_, options_.block_size, options_.batch_size,
                                             options_.val_batches, options_.seed);
}

}  // namespace volt

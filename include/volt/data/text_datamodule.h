// A DataModule over one text file: tokenize it, split it (first 90% train, the rest validation),
// sample random windows for training as nanoGPT does, and cut a fixed validation set.
#pragma once

#include <memory>
#include <string>

#include "volt/core/config.h"
#include "volt/data/data_path.h"
#include "volt/data/datamodule.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

struct TextDataOptions {
  std::string path;                     // the text file
  std::string tokenizer = "char";       // "char": built from the text itself; else a tokenizer path
  int64_t block_size = 64;              // tokens per window (T)
  int64_t batch_size = 12;              // windows per batch (B)
  double val_fraction = 0.1;            // the tail of the file
  int64_t val_batches = 20;             // size of the fixed validation set, in batches
  int64_t seed = 1337;                  // seeds the training windows
  int64_t train_batches_per_epoch = 0;  // 0: as many as cover the train split once
};

/// Reads the `data:` section (path, tokenizer, block_size, batch_size, val_fraction, ...).
TextDataOptions text_data_options_from(ConfigSection& section, TextDataOptions defaults = {});

class TextDataModule : public LightningDataModule {
 public:
  explicit TextDataModule(TextDataOptions options);
  void prepare_data() override;
  void setup(const std::string& stage) override;
  std::shared_ptr<DataLoader> train_dataloader() override;
  std::shared_ptr<DataLoader> val_dataloader() override;
  /// The validation windows (a single text file has no test split).
  std::shared_ptr<DataLoader> predict_dataloader() override { return val_dataloader(); }

  /// Available after setup(): the tokenizer used (built from the text when "char").
  std::shared_ptr<Tokenizer> tokenizer() const { return tokenizer_; }
  /// Use this tokenizer instead of building one (e.g. a checkpoint's own).
  void set_tokenizer(std::shared_ptr<Tokenizer> t) { tokenizer_ = std::move(t); }
  const TextDataOptions& options() const { return options_; }
  int64_t train_tokens() const { return train_.numel(); }
  int64_t val_tokens() const { return val_.numel(); }

 private:
  TextDataOptions options_;
  std::shared_ptr<Tokenizer> tokenizer_;
  torch::Tensor train_, val_;  // int64 token ids of each split
};

}  // namespace volt

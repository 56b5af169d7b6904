// SFTDataModule (`data.module: sft`): conversations for supervised fine-tuning, read in any of the
// common layouts (data/sft_records.h), rendered by the tokenizer's chat template, tokenized with a
// loss mask on the assistant's replies (data/sft_tokenize.h), split by conversation and batched:
//   packed   best-fit-decreasing packing of whole conversations into rows of block_size;
//            positions restart and attention stays inside each conversation (document_ids)
//   dynamic  one conversation per row, padded to the longest row of its batch
//   static   one conversation per row, padded to block_size
// Labels are the next token where it is a target, -100 elsewhere (prompts, padding, the seams of
// packed rows), so the LM module's mean cross-entropy is the mean over the assistant's tokens.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volt/core/config.h"
#include "volt/data/datamodule.h"
#include "volt/data/sampling.h"
#include "volt/data/sft_records.h"
#include "volt/data/sft_tokenize.h"
#include "volt/tokenizers/chat_template.h"
#include "volt/tokenizers/tokenizer.h"

namespace volt {

struct SFTDataOptions {
  std::vector<std::string> paths;  // .jsonl / .json files or glob patterns
  data::SftReadOptions read;
  std::string tokenizer;      // a tokenizer directory (its tokenizer_config.json has the template)
  std::string chat_template;  // a .jinja file to use instead of the tokenizer's template
  nlohmann::ordered_json template_vars = nlohmann::ordered_json::object();  // enable_thinking, ...
  bool train_on_inputs = false;
  int64_t limit = 0;          // use the first N conversations (0: all)
  int64_t block_size = 1024;  // row length T; a conversation keeps at most T + 1 tokens
  int64_t batch_size = 8;
  std::string collator = "packed";  // packed | dynamic | static
  data::SplitFractions splits;
  int64_t seed = 1337;
  bool shuffle = true;
  bool drop_last = false;
  int64_t num_workers = 2;
  int64_t prefetch_factor = 4;
  int64_t val_batches = 0;  // 0: the whole validation split
};

/// The SFT collators' names, in the order stats prints them.
const std::vector<std::string>& sft_collator_names();

/// Reads the `data:` section of `module: sft` (path / paths, format, tokenizer, chat_template,
/// template_vars, train_on_inputs, skip_bad_records, limit, block_size, batch_size, collator,
/// val_fraction, test_fraction, seed, shuffle, drop_last, num_workers, prefetch_factor,
/// val_batches). The caller marks `module`. tokenizer may be left out when the model's is used.
SFTDataOptions sft_data_options_from(ConfigSection& section, SFTDataOptions defaults = {});

/// What reading and tokenizing the data found.
struct SftDataReport {
  data::SftReadReport read;
  int64_t conversations = 0;  // tokenized and kept
  int64_t messages = 0;
  int64_t assistant_turns = 0;
  int64_t tokens = 0;
  int64_t target_tokens = 0;
  int64_t truncated = 0;        // conversations cut to block_size + 1 tokens (whole turns kept)
  int64_t cut_inside_turn = 0;  // of those, cut inside their first reply
  int64_t dropped = 0;          // no target token left after the cut
  std::vector<std::string> span_methods;  // how the assistant tokens were found, per method seen
};

class SFTDataModule : public LightningDataModule {
 public:
  explicit SFTDataModule(SFTDataOptions options);
  /// Reads the files, renders and tokenizes every conversation (on every core).
  void prepare_data() override;
  void setup(const std::string& stage) override;
  std::shared_ptr<DataLoader> train_dataloader() override;
  std::shared_ptr<DataLoader> val_dataloader() override;
  std::shared_ptr<DataLoader> test_dataloader() override;
  std::shared_ptr<DataLoader> predict_dataloader() override;

  /// The tokenizer and template of a model directory instead of data.tokenizer's.
  void set_tokenizer_dir(const std::string& dir);
  void set_progress(bool on) { progress_ = on; }
  std::shared_ptr<Tokenizer> tokenizer() const { return tokenizer_; }
  const ChatTemplate& chat_template() const;
  const SFTDataOptions& options() const { return options_; }
  const SftDataReport& report() const { return report_; }
  const std::vector<data::TokenizedConversation>& conversations() const;
  /// Conversation indices of "train", "val", "test" or "all".
  std::vector<int64_t> conversation_indices(const std::string& split) const;
  /// Rows, batches and padding of `collator` over these conversations.
  struct CollatorStats {
    std::string collator;
    int64_t rows = 0;
    data::PaddingStats padding;
  };
  CollatorStats collator_stats(const std::string& collator,
                               const std::vector<int64_t>& convs) const;

 private:
  std::shared_ptr<DataLoader> loader(const std::vector<int64_t>& convs, bool train,
                                     int64_t max_batches) const;
  SFTDataOptions options_;
  bool progress_ = true;
  bool prepared_ = false;
  std::string tokenizer_dir_;
  std::shared_ptr<Tokenizer> tokenizer_;
  std::shared_ptr<ChatTemplate> template_;
  std::shared_ptr<const std::vector<data::TokenizedConversation>>
      conversations_;  // loaders share it
  SftDataReport report_;
  data::DocumentSplits splits_;
};

/// Rows of conversations into a Batch: inputs ids[0 .. L-2] of each piece, labels the next id
/// where it is a target and -100 elsewhere; with document_ids, positions restart per piece.
Batch collate_sft(const std::vector<const data::Row*>& rows,
                  const std::vector<data::TokenizedConversation>& conversations, int64_t pad_to,
                  int64_t pad_id, bool document_ids);

}  // namespace volt

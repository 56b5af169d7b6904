// `volt data prepare` and `volt data stats` for `data.module: sft`: conversations, turns, tokens,
// the share of tokens with loss, truncation, skipped records and the padding of each collator.
#pragma once

#include <string>

#include "volt/core/config.h"

namespace volt::cli {

/// Reads and tokenizes the config's conversations and prints what it found (one line).
int sft_data_prepare(Config& config);
/// The statistics of the split ("all", "train", "val", "test"), as a table or one JSON object.
int sft_data_stats(Config& config, const std::string& split, bool json);

}  // namespace volt::cli

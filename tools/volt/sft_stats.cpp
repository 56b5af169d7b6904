#include "sft_stats.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "recipe.h"

namespace volt::cli {

namespace {

double share(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

int sft_data_prepare(Config& config) {
  auto dm = build_sft_data(config);
  dm->set_progress(true);  // the one-line report is what prepare prints
  dm->prepare_data();
  return 0;
}

int sft_data_stats(Config& config, const std::string& split, bool json) {
  auto dm = build_sft_data(config);
  dm->set_progress(!json);
  dm->setup("fit");
  const auto convs = dm->conversation_indices(split);
  int64_t messages = 0, turns = 0, tokens = 0, targets = 0, truncated = 0, cut_inside = 0;
  for (int64_t c : convs) {
    const auto& t = dm->conversations()[static_cast<size_t>(c)];
    messages += t.messages;
    turns += t.assistant_turns;
    tokens += static_cast<int64_t>(t.ids.size());
    targets += t.target_tokens();
    truncated += t.truncated ? 1 : 0;
    cut_inside += t.cut_inside_turn ? 1 : 0;
  }
  const auto& o = dm->options();
  const auto& r = dm->report();
  nlohmann::json j;
  j["split"] = split;
  j["conversations"] = static_cast<int64_t>(convs.size());
  j["messages"] = messages;
  j["assistant_turns"] = turns;
  j["tokens"] = tokens;
  j["target_tokens"] = targets;
  j["target_fraction"] = share(targets, tokens);
  j["truncated"] = truncated;
  j["cut_inside_turn"] = cut_inside;
  j["dropped"] = r.dropped;
  j["records"] = r.read.records;
  j["skipped_records"] = r.read.skipped;
  j["span_methods"] = r.span_methods;
  j["train_on_inputs"] = o.train_on_inputs;
  j["block_size"] = o.block_size;
  j["batch_size"] = o.batch_size;
  for (const auto& name : sft_collator_names()) {
    const auto s = dm->collator_stats(name, convs);
    j["rows"][name] = s.rows;
    j["padding_fraction"][name] = s.padding.padding_fraction();
    j["tokens_per_batch"][name] = s.padding.tokens_per_batch();
  }
  if (json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("conversations: %zu (%s split, %lld records read, %lld skipped, %lld dropped)\n",
              convs.size(), split.c_str(), static_cast<long long>(r.read.records),
              static_cast<long long>(r.read.skipped), static_cast<long long>(r.dropped));
  std::printf(
      "messages: %lld   assistant turns: %lld   tokens: %lld   with loss: %lld (%.1f%%%s)\n",
      static_cast<long long>(messages), static_cast<long long>(turns),
      static_cast<long long>(tokens), static_cast<long long>(targets),
      100.0 * share(targets, tokens), o.train_on_inputs ? ", train_on_inputs" : "");
  std::printf(
      "truncated to block_size + 1 = %lld tokens: %lld (%lld of them inside their first reply, "
      "the rest after their last whole turn that fits)\n",
      static_cast<long long>(o.block_size + 1), static_cast<long long>(truncated),
      static_cast<long long>(cut_inside));
  std::string methods;
  for (const auto& m : r.span_methods) methods += (methods.empty() ? "" : ", ") + m;
  std::printf("assistant tokens found by: %s\n\n", methods.c_str());
  std::printf("collators at block_size %lld, batch_size %lld:\n",
              static_cast<long long>(o.block_size), static_cast<long long>(o.batch_size));
  std::printf("  %-8s %8s %9s %14s\n", "collator", "rows", "padding", "tokens/batch");
  for (const auto& name : sft_collator_names()) {
    std::printf("  %-8s %8lld %8.2f%% %14.1f\n", name.c_str(),
                static_cast<long long>(j["rows"][name].get<int64_t>()),
                100.0 * j["padding_fraction"][name].get<double>(),
                j["tokens_per_batch"][name].get<double>());
  }
  std::printf(
      "static: one conversation per row, padded to block_size; dynamic: to the longest row of its "
      "batch; packed: best-fit decreasing, no attention across conversations\n");
  return 0;
}

}  // namespace volt::cli

#include "volt/data/sft_datamodule.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <thread>

#include "volt/core/check.h"
#include "volt/data/corpus.h"
#include "volt/data/data_path.h"
#include "volt/io/files.h"

namespace volt {

namespace {

constexpr uint64_t kSplitStream = 1;  // the same stream as LLMDataModule's document split

bool is_sft_collator(const std::string& name) {
  const auto& all = sft_collator_names();
  return std::find(all.begin(), all.end(), name) != all.end();
}

std::vector<data::Row> sft_rows(const std::string& collator, const std::vector<int64_t>& convs,
                                const std::vector<data::TokenizedConversation>& all,
                                int64_t block) {
  std::vector<data::Piece> pieces;
  for (int64_t c : convs) {
    const auto len = static_cast<int64_t>(all[static_cast<size_t>(c)].ids.size());
    if (len >= 2) pieces.push_back({c, 0, len});
  }
  if (collator == "packed") return data::pack_best_fit_decreasing(pieces, block);
  return data::one_piece_per_row(pieces);
}

class SftLoader : public DataLoader {
 public:
  SftLoader(std::shared_ptr<const std::vector<data::TokenizedConversation>> convs,
            std::vector<data::Row> rows, data::SamplerOptions sampler, int64_t pad_to,
            int64_t pad_id, bool document_ids, int64_t workers, int64_t prefetch,
            int64_t max_batches)
      : convs_(std::move(convs)),
        rows_(std::move(rows)),
        sampler_(sampler),
        pad_to_(pad_to),
        pad_id_(pad_id),
        document_ids_(document_ids),
        workers_(workers),
        prefetch_(prefetch) {
    for (const auto& r : rows_) lengths_.push_back(r.inputs);
    const auto n = static_cast<int64_t>(rows_.size());
    batches_ = sampler_.drop_last ? n / sampler_.batch_size
                                  : (n + sampler_.batch_size - 1) / sampler_.batch_size;
    if (max_batches > 0) batches_ = std::min(batches_, max_batches);
  }
  int64_t size() const override { return batches_; }
  int64_t num_workers() const override { return workers_; }
  int64_t prefetch_factor() const override { return prefetch_; }
  Batch get(int64_t epoch, int64_t index) const override {
    VOLT_CHECK(index >= 0 && index < batches_, "[sft] batch ", index, " is out of range (",
               batches_, " per epoch)");
    std::vector<const data::Row*> rows;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (epoch != order_epoch_) {
        order_ = data::epoch_batches(lengths_, sampler_, epoch);
        order_epoch_ = epoch;
      }
      for (int64_t r : order_[static_cast<size_t>(index)])
        rows.push_back(&rows_[static_cast<size_t>(r)]);
    }
    return collate_sft(rows, *convs_, pad_to_, pad_id_, document_ids_);
  }

 private:
  std::shared_ptr<const std::vector<data::TokenizedConversation>> convs_;
  std::vector<data::Row> rows_;
  std::vector<int64_t> lengths_;
  data::SamplerOptions sampler_;
  int64_t pad_to_, pad_id_;
  bool document_ids_;
  int64_t workers_, prefetch_, batches_ = 0;
  mutable std::mutex mu_;
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<std::vector<int64_t>> order_;
};

std::vector<std::string> input_files(const std::vector<std::string>& patterns) {
  std::vector<std::string> files;
  for (const auto& p : patterns) {
    const std::string resolved = resolve_data_pattern(p);
    if (!data::has_glob(resolved)) {
      files.push_back(resolved);
      continue;
    }
    const auto matched = data::glob_files(resolved);
    VOLT_CHECK(!matched.empty(), "[sft] data.path '", p, "' matches no file");
    files.insert(files.end(), matched.begin(), matched.end());
  }
  return files;
}

}  // namespace

const std::vector<std::string>& sft_collator_names() {
  static const std::vector<std::string> names = {"static", "dynamic", "packed"};
  return names;
}

SFTDataOptions sft_data_options_from(ConfigSection& s, SFTDataOptions o) {
  if (s.has("paths")) {
    o.paths = s.get<std::vector<std::string>>("paths", {});
  } else {
    o.paths = {s.require<std::string>("path")};
  }
  s.mark("path");
  s.mark("paths");
  o.read.format = data::parse_sft_format(s.get<std::string>("format", "auto"));
  o.read.skip_bad_records = s.get<bool>("skip_bad_records", o.read.skip_bad_records);
  o.tokenizer = s.get<std::string>("tokenizer", o.tokenizer);
  o.chat_template = s.get<std::string>("chat_template", o.chat_template);
  if (s.has("template_vars")) {
    // YAML scalars come back as strings: "false", "3" and "x" mean what a Python caller means.
    for (const auto& [k, v] : s.get<std::map<std::string, std::string>>("template_vars", {})) {
      o.template_vars[k] = v == "true" || v == "True"     ? nlohmann::ordered_json(true)
                           : v == "false" || v == "False" ? nlohmann::ordered_json(false)
                                                          : nlohmann::ordered_json(v);
    }
  }
  s.mark("template_vars");
  o.train_on_inputs = s.get<bool>("train_on_inputs", o.train_on_inputs);
  o.limit = s.get<int64_t>("limit", o.limit);
  o.block_size = s.get<int64_t>("block_size", o.block_size);
  o.batch_size = s.get<int64_t>("batch_size", o.batch_size);
  o.collator = s.get<std::string>("collator", o.collator);
  o.splits.val = s.get<double>("val_fraction", o.splits.val);
  o.splits.test = s.get<double>("test_fraction", o.splits.test);
  o.seed = s.get<int64_t>("seed", o.seed);
  o.shuffle = s.get<bool>("shuffle", o.shuffle);
  o.drop_last = s.get<bool>("drop_last", o.drop_last);
  o.num_workers = s.get<int64_t>("num_workers", o.num_workers);
  o.prefetch_factor = s.get<int64_t>("prefetch_factor", o.prefetch_factor);
  o.val_batches = s.get<int64_t>("val_batches", o.val_batches);
  VOLT_CHECK(o.block_size > 0, "[sft] data.block_size must be positive, got ", o.block_size);
  VOLT_CHECK(o.batch_size > 0, "[sft] data.batch_size must be positive, got ", o.batch_size);
  VOLT_CHECK(o.limit >= 0, "[sft] data.limit must be >= 0, got ", o.limit);
  VOLT_CHECK(is_sft_collator(o.collator), "[sft] data.collator '", o.collator,
             "' is not one of static, dynamic, packed (concat would cut conversations)");
  VOLT_CHECK(o.num_workers >= 0 && o.prefetch_factor >= 1,
             "[sft] data.num_workers must be >= 0 and prefetch_factor >= 1, got ", o.num_workers,
             " and ", o.prefetch_factor);
  VOLT_CHECK(o.splits.val >= 0 && o.splits.test >= 0 && o.splits.val + o.splits.test < 1,
             "[sft] data.val_fraction and test_fraction must be >= 0 with a sum below 1, got ",
             o.splits.val, " and ", o.splits.test);
  return o;
}

SFTDataModule::SFTDataModule(SFTDataOptions options) : options_(std::move(options)) {}

void SFTDataModule::set_tokenizer_dir(const std::string& dir) { tokenizer_dir_ = dir; }

const ChatTemplate& SFTDataModule::chat_template() const {
  VOLT_CHECK(template_ != nullptr, "[sft] call prepare_data() first");
  return *template_;
}

const std::vector<data::TokenizedConversation>& SFTDataModule::conversations() const {
  VOLT_CHECK(conversations_ != nullptr, "[sft] call prepare_data() first");
  return *conversations_;
}

void SFTDataModule::prepare_data() {
  if (prepared_) return;
  std::string dir = tokenizer_dir_;
  if (dir.empty()) {
    VOLT_CHECK(!options_.tokenizer.empty(),
               "[sft] data.tokenizer is not set (a tokenizer directory whose "
               "tokenizer_config.json has a chat_template), nor model.from_pretrained");
    dir = resolve_data_path(options_.tokenizer);
  }
  tokenizer_ = load_tokenizer(dir);
  if (!options_.chat_template.empty()) {
    const std::string path = resolve_data_path(options_.chat_template);
    template_ = std::make_shared<ChatTemplate>(io::read_file(path), path);
    const std::filesystem::path config = std::filesystem::path(dir) / "tokenizer_config.json";
    if (std::filesystem::exists(config)) {
      template_->set_special_tokens(special_tokens_from_config(
          nlohmann::ordered_json::parse(io::read_file(config.string()))));
    }
  } else {
    template_ = std::make_shared<ChatTemplate>(ChatTemplate::from_tokenizer_config(dir));
  }

  std::vector<data::Conversation> convs;
  for (const auto& file : input_files(options_.paths)) {
    auto part = data::read_sft_file(file, options_.read, &report_.read);
    for (auto& c : part) {
      if (options_.limit > 0 && static_cast<int64_t>(convs.size()) >= options_.limit) break;
      convs.push_back(std::move(c));
    }
    if (options_.limit > 0 && static_cast<int64_t>(convs.size()) >= options_.limit) break;
  }
  VOLT_CHECK(!convs.empty(), "[sft] no conversation in ", options_.paths.front(),
             report_.read.skipped > 0
                 ? " (every record was bad: " + report_.read.problems.front() + ")"
                 : std::string());

  data::SftTokenizeOptions to;
  to.train_on_inputs = options_.train_on_inputs;
  to.max_length = options_.block_size + 1;  // T inputs and T labels
  to.render.extra = options_.template_vars;
  std::vector<data::TokenizedConversation> out(convs.size());
  std::vector<std::string> errors(convs.size());
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i = next++; i < convs.size(); i = next++) {
      try {
        out[i] = data::tokenize_conversation(convs[i], *template_, *tokenizer_, to);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  };
  const size_t threads =
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), convs.size() / 64 + 1);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  auto kept = std::make_shared<std::vector<data::TokenizedConversation>>();
  for (size_t i = 0; i < convs.size(); ++i) {
    if (!errors[i].empty()) {  // the first bad one, in file order, is the one reported
      if (!options_.read.skip_bad_records) throw Error(errors[i]);
      report_.read.skip(errors[i]);
      continue;
    }
    auto& c = out[i];
    if (c.target_tokens() == 0) {
      ++report_.dropped;
      continue;
    }
    ++report_.conversations;
    report_.messages += c.messages;
    report_.assistant_turns += c.assistant_turns;
    report_.tokens += static_cast<int64_t>(c.ids.size());
    report_.target_tokens += c.target_tokens();
    report_.truncated += c.truncated ? 1 : 0;
    report_.cut_inside_turn += c.cut_inside_turn ? 1 : 0;
    const std::string method = to_string(c.span_method);
    if (std::find(report_.span_methods.begin(), report_.span_methods.end(), method) ==
        report_.span_methods.end())
      report_.span_methods.push_back(method);
    kept->push_back(std::move(c));
  }
  VOLT_CHECK(!kept->empty(), "[sft] no conversation keeps a target token within block_size ",
             options_.block_size, " (", report_.dropped, " dropped): raise data.block_size");
  conversations_ = std::move(kept);
  if (progress_) {
    std::fprintf(stderr,
                 "[sft] %lld conversations, %lld assistant turns, %lld tokens (%.1f%% with loss)"
                 "; %lld truncated, %lld dropped, %lld bad records skipped\n",
                 static_cast<long long>(report_.conversations),
                 static_cast<long long>(report_.assistant_turns),
                 static_cast<long long>(report_.tokens),
                 100.0 * static_cast<double>(report_.target_tokens) /
                     static_cast<double>(std::max<int64_t>(1, report_.tokens)),
                 static_cast<long long>(report_.truncated), static_cast<long long>(report_.dropped),
                 static_cast<long long>(report_.read.skipped));
    for (const auto& p : report_.read.problems)
      std::fprintf(stderr, "[sft] skipped: %s\n", p.c_str());
  }
  prepared_ = true;
}

void SFTDataModule::setup(const std::string&) {
  prepare_data();
  if (!splits_.train.empty()) return;
  splits_ =
      data::split_documents(static_cast<int64_t>(conversations_->size()), options_.splits,
                            data::derive_seed(static_cast<uint64_t>(options_.seed), kSplitStream));
}

std::vector<int64_t> SFTDataModule::conversation_indices(const std::string& split) const {
  if (split == "train") return splits_.train;
  if (split == "val") return splits_.val;
  if (split == "test") return splits_.test;
  VOLT_CHECK(split == "all", "[sft] split '", split, "' is not one of train, val, test, all");
  std::vector<int64_t> all(conversations().size());
  std::iota(all.begin(), all.end(), int64_t{0});
  return all;
}

SFTDataModule::CollatorStats SFTDataModule::collator_stats(
    const std::string& collator, const std::vector<int64_t>& convs) const {
  VOLT_CHECK(is_sft_collator(collator), "[sft] collator '", collator, "' is unknown");
  const auto rows = sft_rows(collator, convs, conversations(), options_.block_size);
  std::vector<int64_t> lengths;
  for (const auto& r : rows) lengths.push_back(r.inputs);
  data::SamplerOptions s;
  s.batch_size = options_.batch_size;
  s.seed = static_cast<uint64_t>(options_.seed);
  const auto batches = data::epoch_batches(lengths, s, 0);
  return {collator, static_cast<int64_t>(rows.size()),
          data::padding_stats(lengths, batches, collator == "dynamic" ? 0 : options_.block_size)};
}

std::shared_ptr<DataLoader> SFTDataModule::loader(const std::vector<int64_t>& convs, bool train,
                                                  int64_t max_batches) const {
  VOLT_CHECK(conversations_ != nullptr && !splits_.train.empty(),
             "[sft] call setup() before the dataloaders");
  const int64_t pad_id = tokenizer_->pad_id().value_or(tokenizer_->eos_id().value_or(0));
  data::SamplerOptions s;
  s.batch_size = options_.batch_size;
  s.seed = static_cast<uint64_t>(options_.seed);
  s.shuffle = train ? options_.shuffle : true;
  s.drop_last = train && options_.drop_last;
  const bool packed = options_.collator == "packed";
  return std::make_shared<SftLoader>(
      conversations_, sft_rows(options_.collator, convs, *conversations_, options_.block_size), s,
      options_.collator == "dynamic" ? 0 : options_.block_size, pad_id, packed,
      options_.num_workers, options_.prefetch_factor, max_batches);
}

std::shared_ptr<DataLoader> SFTDataModule::train_dataloader() {
  return loader(splits_.train, true, 0);
}

std::shared_ptr<DataLoader> SFTDataModule::val_dataloader() {
  if (splits_.val.empty()) return nullptr;
  return loader(splits_.val, false, options_.val_batches);
}

std::shared_ptr<DataLoader> SFTDataModule::test_dataloader() {
  if (splits_.test.empty()) return nullptr;
  return loader(splits_.test, false, 0);
}

std::shared_ptr<DataLoader> SFTDataModule::predict_dataloader() {
  if (!splits_.test.empty()) return test_dataloader();
  return splits_.val.empty() ? nullptr : loader(splits_.val, false, 0);
}

Batch collate_sft(const std::vector<const data::Row*>& rows,
                  const std::vector<data::TokenizedConversation>& conversations, int64_t pad_to,
                  int64_t pad_id, bool document_ids) {
  VOLT_CHECK(!rows.empty(), "[sft] cannot collate an empty batch");
  int64_t t = pad_to;
  if (t == 0) {
    for (const auto* r : rows) t = std::max(t, r->inputs);
  }
  const auto b = static_cast<int64_t>(rows.size());
  auto opts = torch::TensorOptions().dtype(torch::kLong);
  Batch batch;
  batch.input_ids = torch::full({b, t}, pad_id, opts);
  batch.labels = torch::full({b, t}, -100, opts);
  if (document_ids) {
    batch.position_ids = torch::zeros({b, t}, opts);
    batch.document_ids = torch::full({b, t}, -1, opts);
  }
  for (int64_t i = 0; i < b; ++i) {
    const data::Row& row = *rows[static_cast<size_t>(i)];
    VOLT_CHECK(row.inputs <= t, "[sft] a row of ", row.inputs, " positions does not fit ", t);
    int64_t* in = batch.input_ids.data_ptr<int64_t>() + i * t;
    int64_t* lab = batch.labels.data_ptr<int64_t>() + i * t;
    int64_t* pos = document_ids ? batch.position_ids.data_ptr<int64_t>() + i * t : nullptr;
    int64_t* doc = document_ids ? batch.document_ids.data_ptr<int64_t>() + i * t : nullptr;
    int64_t at = 0;
    for (size_t k = 0; k < row.pieces.size(); ++k) {
      const data::Piece& p = row.pieces[k];
      const auto& c = conversations[static_cast<size_t>(p.doc)];
      for (int64_t j = 0; j + 1 < p.length; ++j) {
        const auto next = static_cast<size_t>(p.begin + j + 1);
        in[at + j] = c.ids[next - 1];
        lab[at + j] = c.loss_mask[next] ? c.ids[next] : -100;
        if (pos) pos[at + j] = j;
        if (doc) doc[at + j] = static_cast<int64_t>(k);
      }
      at += p.length - 1;
    }
  }
  return batch;
}

}  // namespace volt

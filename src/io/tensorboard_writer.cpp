// The events file format (what TensorBoard's EventFileLoader reads):
//
// A file is a sequence of TFRecords, each
//   uint64 length          little-endian, the byte count of data
//   uint32 masked_crc32c(the 8 length bytes)
//   byte   data[length]    a serialized tensorboard.Event (proto/tensorboard/event.proto)
//   uint32 masked_crc32c(data)
// with masked_crc32c(x) = ((c >> 15) | (c << 17)) + 0xa282ead8, c = CRC-32C(x) (io/crc32c.h).
// A reader stops at a record whose CRCs fail, so a record is always written whole.
//
// Events (wall_time: seconds since the epoch, a double; step: int64):
//   1. {wall_time, step: 0, file_version: "brain.Event:2", source_metadata: {writer: "volt"}}
//      first, once per file. Version 2 tells TensorBoard that restarts are marked by a
//      SessionLog START (below) rather than guessed from steps going backwards.
//   2. Scalars: {wall_time, step, summary: {value: [{tag, simple_value: float32}, ...]}}, no
//      metadata: TensorBoard files simple_value under its scalars plugin (data_compat.py), as
//      it does for PyTorch's SummaryWriter.
//   3. Text: {summary: {value: [{tag, metadata: {plugin_data: {plugin_name: "text"}},
//      tensor: {dtype: DT_STRING, tensor_shape: {} (a scalar), string_val: [utf-8]}}]}}; the text
//      plugin's content is TextPluginData{version: 0}, which serializes to no bytes.
//   4. Hyperparameters (TensorBoard's plugins/hparams/summary_v2.py and PyTorch's
//      torch.utils.tensorboard.summary.hparams): a value with no payload whose
//      metadata.plugin_data is {plugin_name: "hparams", content: HParamsPluginData{version: 0,
//      ...}} serialized (proto/tensorboard/hparams_plugin_data.proto), under the tag
//        _hparams_/session_start_info  session_start_info {hparams: map<string,
//                                      google.protobuf.Value> (number_value, string_value or
//                                      bool_value), start_time_secs}
//        _hparams_/experiment          experiment {hparam_infos: [{name, type}], metric_infos:
//                                      [{name: {tag}}], time_created_secs}
//        _hparams_/session_end_info    session_end_info {status, end_time_secs}
//      each in its own event at step 0. TensorBoard keeps the first metadata of each tag of a
//      run (plugin_event_accumulator.py), so each is written once per file.
//   5. Restart: {step: s, session_log: {status: START}}: TensorBoard drops the run's events with
//      step >= s read before it (event_accumulator.py, _CheckForRestartAndMaybePurge).
#include "volt/io/tensorboard_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tensorboard/event.pb.h"
#include "tensorboard/hparams_plugin_data.pb.h"
#include "volt/core/check.h"
#include "volt/io/crc32c.h"

namespace volt::io {
namespace {

namespace fs = std::filesystem;
namespace tbh = tensorboard::hparams;

constexpr const char* kFileVersion = "brain.Event:2";
constexpr const char* kHParamsPlugin = "hparams";
constexpr int kHParamsPluginVersion = 0;

double unix_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Protobuf `string` fields must hold UTF-8: TensorBoard's (Python) parser rejects the whole
// record otherwise. io sits below tokenizers/unicode.h, hence this small check of our own.
bool is_utf8(const std::string& s) {
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // by length: no overlongs
  for (size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const size_t n = lead < 0x80           ? 1
                     : (lead >> 5) == 0x6  ? 2
                     : (lead >> 4) == 0xe  ? 3
                     : (lead >> 3) == 0x1e ? 4
                                           : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = lead & (0x7fu >> (n == 1 ? 0 : n));
    for (size_t k = 1; k < n; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < kSmallest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

std::string file_name(const std::string& suffix) {
  static std::atomic<int> files_opened{0};  // tells apart the files of one process and second
  char host[256] = "localhost";
  if (gethostname(host, sizeof host) != 0) std::snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = '\0';
  char name[512];
  std::snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%d.%d",
                static_cast<long long>(unix_seconds()), host, static_cast<int>(getpid()),
                files_opened++);
  return name + suffix;
}

void append_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// One TFRecord: length, its masked CRC, the data, its masked CRC.
void append_record(std::string& out, const std::string& data) {
  std::string length;
  const uint64_t n = data.size();
  for (int i = 0; i < 8; ++i) length += static_cast<char>((n >> (8 * i)) & 0xff);
  out += length;
  append_u32(out, crc32c_mask(crc32c(length)));
  out += data;
  append_u32(out, crc32c_mask(crc32c(data)));
}

tbh::DataType hparam_type(const HParamValue& v) {
  if (std::holds_alternative<bool>(v)) return tbh::DATA_TYPE_BOOL;
  if (std::holds_alternative<double>(v)) return tbh::DATA_TYPE_FLOAT64;
  return tbh::DATA_TYPE_STRING;
}

}  // namespace

using tensorboard::Event;

struct TensorBoardWriter::Impl {
  TensorBoardWriterOptions options;
  std::string path;
  int fd = -1;
  std::string pending;  // whole records not yet written (a failed write keeps its remainder)
  int64_t pending_events = 0;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();

  ~Impl() {
    if (fd >= 0) ::close(fd);  // only when the constructor failed: close() runs first otherwise
  }

  void check_tag(const std::string& tag, const char* what) const {
    VOLT_CHECK(!tag.empty(), "[tensorboard] ", path, ": empty ", what);
    VOLT_CHECK(is_utf8(tag), "[tensorboard] ", path, ": ", what, " '", tag, "' is not valid UTF-8");
  }

  void add(Event& event, bool force_write = false) {
    VOLT_CHECK(fd >= 0, "[tensorboard] ", path, ": the writer is closed");
    event.set_wall_time(unix_seconds());
    std::string data;
    VOLT_CHECK(event.SerializeToString(&data), "[tensorboard] ", path,
               ": cannot serialize an event");
    append_record(pending, data);
    ++pending_events;
    const double since_write =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_write).count();
    if (force_write || pending_events >= options.max_queue || since_write >= options.flush_secs) {
      write_pending();
    }
  }

  void write_pending() {
    while (!pending.empty()) {
      const ssize_t n = ::write(fd, pending.data(), pending.size());
      if (n < 0 && errno == EINTR) continue;
      VOLT_CHECK(n > 0, "[tensorboard] ", path, ": write failed: ", errno_message(errno));
      pending.erase(0, static_cast<size_t>(n));
    }
    pending_events = 0;
    last_write = std::chrono::steady_clock::now();
  }

  void add_hparams_summary(const char* tag, const tbh::HParamsPluginData& data) {
    Event event;
    event.set_step(0);
    auto* value = event.mutable_summary()->add_value();
    value->set_tag(tag);
    auto* plugin = value->mutable_metadata()->mutable_plugin_data();
    plugin->set_plugin_name(kHParamsPlugin);
    VOLT_CHECK(data.SerializeToString(plugin->mutable_content()), "[tensorboard] ", path,
               ": cannot serialize ", tag);
    add(event, /*force_write=*/true);  // rare and worth keeping if the run dies
  }
};

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir, TensorBoardWriterOptions options)
    : impl_(std::make_unique<Impl>()) {
  VOLT_CHECK(!log_dir.empty(), "[tensorboard] empty log directory");
  VOLT_CHECK(options.max_queue >= 1, "[tensorboard] ", log_dir, ": max_queue ", options.max_queue,
             " must be at least 1");
  VOLT_CHECK(options.flush_secs >= 0, "[tensorboard] ", log_dir, ": flush_secs ",
             options.flush_secs, " must not be negative");
  VOLT_CHECK(options.filename_suffix.find('/') == std::string::npos, "[tensorboard] ", log_dir,
             ": filename_suffix '", options.filename_suffix, "' contains a '/'");
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  VOLT_CHECK(!ec, "[tensorboard] ", log_dir, ": cannot create the directory: ", ec.message());
  impl_->options = std::move(options);
  impl_->path = (fs::path(log_dir) / file_name(impl_->options.filename_suffix)).string();
  impl_->fd = ::open(impl_->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  VOLT_CHECK(impl_->fd >= 0, "[tensorboard] ", impl_->path,
             ": cannot create: ", errno_message(errno));
  Event first;
  first.set_step(0);
  first.set_file_version(kFileVersion);
  first.mutable_source_metadata()->set_writer("volt");
  impl_->add(first, /*force_write=*/true);
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "volt: warning: %s\n", e.what());
  }
}

const std::string& TensorBoardWriter::path() const { return impl_->path; }

void TensorBoardWriter::add_scalars(const std::map<std::string, double>& values, int64_t step) {
  if (values.empty()) return;
  for (const auto& entry : values) impl_->check_tag(entry.first, "scalar tag");
  Event event;
  event.set_step(step);
  auto* summary = event.mutable_summary();
  for (const auto& [tag, value] : values) {
    auto* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  impl_->add(event);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  add_scalars({{tag, value}}, step);
}

void TensorBoardWriter::add_text(const std::string& tag, const std::string& text, int64_t step) {
  impl_->check_tag(tag, "text tag");
  Event event;
  event.set_step(step);
  auto* value = event.mutable_summary()->add_value();
  value->set_tag(tag);
  value->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  auto* tensor = value->mutable_tensor();
  tensor->set_dtype(tensorboard::DT_STRING);
  tensor->mutable_tensor_shape();  // present and empty: a scalar
  tensor->add_string_val(text);
  impl_->add(event);
}

void TensorBoardWriter::add_hparams(const HParams& hparams) {
  tbh::HParamsPluginData data;
  data.set_version(kHParamsPluginVersion);
  auto* start = data.mutable_session_start_info();
  start->set_start_time_secs(unix_seconds());
  auto& values = *start->mutable_hparams();
  for (const auto& [name, value] : hparams) {
    impl_->check_tag(name, "hyperparameter name");
    google::protobuf::Value& v = values[name];
    if (const auto* b = std::get_if<bool>(&value)) {
      v.set_bool_value(*b);
    } else if (const auto* d = std::get_if<double>(&value)) {
      v.set_number_value(*d);
    } else {
      const auto& s = std::get<std::string>(value);
      VOLT_CHECK(is_utf8(s), "[tensorboard] ", impl_->path, ": hyperparameter '", name,
                 "' has a value that is not valid UTF-8");
      v.set_string_value(s);
    }
  }
  impl_->add_hparams_summary("_hparams_/session_start_info", data);
}

void TensorBoardWriter::add_hparams_experiment(const HParams& hparams,
                                               const std::vector<std::string>& metric_tags) {
  tbh::HParamsPluginData data;
  data.set_version(kHParamsPluginVersion);
  auto* experiment = data.mutable_experiment();
  experiment->set_time_created_secs(unix_seconds());
  for (const auto& [name, value] : hparams) {
    impl_->check_tag(name, "hyperparameter name");
    auto* info = experiment->add_hparam_infos();
    info->set_name(name);
    info->set_type(hparam_type(value));
  }
  for (const std::string& tag : metric_tags) {
    impl_->check_tag(tag, "metric tag");
    experiment->add_metric_infos()->mutable_name()->set_tag(tag);
  }
  impl_->add_hparams_summary("_hparams_/experiment", data);
}

void TensorBoardWriter::add_hparams_end(SessionStatus status) {
  tbh::HParamsPluginData data;
  data.set_version(kHParamsPluginVersion);
  auto* end = data.mutable_session_end_info();
  end->set_status(static_cast<tbh::Status>(status));
  end->set_end_time_secs(unix_seconds());
  impl_->add_hparams_summary("_hparams_/session_end_info", data);
}

void TensorBoardWriter::add_session_start(int64_t step) {
  Event event;
  event.set_step(step);
  event.mutable_session_log()->set_status(tensorboard::SessionLog::START);
  impl_->add(event, /*force_write=*/true);
}

void TensorBoardWriter::flush() {
  if (impl_->fd >= 0) impl_->write_pending();
}

void TensorBoardWriter::close() {
  if (impl_->fd < 0) return;
  std::string error;
  try {
    impl_->write_pending();
  } catch (const Error& e) {
    error = e.what();  // the file is closed all the same, and what it holds stays readable
  }
  const int fd = impl_->fd;
  impl_->fd = -1;
  if (::fsync(fd) != 0 && error.empty()) {
    error = str("[tensorboard] ", impl_->path, ": fsync failed: ", errno_message(errno));
  }
  if (::close(fd) != 0 && error.empty()) {
    error = str("[tensorboard] ", impl_->path, ": close failed: ", errno_message(errno));
  }
  if (!error.empty()) throw Error(error);
}

}  // namespace volt::io

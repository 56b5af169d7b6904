// volt's TensorBoard writer, read back by an independent reader (scripts/tensorboard/
// read_events.py: Debian's python3-protobuf and python3-crc32c, not volt's C++), plus the wire
// bytes checked by hand against TensorBoard's field numbers (tensorboard/compat/proto/
// event.proto, summary.proto; plugins/hparams/plugin_data.proto), so that a wrong number in
// volt's .proto files, which the reader shares, cannot pass unseen.
#include "volt/io/tensorboard_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "logging_test_util.h"
#include "test_util.h"
#include "volt/core/check.h"

namespace volt::io {
namespace {

using test::events_files;
using test::json_number;
using test::ScopedTempDir;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string only_file(const std::string& dir) {
  const auto files = events_files(dir);
  EXPECT_EQ(files.size(), 1u) << "events files in " << dir;
  return files.empty() ? "" : files[0];
}

TEST(TensorBoardWriter, ScalarsComeBackAtTheirStepsAsFloat32) {
  ScopedTempDir dir;
  const double inf = std::numeric_limits<double>::infinity();
  // (tag, step, value); NaN is checked separately (NaN != NaN).
  const std::vector<std::tuple<std::string, int64_t, double>> logged = {
      {"train/loss", 0, 10.25},
      {"train/loss", 10, 3.14159265358979},
      {"val/loss", 10, 2.718281828459045},
      {"lr", 10, 6e-4},
      {"lr", 20, 1e-30},
      {"grad/norm/total", 20, inf},
      {"grad/norm/total", 30, -inf},
      {"train/loss", int64_t{1} << 40, -1e12},
      {"ünïcode/täg/🙂", 40, 0.1}};
  const double before = now_seconds();
  std::string path;
  {
    TensorBoardWriter writer(dir.path());
    path = writer.path();
    for (const auto& [tag, step, value] : logged) writer.add_scalar(tag, value, step);
    writer.add_scalars({{"a/nan", std::nan("")}, {"b/one", 1.0}}, 50);
  }
  const double after = now_seconds();
  EXPECT_EQ(only_file(dir.path()), path);
  READ_EVENTS_OK(r, path, dir);
  EXPECT_EQ(r.json["file_version"], "brain.Event:2");
  EXPECT_EQ(r.json["source_writer"], "volt");
  EXPECT_EQ(r.json["records"], 1 + logged.size() + 1);
  const auto& scalars = r.json["scalars"];
  ASSERT_EQ(scalars.size(), logged.size() + 2);
  for (size_t i = 0; i < logged.size(); ++i) {
    const auto& [tag, step, value] = logged[i];
    EXPECT_EQ(scalars[i]["tag"], tag) << i;
    EXPECT_EQ(scalars[i]["step"], step) << tag;
    EXPECT_EQ(json_number(scalars[i]["value"]), static_cast<double>(static_cast<float>(value)))
        << tag << " at step " << step;
    const double wall = scalars[i]["wall_time"];
    EXPECT_GE(wall, before - 1);
    EXPECT_LE(wall, after + 1);
  }
  EXPECT_EQ(scalars[logged.size()]["tag"], "a/nan");
  EXPECT_EQ(scalars[logged.size()]["value"], "nan");
  EXPECT_EQ(scalars[logged.size()]["step"], 50);
  EXPECT_EQ(scalars[logged.size() + 1]["tag"], "b/one");
  EXPECT_EQ(scalars[logged.size() + 1]["value"], 1.0);
}

TEST(TensorBoardWriter, HParamsOfEachTypeAndTheExperiment) {
  ScopedTempDir dir;
  const HParams hparams{{"optimizer.lr", 3e-4},
                        {"trainer.max_steps", 5000.0},
                        {"model/n_layer", 12.0},
                        {"trainer.precision", std::string("bf16-mixed")},
                        {"data.name", std::string("wïkitext")},
                        {"model.bias", false},
                        {"trainer.compile", true}};
  std::string path;
  {
    TensorBoardWriter writer(dir.path());
    path = writer.path();
    writer.add_hparams(hparams);
    writer.add_scalar("train_loss", 2.5, 1);
    writer.add_hparams_experiment(hparams, {"train_loss", "val_loss"});
    writer.add_hparams_end(SessionStatus::success);
  }
  READ_EVENTS_OK(r, path, dir);
  const auto& h = r.json["hparams"];
  ASSERT_EQ(h.size(), hparams.size()) << h.dump();
  EXPECT_EQ(h["optimizer.lr"], 3e-4);
  EXPECT_EQ(h["trainer.max_steps"], 5000.0);
  EXPECT_EQ(h["model/n_layer"], 12.0);
  EXPECT_EQ(h["trainer.precision"], "bf16-mixed");
  EXPECT_EQ(h["data.name"], "wïkitext");
  EXPECT_EQ(h["model.bias"], false);
  EXPECT_EQ(h["trainer.compile"], true);
  const auto& experiment = r.json["experiment"];
  EXPECT_EQ(experiment["hparams"]["optimizer.lr"], "DATA_TYPE_FLOAT64");
  EXPECT_EQ(experiment["hparams"]["trainer.precision"], "DATA_TYPE_STRING");
  EXPECT_EQ(experiment["hparams"]["model.bias"], "DATA_TYPE_BOOL");
  EXPECT_EQ(experiment["hparams"].size(), hparams.size());
  EXPECT_EQ(experiment["metrics"], nlohmann::json({"train_loss", "val_loss"}));
  EXPECT_EQ(r.json["session_end"]["status"], "STATUS_SUCCESS");
}

TEST(TensorBoardWriter, TextAndSessionStart) {
  ScopedTempDir dir;
  std::string path;
  {
    TensorBoardWriter writer(dir.path());
    path = writer.path();
    writer.add_session_start(101);
    writer.add_text("config", "# run\n`lr: 3e-4` – ünïcode", 0);
    writer.add_hparams_end(SessionStatus::failure);
  }
  READ_EVENTS_OK(r, path, dir);
  EXPECT_EQ(r.json["session_starts"], nlohmann::json({101}));
  ASSERT_EQ(r.json["texts"].size(), 1u);
  EXPECT_EQ(r.json["texts"][0]["tag"], "config");
  EXPECT_EQ(r.json["texts"][0]["text"], "# run\n`lr: 3e-4` – ünïcode");
  EXPECT_EQ(r.json["session_end"]["status"], "STATUS_FAILURE");
}

// Flips one byte at `at` (counted from the end when negative) of a copy of path.
std::string corrupt(const std::string& path, const std::string& copy, long at) {
  std::string bytes = test::slurp(path);
  const size_t i = at >= 0 ? static_cast<size_t>(at) : bytes.size() - static_cast<size_t>(-at);
  bytes[i] = static_cast<char>(bytes[i] ^ 0x20);
  std::ofstream(copy, std::ios::binary) << bytes;
  return copy;
}

TEST(TensorBoardWriter, TheReaderRejectsACorruptedByte) {
  ScopedTempDir dir;
  std::string path;
  {
    TensorBoardWriter writer(dir.path());
    path = writer.path();
    writer.add_scalar("loss", 1.5, 1);
    writer.add_scalar("loss", 1.25, 2);
  }
  READ_EVENTS_OK(good, path, dir);  // the same file, untouched, reads
  EXPECT_EQ(good.json["scalars"].size(), 2u);
  // A byte in the last event's data, in the first record's length, in the last data CRC.
  const auto in_data = test::read_events(corrupt(path, dir / "bad_data", -8), dir);
  EXPECT_EQ(in_data.code, 1);
  EXPECT_NE(in_data.err.find("data CRC mismatch"), std::string::npos) << in_data.err;
  const auto in_length = test::read_events(corrupt(path, dir / "bad_length", 0), dir);
  EXPECT_EQ(in_length.code, 1);
  EXPECT_NE(in_length.err.find("record at byte 0: length CRC mismatch"), std::string::npos)
      << in_length.err;
  const auto in_crc = test::read_events(corrupt(path, dir / "bad_crc", -1), dir);
  EXPECT_EQ(in_crc.code, 1);
  EXPECT_NE(in_crc.err.find("data CRC mismatch"), std::string::npos) << in_crc.err;
  // A record cut short.
  const std::string bytes = test::slurp(path);
  std::ofstream(dir / "short", std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  const auto cut = test::read_events(dir / "short", dir);
  EXPECT_EQ(cut.code, 1);
  EXPECT_NE(cut.err.find("truncated"), std::string::npos) << cut.err;
}

TEST(TensorBoardWriter, AProcessKilledMidRunLeavesAReadableFile) {
  ScopedTempDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // max_queue 3: the version record goes at once, steps 1-6 in two writes, step 7 is pending
    // when the process dies without running a destructor (as under kill -9).
    TensorBoardWriterOptions options;
    options.max_queue = 3;
    auto* writer = new TensorBoardWriter(dir.path(), options);
    for (int step = 1; step <= 7; ++step) writer->add_scalar("loss", step, step);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  READ_EVENTS_OK(r, only_file(dir.path()), dir);
  ASSERT_EQ(r.json["scalars"].size(), 6u);
  EXPECT_EQ(r.json["scalars"][5]["step"], 6);
}

TEST(TensorBoardWriter, FlushesOnMaxQueueSecondsAndClose) {
  ScopedTempDir dir;
  auto file_size = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
  };
  TensorBoardWriterOptions queued;
  queued.max_queue = 2;
  TensorBoardWriter writer(dir / "queued", queued);
  const auto after_version = file_size(writer.path());
  EXPECT_GT(after_version, 0);  // the version record is written at once
  writer.add_scalar("x", 1, 1);
  EXPECT_EQ(file_size(writer.path()), after_version);  // pending
  writer.add_scalar("x", 2, 2);
  const auto after_two = file_size(writer.path());
  EXPECT_GT(after_two, after_version);  // two pending: written
  writer.add_scalar("x", 3, 3);
  EXPECT_EQ(file_size(writer.path()), after_two);
  writer.flush();
  EXPECT_GT(file_size(writer.path()), after_two);

  TensorBoardWriterOptions timed;
  timed.flush_secs = 0;  // every event is "late": written at once
  TensorBoardWriter eager(dir / "timed", timed);
  const auto before = file_size(eager.path());
  eager.add_scalar("x", 1, 1);
  EXPECT_GT(file_size(eager.path()), before);

  writer.add_scalar("x", 4, 4);
  writer.close();
  writer.close();  // a second close does nothing
  READ_EVENTS_OK(r, writer.path(), dir);
  EXPECT_EQ(r.json["scalars"].size(), 4u);
  EXPECT_ERROR(writer.add_scalar("x", 5, 5), "the writer is closed");
}

TEST(TensorBoardWriter, FileNameLikeTensorFlows) {
  ScopedTempDir dir;
  TensorBoardWriterOptions options;
  options.filename_suffix = ".volt";
  const double before = now_seconds();
  TensorBoardWriter first(dir.path(), options);
  TensorBoardWriter second(dir.path(), options);  // same second, same process: still two files
  const std::regex pattern(R"(events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)\.volt)");
  std::smatch m;
  const std::string name = std::filesystem::path(first.path()).filename().string();
  ASSERT_TRUE(std::regex_match(name, m, pattern)) << name;
  EXPECT_NEAR(std::stod(m[1]), before, 5);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(m[2], std::string(host));
  EXPECT_EQ(std::stoi(m[3]), getpid());
  EXPECT_NE(first.path(), second.path());
  EXPECT_EQ(events_files(dir.path()).size(), 2u);
}

TEST(TensorBoardWriter, BadInputIsAnError) {
  ScopedTempDir dir;
  TensorBoardWriter writer(dir.path());
  EXPECT_ERROR(writer.add_scalar("", 1, 1), "empty scalar tag");
  EXPECT_ERROR(writer.add_scalar("bad\xff", 1, 1), "not valid UTF-8");
  EXPECT_ERROR(writer.add_hparams({{"x", std::string("\xc3")}}),
               "hyperparameter 'x' has a value that is not valid UTF-8");
  EXPECT_ERROR(writer.add_scalar("overlong\xc0\xaf", 1, 1), "not valid UTF-8");
  EXPECT_ERROR(writer.add_text("t\xed\xa0\x80", "surrogate", 0), "not valid UTF-8");
  TensorBoardWriterOptions zero;
  zero.max_queue = 0;
  EXPECT_ERROR(TensorBoardWriter(dir.path(), zero), "max_queue 0");
  std::ofstream(dir / "a_file") << "x";
  EXPECT_ERROR(TensorBoardWriter(dir / "a_file/sub"),
               "[tensorboard] " + (dir / "a_file/sub") + ": cannot create the directory");
  // Nothing bad reached the file.
  writer.close();
  READ_EVENTS_OK(r, writer.path(), dir);
  EXPECT_EQ(r.json["records"], 1);
}

// --- The bytes, checked against TensorBoard's field numbers by hand ------------------------

// One protobuf field: its number, wire type and payload (varint value, or the raw bytes).
struct Field {
  int number = 0, wire = 0;
  uint64_t varint = 0;
  std::string bytes;
};

std::vector<Field> parse_fields(const std::string& data) {
  std::vector<Field> fields;
  size_t i = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; i < data.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(data[i++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("truncated varint");
  };
  while (i < data.size()) {
    Field f;
    const uint64_t key = varint();
    f.number = static_cast<int>(key >> 3), f.wire = static_cast<int>(key & 7);
    switch (f.wire) {
      case 0:
        f.varint = varint();
        break;
      case 1:
        f.bytes = data.substr(i, 8), i += 8;
        break;
      case 2: {
        const size_t n = varint();
        f.bytes = data.substr(i, n), i += n;
        break;
      }
      case 5:
        f.bytes = data.substr(i, 4), i += 4;
        break;
      default:
        throw std::runtime_error("wire type " + std::to_string(f.wire));
    }
    fields.push_back(f);
  }
  return fields;
}

const Field& field(const std::vector<Field>& fields, int number, int wire) {
  for (const Field& f : fields) {
    if (f.number == number) {
      EXPECT_EQ(f.wire, wire) << "field " << number;
      return f;
    }
  }
  throw std::runtime_error("no field " + std::to_string(number));
}

// The payloads of the TFRecords of a file (framing and CRCs are the Python reader's job).
std::vector<std::string> record_payloads(const std::string& file) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 12 <= file.size();) {
    uint64_t n = 0;
    for (int k = 0; k < 8; ++k) n |= uint64_t{static_cast<unsigned char>(file[i + k])} << (8 * k);
    out.push_back(file.substr(i + 12, n));
    i += 12 + n + 4;
  }
  return out;
}

TEST(TensorBoardWriter, WireBytesFollowTensorBoardsFieldNumbers) {
  ScopedTempDir dir;
  std::string path;
  {
    TensorBoardWriter writer(dir.path());
    path = writer.path();
    writer.add_scalar("loss", 0.5, 7);
    writer.add_hparams({{"lr", 0.25}});
  }
  const auto records = record_payloads(test::slurp(path));
  ASSERT_EQ(records.size(), 3u);
  // Event: wall_time = 1 (double), step = 2, file_version = 3, summary = 5,
  // source_metadata = 10 {writer = 1}.
  const auto first = parse_fields(records[0]);
  EXPECT_EQ(field(first, 1, 1).bytes.size(), 8u);
  EXPECT_EQ(field(first, 3, 2).bytes, "brain.Event:2");
  EXPECT_EQ(field(parse_fields(field(first, 10, 2).bytes), 1, 2).bytes, "volt");

  const auto scalar = parse_fields(records[1]);
  EXPECT_EQ(field(scalar, 2, 0).varint, 7u);
  // Summary: value = 1 {tag = 1, simple_value = 2 (float)}.
  const auto value = parse_fields(field(parse_fields(field(scalar, 5, 2).bytes), 1, 2).bytes);
  EXPECT_EQ(field(value, 1, 2).bytes, "loss");
  float simple = 0;
  std::memcpy(&simple, field(value, 2, 5).bytes.data(), 4);
  EXPECT_EQ(simple, 0.5f);

  // Value.metadata = 9 {plugin_data = 1 {plugin_name = 1, content = 2}}; content:
  // HParamsPluginData {session_start_info = 3 {hparams = 1 (map entry: key = 1, value = 2
  // google.protobuf.Value {number_value = 2 (double)})}}.
  const auto hp_value =
      parse_fields(field(parse_fields(field(parse_fields(records[2]), 5, 2).bytes), 1, 2).bytes);
  EXPECT_EQ(field(hp_value, 1, 2).bytes, "_hparams_/session_start_info");
  const auto plugin = parse_fields(field(parse_fields(field(hp_value, 9, 2).bytes), 1, 2).bytes);
  EXPECT_EQ(field(plugin, 1, 2).bytes, "hparams");
  const auto start = parse_fields(field(parse_fields(field(plugin, 2, 2).bytes), 3, 2).bytes);
  const auto entry = parse_fields(field(start, 1, 2).bytes);
  EXPECT_EQ(field(entry, 1, 2).bytes, "lr");
  double lr = 0;
  std::memcpy(&lr, field(parse_fields(field(entry, 2, 2).bytes), 2, 1).bytes.data(), 8);
  EXPECT_EQ(lr, 0.25);
}

}  // namespace
}  // namespace volt::io

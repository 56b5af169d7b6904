#include "volt/core/csv_logger.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

#include "volt/core/atomic_file.h"
#include "volt/core/check.h"

namespace volt {
namespace {

// A name that would need CSV quoting is rejected rather than quoted: the files stay trivially
// parseable by read(), pandas, awk and spreadsheets alike.
void check_name(const std::string& path, const std::string& name) {
  VOLT_CHECK(!name.empty(), "[csv] ", path, ": empty metric name");
  VOLT_CHECK(name != "step" && name != "epoch", "[csv] ", path, ": metric name '", name,
             "' clashes with the built-in column of that name");
  VOLT_CHECK(name.find_first_of(",\"\r\n") == std::string::npos, "[csv] ", path, ": metric name '",
             name, "' contains a comma, quote or line break");
}

// %.9g keeps float32 values exact and doubles readable.
std::string format_value(double value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", value);
  return buf;
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> cells;
  size_t begin = 0;
  for (size_t comma; (comma = line.find(',', begin)) != std::string::npos; begin = comma + 1) {
    cells.push_back(line.substr(begin, comma - begin));
  }
  cells.push_back(line.substr(begin));
  return cells;
}

// Arguments rather than a prebuilt message: building one per cell would dominate reading.
double parse_cell(const std::string& cell, const std::string& path, int line_no,
                  const std::string& column) {
  char* end = nullptr;
  const double value = std::strtod(cell.c_str(), &end);  // also takes "nan" and "inf"
  VOLT_CHECK(end != cell.c_str() && *end == '\0', "[csv] ", path, ":", line_no, ": column '",
             column, "': '", cell, "' is not a number");
  return value;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}


}  // namespace

CSVLogger::CSVLogger(std::string path) : path_(std::move(path)) {
  VOLT_CHECK(!path_.empty(), "[csv] empty metrics file path");
}

CSVLogger::~CSVLogger() {
  try {
    flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "volt: warning: %s\n", e.what());
  }
}

void CSVLogger::log(int64_t step, int64_t epoch, const std::map<std::string, double>& metrics) {
  // Validate everything before touching state, so a bad name leaves the logger unchanged.
  for (const auto& entry : metrics) check_name(path_, entry.first);
  Row& row = rows_[step];
  row.epoch = epoch;
  for (const auto& [name, value] : metrics) {
    add_name(name);
    row.values[name] = value;
  }
  dirty_ = true;
}

void CSVLogger::add_name(const std::string& name) {
  if (!names_.insert(name).second) return;
  columns_.assign({"step", "epoch"});
  columns_.insert(columns_.end(), names_.begin(), names_.end());
}

void CSVLogger::flush() {
  if (!dirty_) return;
  write_file_atomic(path_, render());
  dirty_ = false;
}

std::string CSVLogger::render() const {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) out += (i ? "," : "") + columns_[i];
  out += '\n';
  for (const auto& [step, row] : rows_) {
    out += std::to_string(step) + "," + std::to_string(row.epoch);
    for (const std::string& name : names_) {
      out += ',';
      const auto it = row.values.find(name);
      if (it != row.values.end()) out += format_value(it->second);
    }
    out += '\n';
  }
  return out;
}

void CSVLogger::load_existing(int64_t max_step) {
  if (!file_exists(path_)) return;
  for (auto& values : read(path_)) {
    const auto step = values.find("step"), epoch = values.find("epoch");
    VOLT_CHECK(step != values.end() && epoch != values.end(), "[csv] ", path_,
               ": a row lacks a step or epoch value");
    const auto step_value = static_cast<int64_t>(step->second);
    const auto epoch_value = static_cast<int64_t>(epoch->second);
    if (step_value > max_step) continue;
    values.erase("step");
    values.erase("epoch");
    log(step_value, epoch_value, values);
  }
  dirty_ = true;  // rows past max_step must disappear from the file on the next flush
}

std::vector<std::map<std::string, double>> CSVLogger::read(const std::string& path) {
  std::ifstream in(path);
  VOLT_CHECK(in.is_open(), "[csv] ", path, ": cannot open: ", std::strerror(errno));
  std::vector<std::map<std::string, double>> rows;
  std::string line;
  if (!std::getline(in, line)) return rows;  // an empty file has no rows
  auto strip_cr = [](std::string& s) {
    if (!s.empty() && s.back() == '\r') s.pop_back();
  };
  strip_cr(line);
  const std::vector<std::string> header = split_commas(line);
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    strip_cr(line);
    if (line.empty()) continue;
    const std::vector<std::string> cells = split_commas(line);
    VOLT_CHECK(cells.size() == header.size(), "[csv] ", path, ":", line_no, ": ", cells.size(),
               " cells but the header has ", header.size());
    std::map<std::string, double> row;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (cells[i].empty()) continue;
      row[header[i]] = parse_cell(cells[i], path, line_no, header[i]);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace volt

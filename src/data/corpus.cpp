// Corpus readers: options checked up front, inputs expanded to a sorted file list, then each file
// cut into documents by its format. Every error names the file (and line) and the bad value.
#include "volt/data/corpus.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "volt/core/check.h"
#include "volt/io/files.h"

namespace volt::data {
namespace {

namespace fs = std::filesystem;
// Ordered, so messages list a record's keys as the file has them.
using json = nlohmann::ordered_json;

constexpr const char* kFormats[] = {"text", "jsonl", "files", "wikitext"};
constexpr const char* kSplits[] = {"file", "line", "blank_line"};

template <size_t N>
bool one_of(const std::string& value, const char* const (&valid)[N]) {
  return std::find(std::begin(valid), std::end(valid), value) != std::end(valid);
}

template <size_t N>
std::string list(const char* const (&valid)[N]) {
  std::string out;
  for (const char* v : valid) out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\n\r\v\f") == std::string_view::npos;
}

std::string_view without_line_end(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Calls f(line, number) for each line of text, the line keeping its "\n" (the last line may have
// none); numbers are 1-based.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  size_t start = 0;
  for (int64_t number = 1; start < text.size(); ++number) {
    size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    f(text.substr(start, end - start), number);
    start = end;
  }
}

void emit(std::string_view text, const std::string& source,
          const std::function<void(Document&&)>& sink) {
  if (is_blank(text)) return;
  sink(Document{std::string(text), source});
}

std::string at_line(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

void read_lines(const std::string& path, std::string_view text,
                const std::function<void(Document&&)>& sink) {
  for_each_line(text, [&](std::string_view line, int64_t number) {
    emit(without_line_end(line), at_line(path, number), sink);
  });
}

// A document is a run of non-blank lines; the runs' line ends become "\n" (so "\r\n" files give
// the same documents as "\n" files) and the last line's end is dropped.
void read_paragraphs(const std::string& path, std::string_view text,
                     const std::function<void(Document&&)>& sink) {
  std::string doc;
  int64_t first_line = 0;
  auto flush = [&] {
    if (first_line > 0) emit(doc, at_line(path, first_line), sink);
    doc.clear();
    first_line = 0;
  };
  for_each_line(text, [&](std::string_view line, int64_t number) {
    if (is_blank(line)) return flush();
    if (first_line == 0) {
      first_line = number;
    } else {
      doc += '\n';
    }
    doc += without_line_end(line);
  });
  flush();
}

// " = Robert Boulter = " starts an article; " = = Career = = " is a section inside one.
bool is_article_title(std::string_view line) {
  line = without_line_end(line);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  if (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  return line.size() >= 5 && line.substr(0, 2) == "= " && line[2] != '=' &&
         line.substr(line.size() - 2) == " =";
}

// Articles keep their text verbatim, title line and blank lines included, so the documents put
// back together are the file (less any blank text before the first title).
void read_wikitext(const std::string& path, std::string_view text,
                   const std::function<void(Document&&)>& sink) {
  size_t start = 0;
  int64_t start_line = 1;
  size_t offset = 0;
  for_each_line(text, [&](std::string_view line, int64_t number) {
    if (is_article_title(line) && offset > start) {
      emit(text.substr(start, offset - start), at_line(path, start_line), sink);
      start = offset;
      start_line = number;
    }
    offset += line.size();
  });
  emit(text.substr(start), at_line(path, start_line), sink);
}

std::string json_type(const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

// "(keys: id, body)", at most 10 of them, for messages about a record without the text field;
// `label` says which object when it is a nested one ("keys of 'meta'").
std::string keys_of(const json& object, const std::string& label = "keys") {
  std::string out;
  int shown = 0;
  for (auto it = object.begin(); it != object.end(); ++it, ++shown) {
    if (shown == 10) {
      out += ", ... " + std::to_string(object.size() - 10) + " more";
      break;
    }
    out += (out.empty() ? "" : ", ") + it.key();
  }
  return "(" + label + ": " + (out.empty() ? "none" : out) + ")";
}

// The string at `field` ("a.b" looks inside "a"); a key that itself contains the dots wins, so a
// flat {"meta.text": ...} record works too.
const std::string& text_at(const json& record, const std::string& field, const std::string& where) {
  VOLT_CHECK(record.is_object(), "[data] ", where, ": expected a JSON object with a string field '",
             field, "', got ", json_type(record));
  const json* value = &record;
  if (record.contains(field)) {
    value = &record.at(field);
  } else {
    std::string walked;  // the keys followed so far, "a" on the way to "a.b"
    size_t start = 0;
    while (start <= field.size()) {
      size_t end = field.find('.', start);
      if (end == std::string::npos) end = field.size();
      const std::string key = field.substr(start, end - start);
      if (!value->is_object() || !value->contains(key)) {
        const bool nested = value->is_object() && !walked.empty();
        VOLT_FAIL("[data] ", where, ": no string field '", field, "' ",
                  nested ? keys_of(*value, "keys of '" + walked + "'") : keys_of(record));
      }
      value = &value->at(key);
      walked += (walked.empty() ? "" : ".") + key;
      start = end + 1;
    }
  }
  VOLT_CHECK(value->is_string(), "[data] ", where, ": field '", field, "' is ", json_type(*value),
             ", not a string ", keys_of(record));
  return value->get_ref<const std::string&>();
}

void read_jsonl(const std::string& path, std::string_view text, const std::string& field,
                const std::function<void(Document&&)>& sink) {
  for_each_line(text, [&](std::string_view line, int64_t number) {
    if (is_blank(line)) return;
    const std::string where = at_line(path, number);
    json record;
    try {
      record = json::parse(without_line_end(line));
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number too large
      VOLT_FAIL("[data] ", where, ": not a JSON line (", e.what(), ")");
    }
    emit(text_at(record, field, where), where, sink);
  });
}

// Where a path or pattern's literal leading folders end: exclude patterns may be written relative
// to it ("test/**" for "/usr/lib/python3.11/**/*.py"). Repeated slashes are collapsed, as
// glob_files collapses them in the paths it returns.
std::string fixed_prefix(const std::string& path_or_pattern) {
  const size_t end = std::min(path_or_pattern.find_first_of("*?["), path_or_pattern.size());
  std::string prefix;
  for (size_t i = 0; i < end; ++i) {
    if (path_or_pattern[i] != '/' || prefix.empty() || prefix.back() != '/') {
      prefix += path_or_pattern[i];
    }
  }
  const size_t slash = prefix.rfind('/');
  return slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
}

bool excluded(const std::string& file, const std::string& prefix,
              const std::vector<std::string>& exclude) {
  const std::string relative =
      file.compare(0, prefix.size(), prefix) == 0 ? file.substr(prefix.size()) : file;
  return std::any_of(exclude.begin(), exclude.end(), [&](const std::string& pattern) {
    return glob_match(pattern, file) || glob_match(pattern, relative);
  });
}

// The plain path itself, checked: a folder gets a hint at the glob that reads what is inside.
void check_plain_path(const std::string& path, const std::string& format) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::is_directory(status)) {
    const std::string ext = format == "jsonl" ? "*.jsonl" : format == "files" ? "*" : "*.txt";
    VOLT_FAIL("[data] ", path, ": is a folder; to read the files in it give a glob such as \"",
              fs::path(path).lexically_normal().string(), "/**/", ext, "\"");
  }
  VOLT_CHECK(fs::exists(status), "[data] ", path, ": no such file");
  VOLT_CHECK(fs::is_regular_file(status), "[data] ", path, ": not a regular file");
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

}  // namespace

void validate(const CorpusOptions& options) {
  VOLT_CHECK(one_of(options.format, kFormats), "[data] format '", options.format,
             "' is not one of ", list(kFormats));
  VOLT_CHECK(one_of(options.split, kSplits), "[data] split '", options.split, "' is not one of ",
             list(kSplits), " (text format only)");
  const std::string& field = options.text_field;
  VOLT_CHECK(!field.empty() && field.front() != '.' && field.back() != '.' &&
                 field.find("..") == std::string::npos,
             "[data] text_field '", field,
             "' is not a field name (the JSONL key that holds the text: \"text\", or \"a.b\" for "
             "a nested one)");
  VOLT_CHECK(!options.paths.empty(),
             "[data] paths is empty: give at least one file or glob pattern (\"data/**/*.txt\")");
}

std::vector<std::string> corpus_files(const CorpusOptions& options) {
  validate(options);
  std::vector<std::string> files;
  for (const auto& path : options.paths) {
    std::vector<std::string> matched;
    if (has_glob(path)) {
      matched = glob_files(path);
      VOLT_CHECK(!matched.empty(), "[data] ", path, ": the pattern matches no file");
    } else {
      check_plain_path(path, options.format);
      matched.push_back(path);
    }
    const std::string prefix = fixed_prefix(path);
    for (auto& file : matched) {
      if (!excluded(file, prefix, options.exclude)) files.push_back(std::move(file));
    }
  }
  VOLT_CHECK(!files.empty(), "[data] every input file is excluded (paths: ", joined(options.paths),
             "; exclude: ", joined(options.exclude), ")");
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

void read_corpus_file(const CorpusOptions& options, const std::string& path,
                      const std::function<void(Document&&)>& sink) {
  read_corpus_text(options, path, io::read_file(path), sink);
}

void read_corpus_text(const CorpusOptions& options, const std::string& path, std::string text,
                      const std::function<void(Document&&)>& sink) {
  const std::string& format = options.format;
  if (format == "files" || (format == "text" && options.split == "file")) {
    if (!is_blank(text)) sink(Document{std::move(text), path});
  } else if (format == "text" && options.split == "line") {
    read_lines(path, text, sink);
  } else if (format == "text" && options.split == "blank_line") {
    read_paragraphs(path, text, sink);
  } else if (format == "jsonl") {
    read_jsonl(path, text, options.text_field, sink);
  } else if (format == "wikitext") {
    read_wikitext(path, text, sink);
  } else {
    validate(options);  // names the bad format or split
    VOLT_FAIL("[data] ", path, ": cannot read format '", format, "'");
  }
}

void read_corpus(const CorpusOptions& options, const std::function<void(Document&&)>& sink) {
  for (const auto& path : corpus_files(options)) read_corpus_file(options, path, sink);
}

}  // namespace volt::data

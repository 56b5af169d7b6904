// Corpus readers: turn files on disk into a stream of documents, the unit that splits, packing
// and attention masks respect. No LibTorch here (part of the volt_text library).
//   text      one file is one document ("file"), or one per line ("line"), or documents separated
//             by blank lines ("blank_line")
//   jsonl     one JSON object per line; the document is the string at `text_field` ("a.b" nests)
//   files     every file a glob matches is one document (a source tree:
//             "/usr/lib/python3.11/**/*.py")
//   wikitext  Wikitext's raw files: an article starts at a top-level " = Title = " heading line
// Documents come out in a fixed order (files sorted by path, then their order inside the file), so
// the same inputs always give the same document indices.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace volt::data {

struct CorpusOptions {
  std::string format = "text";       // text | jsonl | files | wikitext
  std::vector<std::string> paths;    // files or glob patterns (*, ?, [...], ** across folders)
  std::vector<std::string> exclude;  // glob patterns of files to leave out
  std::string split = "file";        // text only: file | line | blank_line
  std::string text_field = "text";   // jsonl only
};

/// Checks format / split / text_field and that paths is not empty; a bad value is a volt::Error
/// naming it and listing the valid ones.
void validate(const CorpusOptions& options);

struct Document {
  std::string text;
  std::string source;  // where it came from, for messages: "path" or "path:line"
};

/// The input files, after glob expansion and exclusion: sorted, without duplicates. A path or a
/// pattern that matches nothing is a volt::Error naming it (a folder's error suggests a glob).
/// An exclude pattern is tried on each file as expanded and on its part below the pattern's fixed
/// leading folders, so "**/test/**" and "test/**" both leave out "/usr/lib/python3.11/test/x.py"
/// of "/usr/lib/python3.11/**/*.py". Excluding every file is an error too.
std::vector<std::string> corpus_files(const CorpusOptions& options);

/// Reads every document of the corpus in order and hands it to `sink`. Documents that are empty
/// or only whitespace are skipped. Bad input (a JSONL line that is not JSON, a record without the
/// text field or with a non-string one) is a volt::Error naming file and line.
void read_corpus(const CorpusOptions& options, const std::function<void(Document&&)>& sink);

/// Reads one file's documents (what read_corpus does per file).
void read_corpus_file(const CorpusOptions& options, const std::string& path,
                      const std::function<void(Document&&)>& sink);

/// The same for a file's bytes already in memory (the token cache reads each input once, to hash
/// it and to split it).
void read_corpus_text(const CorpusOptions& options, const std::string& path, std::string text,
                      const std::function<void(Document&&)>& sink);

/// True when `path` matches `pattern`: '*' and '?' never cross '/', "**" as a whole path
/// component matches zero or more folders, "[abc]" / "[a-z]" / "[!a]" are character classes.
/// '?' and classes take one UTF-8 character; names starting with '.' are not special; there is
/// no escaping. "**" also spans an absolute path's root: "**/test/**" matches "/usr/test/x".
bool glob_match(const std::string& pattern, const std::string& path);

/// True when the string contains a glob metacharacter.
bool has_glob(const std::string& pattern);

/// The regular files that match `pattern` (walking only below its fixed leading folders), sorted.
/// Symlinks to files count; symlinked folders are not entered (no loops), unreadable ones are
/// skipped. Paths come back as the pattern spells its fixed folders ("src/**" gives "src/a.txt").
/// A pattern without metacharacters gives itself when it names a regular file.
std::vector<std::string> glob_files(const std::string& pattern);

}  // namespace volt::data

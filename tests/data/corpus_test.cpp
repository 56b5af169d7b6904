// Corpus readers: glob matching and expansion (on temp trees and the Python standard library),
// the text split modes, JSONL fields, Wikitext-2 articles, determinism, and the error messages.
#include "volt/data/corpus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "test_data.h"
#include "test_util.h"
#include "volt/io/files.h"

namespace volt::data {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::ScopedTempDir;

const std::string kPythonLib = "/usr/lib/python3.11";
const std::string kPythonHint = " is missing: run scripts/install-deps.sh (libpython3.11-stdlib)";

void write(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<Document> read_all(const CorpusOptions& options) {
  std::vector<Document> docs;
  read_corpus(options, [&](Document&& d) { docs.push_back(std::move(d)); });
  return docs;
}

CorpusOptions text_options(const std::string& path, const std::string& split) {
  CorpusOptions o;
  o.paths = {path};
  o.split = split;
  return o;
}

std::vector<std::string> texts(const std::vector<Document>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.text);
  return out;
}

std::vector<std::string> sources(const std::vector<Document>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.source);
  return out;
}

using Strings = std::vector<std::string>;

TEST(GlobMatch, StarAndQuestionMarkStayInsideOneFolder) {
  EXPECT_TRUE(glob_match("*.py", "b.py"));
  EXPECT_FALSE(glob_match("*.py", "a/b.py"));
  EXPECT_TRUE(glob_match("a/*.py", "a/b.py"));
  EXPECT_FALSE(glob_match("a?b", "a/b"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
  EXPECT_FALSE(glob_match("*/x", "/x"));  // the root of an absolute path is no folder name
  EXPECT_TRUE(glob_match("?.txt", "\xC3\xA9.txt"));  // '?' is one UTF-8 character: "é"
  EXPECT_TRUE(glob_match("data//*.txt", "data/a.txt"));
}

TEST(GlobMatch, DoubleStarSpansZeroOrMoreFolders) {
  EXPECT_TRUE(glob_match("**/*.py", "a.py"));
  EXPECT_TRUE(glob_match("**/*.py", "a/b/c.py"));
  EXPECT_FALSE(glob_match("**/*.py", "a/b/c.pyc"));
  EXPECT_TRUE(glob_match("a/**", "a/x/y"));
  EXPECT_FALSE(glob_match("a/**", "b/x/y"));
  EXPECT_TRUE(glob_match("a/**/b", "a/b"));
  EXPECT_TRUE(glob_match("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(glob_match("a/**/b", "a/x/y/c"));
  EXPECT_TRUE(glob_match("**/test/**", "/usr/lib/python3.11/test/support/x.py"));
  EXPECT_FALSE(glob_match("**/test/**", "/usr/lib/python3.11/tests/x.py"));
  EXPECT_TRUE(glob_match("/usr/**/*.py", "/usr/lib/x.py"));
  EXPECT_FALSE(glob_match("/usr/**/*.py", "usr/lib/x.py"));
  EXPECT_TRUE(glob_match("a**b", "axyb"));  // "**" inside a name is two '*'
  EXPECT_FALSE(glob_match("a**b", "ax/yb"));
}

TEST(GlobMatch, CharacterClasses) {
  EXPECT_TRUE(glob_match("[a-c]?.txt", "b1.txt"));
  EXPECT_FALSE(glob_match("[a-c]?.txt", "d1.txt"));
  EXPECT_FALSE(glob_match("[a-c]?.txt", "b.txt"));
  EXPECT_TRUE(glob_match("[!a]*", "bcd"));
  EXPECT_FALSE(glob_match("[!a]*", "abc"));
  EXPECT_TRUE(glob_match("[^a]*", "bcd"));
  EXPECT_TRUE(glob_match("[]x]", "]"));        // ']' first is a member
  EXPECT_TRUE(glob_match("[ab", "[ab"));       // no closing ']': a literal '['
  EXPECT_TRUE(glob_match("[a-]", "-"));        // '-' last is a member
  EXPECT_TRUE(glob_match("[é]", "\xC3\xA9"));  // classes hold UTF-8 characters
  EXPECT_FALSE(glob_match("[!/]", "/"));
}

TEST(GlobMatch, HasGlob) {
  EXPECT_TRUE(has_glob("a/*.txt"));
  EXPECT_TRUE(has_glob("a?.txt"));
  EXPECT_TRUE(has_glob("[ab].txt"));
  EXPECT_FALSE(has_glob("/data/corpus.txt"));
}

TEST(GlobFiles, WalksBelowTheFixedFoldersSorted) {
  ScopedTempDir tmp;
  for (const char* rel : {"b.txt", "a.txt", "a.md", "x/c.txt", "x/y/d.txt", "z/e.txt"}) {
    write(tmp / rel, "x");
  }
  fs::create_directories(tmp / "empty.txt");  // a folder is never a match
  const std::string root = tmp.path() + "/";
  EXPECT_EQ(glob_files(root + "*.txt"), (Strings{root + "a.txt", root + "b.txt"}));
  EXPECT_EQ(glob_files(root + "**/*.txt"),
            (Strings{root + "a.txt", root + "b.txt", root + "x/c.txt", root + "x/y/d.txt",
                     root + "z/e.txt"}));
  EXPECT_EQ(glob_files(root + "x/**"), (Strings{root + "x/c.txt", root + "x/y/d.txt"}));
  EXPECT_EQ(glob_files(root + "*/?.txt"), (Strings{root + "x/c.txt", root + "z/e.txt"}));
  EXPECT_EQ(glob_files(root + "**/**/d.txt"), (Strings{root + "x/y/d.txt"}));
  EXPECT_EQ(glob_files(root + "a.txt"), (Strings{root + "a.txt"}));
  EXPECT_TRUE(glob_files(root + "missing/**/*.txt").empty());
  EXPECT_TRUE(glob_files(root + "*.json").empty());
}

TEST(GlobFiles, RelativePatternsGiveRelativePaths) {
  ScopedTempDir tmp;
  write(tmp / "d/a.txt", "x");
  const auto cwd = fs::current_path();
  fs::current_path(tmp.path());
  const auto found = glob_files("**/*.txt");
  fs::current_path(cwd);
  EXPECT_EQ(found, (Strings{"d/a.txt"}));
}

TEST(GlobFiles, FollowsNoSymlinkedFolder) {
  ScopedTempDir tmp;
  write(tmp / "d/a.txt", "x");
  write(tmp / "outside/b.txt", "x");
  fs::create_directory_symlink(tmp.path(), tmp / "d/loop");  // would recurse forever
  fs::create_directory_symlink(tmp / "outside", tmp / "d/link");
  fs::create_symlink(tmp / "outside/b.txt", tmp / "d/file_link.txt");  // a file: kept
  const std::string d = tmp / "d";
  EXPECT_EQ(glob_files(d + "/**/*.txt"), (Strings{d + "/a.txt", d + "/file_link.txt"}));
}

TEST(GlobFiles, PythonStandardLibrary) {
  ASSERT_TRUE(fs::is_directory(kPythonLib)) << kPythonLib << kPythonHint;
  const auto files = glob_files(kPythonLib + "/**/*.py");
  EXPECT_GT(files.size(), 600u);
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  EXPECT_NE(std::find(files.begin(), files.end(), kPythonLib + "/json/decoder.py"), files.end());
  for (const auto& f : files) EXPECT_TRUE(glob_match("**/*.py", f)) << f;
}

TEST(CorpusFiles, ExcludeTestFoldersByFullOrRelativePattern) {
  ASSERT_TRUE(fs::is_directory(kPythonLib + "/test")) << kPythonLib << "/test" << kPythonHint;
  CorpusOptions o;
  o.format = "files";
  o.paths = {kPythonLib + "/**/*.py"};
  const auto all = corpus_files(o);
  const auto in_test = [](const std::string& f) { return f.find("/test/") != std::string::npos; };
  const auto n_test = std::count_if(all.begin(), all.end(), in_test);
  ASSERT_GT(n_test, 0);
  for (const auto& pattern : Strings{"**/test/**", "test/**", kPythonLib + "/test/**"}) {
    o.exclude = {pattern};
    const auto kept = corpus_files(o);
    EXPECT_EQ(kept.size(), all.size() - n_test) << pattern;
    EXPECT_EQ(std::count_if(kept.begin(), kept.end(), in_test), 0) << pattern;
    EXPECT_NE(std::find(kept.begin(), kept.end(), kPythonLib + "/json/decoder.py"), kept.end());
  }
}

TEST(CorpusFiles, SortedWithoutDuplicates) {
  ScopedTempDir tmp;
  write(tmp / "b.txt", "b");
  write(tmp / "a.txt", "a");
  write(tmp / "sub/c.txt", "c");
  CorpusOptions o;
  o.paths = {tmp / "sub/*.txt", tmp / "b.txt", tmp / "*.txt", tmp / "a.txt"};
  EXPECT_EQ(corpus_files(o), (Strings{tmp / "a.txt", tmp / "b.txt", tmp / "sub/c.txt"}));
  o.exclude = {"a.*", "**/sub/**"};
  EXPECT_EQ(corpus_files(o), (Strings{tmp / "b.txt"}));
}

TEST(CorpusFiles, ErrorsNameThePathOrPattern) {
  ScopedTempDir tmp;
  write(tmp / "a.txt", "a");
  CorpusOptions o;
  o.paths = {tmp / "missing.txt"};
  EXPECT_EQ(error_of([&] { corpus_files(o); }),
            "[data] " + (tmp / "missing.txt") + ": no such file");
  o.paths = {tmp.path()};
  const std::string folder = error_of([&] { corpus_files(o); });
  EXPECT_NE(folder.find("[data] " + tmp.path() + ": is a folder"), std::string::npos) << folder;
  EXPECT_NE(folder.find(tmp.path() + "/**/*.txt"), std::string::npos) << folder;
  o.paths = {tmp / "*.json"};
  EXPECT_EQ(error_of([&] { corpus_files(o); }),
            "[data] " + (tmp / "*.json") + ": the pattern matches no file");
  o.paths = {tmp / "*.txt"};
  o.exclude = {"**"};
  EXPECT_NE(error_of([&] { corpus_files(o); }).find("every input file is excluded"),
            std::string::npos);
}

TEST(CorpusValidate, BadValuesAreNamedWithTheValidOnes) {
  CorpusOptions o;
  o.paths = {"x.txt"};
  EXPECT_EQ(error_of([&] { validate(o); }), "<no error>");
  o.format = "csv";
  EXPECT_EQ(error_of([&] { validate(o); }),
            "[data] format 'csv' is not one of text, jsonl, files, wikitext");
  o.format = "text";
  o.split = "paragraph";
  EXPECT_NE(error_of([&] { validate(o); })
                .find("split 'paragraph' is not one of file, line, "
                      "blank_line"),
            std::string::npos);
  o.split = "line";
  o.text_field = "";
  EXPECT_NE(error_of([&] { validate(o); }).find("[data] text_field ''"), std::string::npos);
  o.text_field = "a..b";
  EXPECT_NE(error_of([&] { validate(o); }).find("[data] text_field 'a..b'"), std::string::npos);
  o.text_field = "text";
  o.paths.clear();
  EXPECT_NE(error_of([&] { validate(o); }).find("[data] paths is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { read_all(o); }).find("[data] paths is empty"), std::string::npos);
}

TEST(CorpusText, SplitModes) {
  ScopedTempDir tmp;
  const std::string path = tmp / "t.txt";
  write(path, "first line\r\n second  \r\n\r\n  \t\r\nthird\nfourth\n\n\nlast");
  EXPECT_EQ(texts(read_all(text_options(path, "file"))),
            (Strings{"first line\r\n second  \r\n\r\n  \t\r\nthird\nfourth\n\n\nlast"}));
  EXPECT_EQ(sources(read_all(text_options(path, "file"))), (Strings{path}));

  const auto lines = read_all(text_options(path, "line"));
  EXPECT_EQ(texts(lines), (Strings{"first line", " second  ", "third", "fourth", "last"}));
  EXPECT_EQ(sources(lines),
            (Strings{path + ":1", path + ":2", path + ":5", path + ":6", path + ":9"}));

  const auto paragraphs = read_all(text_options(path, "blank_line"));
  EXPECT_EQ(texts(paragraphs), (Strings{"first line\n second  ", "third\nfourth", "last"}));
  EXPECT_EQ(sources(paragraphs), (Strings{path + ":1", path + ":5", path + ":9"}));
}

TEST(CorpusText, BlankFilesGiveNoDocument) {
  ScopedTempDir tmp;
  write(tmp / "blank.txt", " \n\t\r\n");
  write(tmp / "empty.txt", "");
  for (const char* split : {"file", "line", "blank_line"}) {
    EXPECT_TRUE(read_all(text_options(tmp / "*.txt", split)).empty()) << split;
  }
}

TEST(CorpusFiles, EveryFileIsOneDocument) {
  ScopedTempDir tmp;
  write(tmp / "src/b.py", "print('b')\n\n");
  write(tmp / "src/a.py", "import b\r\n");
  write(tmp / "src/pkg/c.py", "\xff\xfe not UTF-8 is the tokenizer's business\n");
  write(tmp / "src/pkg/blank.py", "\n\n");
  CorpusOptions o;
  o.format = "files";
  o.paths = {tmp / "src/**/*.py"};
  const auto docs = read_all(o);
  EXPECT_EQ(texts(docs), (Strings{"import b\r\n", "print('b')\n\n",
                                  "\xff\xfe not UTF-8 is the tokenizer's business\n"}));
  EXPECT_EQ(sources(docs), (Strings{tmp / "src/a.py", tmp / "src/b.py", tmp / "src/pkg/c.py"}));
}

TEST(CorpusJsonl, TopLevelAndNestedFields) {
  ScopedTempDir tmp;
  const std::string path = tmp / "c.jsonl";
  write(path,
        "{\"id\": 1, \"text\": \"hello\\nworld \", \"meta\": {\"body\": {\"raw\": \"deep\"}}}\r\n"
        "\n"
        "{\"text\": \"  \", \"meta\": {\"body\": {\"raw\": \"two\"}}}\n"
        "{\"text\": \"caf\\u00e9\", \"meta\": {\"body\": {\"raw\": \"\"}}, \"meta.flat\": \"f\"}");
  CorpusOptions o;
  o.format = "jsonl";
  o.paths = {path};
  const auto docs = read_all(o);
  EXPECT_EQ(texts(docs), (Strings{"hello\nworld ", "caf\xC3\xA9"}));
  EXPECT_EQ(sources(docs), (Strings{path + ":1", path + ":4"}));

  o.text_field = "meta.body.raw";
  const auto nested = read_all(o);
  EXPECT_EQ(texts(nested), (Strings{"deep", "two"}));
  EXPECT_EQ(sources(nested), (Strings{path + ":1", path + ":3"}));

  // A key with a dot in its name is found as it is.
  write(path, "{\"meta.flat\": \"flat\", \"meta\": {}}\n");
  o.text_field = "meta.flat";
  EXPECT_EQ(texts(read_all(o)), (Strings{"flat"}));
}

TEST(CorpusJsonl, ErrorsNameFileLineAndKeys) {
  ScopedTempDir tmp;
  const std::string path = tmp / "corpus.jsonl";
  CorpusOptions o;
  o.format = "jsonl";
  o.paths = {path};
  const auto error_for = [&](const std::string& content) {
    write(path, content);
    return error_of([&] { read_all(o); });
  };
  const std::string good = "{\"text\": \"ok\"}\n\n";
  EXPECT_EQ(error_for(good + "{\"id\": 3, \"body\": \"x\"}\n"),
            "[data] " + path + ":3: no string field 'text' (keys: id, body)");
  const std::string not_json = error_for(good + "{\"text\": \"unterminated}\n");
  EXPECT_EQ(not_json.rfind("[data] " + path + ":3: not a JSON line", 0), 0u) << not_json;
  EXPECT_EQ(error_for("{\"text\": 7, \"id\": 1}\n"),
            "[data] " + path + ":1: field 'text' is a number, not a string (keys: text, id)");
  EXPECT_EQ(error_for("[\"text\"]\n"), "[data] " + path +
                                           ":1: expected a JSON object with a string field "
                                           "'text', got an array");
  std::string many = "{";
  for (char c = 'a'; c <= 'l'; ++c) many += std::string(c == 'a' ? "" : ", ") + "\"" + c + "\": 0";
  EXPECT_EQ(error_for(many + "}\n"),
            "[data] " + path +
                ":1: no string field 'text' (keys: a, b, c, d, e, f, g, h, i, j, "
                "... 2 more)");
  o.text_field = "meta.body";
  EXPECT_EQ(error_for("{\"meta\": {\"title\": \"t\", \"lang\": \"en\"}}\n"),
            "[data] " + path + ":1: no string field 'meta.body' (keys of 'meta': title, lang)");
  EXPECT_EQ(error_for("{\"meta\": 5}\n"),
            "[data] " + path + ":1: no string field 'meta.body' (keys: meta)");
}

TEST(CorpusWikitext, SectionsStayInsideTheirArticle) {
  ScopedTempDir tmp;
  const std::string path = tmp / "wiki.txt";
  const std::string first = " = First = \n \n Text .\n \n = = Section = = \n \n More .\n";
  const std::string second = " = Second : a = b = \n = = = Deep = = = \n Body .\n";
  write(path, "preface\n" + first + second);
  CorpusOptions o;
  o.format = "wikitext";
  o.paths = {path};
  const auto docs = read_all(o);
  EXPECT_EQ(texts(docs), (Strings{"preface\n", first, second}));
  EXPECT_EQ(sources(docs), (Strings{path + ":1", path + ":2", path + ":9"}));
}

TEST(CorpusWikitext, ValidSetArticles) {
  const std::string path = volt_test_data("corpora/wikitext-2/valid.txt");
  const std::string file = io::read_file(path);
  // Count top-level titles independently: " = Title = " lines, sections (" = = ") excluded.
  const std::regex title(R"(^ ?= [^=].* = ?\r?$)");
  size_t n_titles = 0;
  size_t first_title = std::string::npos;
  for (size_t start = 0; start < file.size();) {
    const size_t end = std::min(file.find('\n', start), file.size());
    if (std::regex_match(file.substr(start, end - start), title)) {
      ++n_titles;
      if (first_title == std::string::npos) first_title = start;
    }
    start = end + 1;
  }
  ASSERT_EQ(n_titles, 60u);  // grep -c '^ = [^=].* = $' valid.txt
  ASSERT_EQ(file.substr(0, first_title).find_first_not_of(" \n"), std::string::npos);

  CorpusOptions o;
  o.format = "wikitext";
  o.paths = {path};
  const auto docs = read_all(o);
  ASSERT_EQ(docs.size(), n_titles);
  EXPECT_EQ(docs[0].text.substr(0, docs[0].text.find('\n')), " = Homarus gammarus = ");
  EXPECT_EQ(docs[0].source, path + ":2");
  std::string joined;
  for (const auto& d : docs) {
    EXPECT_TRUE(std::regex_match(d.text.substr(0, d.text.find('\n')), title)) << d.source;
    joined += d.text;
  }
  EXPECT_TRUE(joined == file.substr(first_title)) << "the articles do not add up to the file";
}

TEST(CorpusRead, PythonStandardLibraryIsDeterministic) {
  ASSERT_TRUE(fs::is_directory(kPythonLib)) << kPythonLib << kPythonHint;
  CorpusOptions o;
  o.format = "files";
  o.paths = {kPythonLib + "/**/*.py"};
  const auto docs = read_all(o);
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.text.size();
  EXPECT_GT(docs.size(), 600u);
  EXPECT_GT(bytes, 10u << 20);

  const auto again = read_all(o);
  ASSERT_EQ(again.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    ASSERT_EQ(again[i].source, docs[i].source);
    ASSERT_TRUE(again[i].text == docs[i].text) << docs[i].source;
  }
}

}  // namespace
}  // namespace volt::data

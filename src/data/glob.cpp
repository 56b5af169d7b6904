// Glob patterns for corpus paths, matched path component by path component: '*', '?' and classes
// stay inside one component, a whole "**" component spans any number of them. glob_files walks
// the tree the same way, so it lists only the folders a pattern can reach (a "*/x.txt" pattern
// reads one level, not the whole tree) and descends into no symlinked folder (no loops).
#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "volt/data/corpus.h"

namespace volt::data {
namespace {

namespace fs = std::filesystem;

// An absolute path's first component: '*' and '?' never match '/', so only "**" or a literal "/"
// can match it ("**/test/**" matches "/usr/lib/test/x.py", "*/x" does not match "/x").
constexpr std::string_view kRoot = "/";

std::vector<std::string_view> split_components(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') parts.push_back(kRoot);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));  // "a//b" is "a/b"
    start = end + 1;
  }
  return parts;
}

// One code point of UTF-8 at s[i], advancing i; a stray byte counts as a character by itself, so
// '?' on a file name with bad UTF-8 still makes progress.
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i++]);
  const int extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  char32_t cp = extra == 0 ? lead : lead & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return lead;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

// Matches the class starting at p[pi] == '[' against one character of s at si. Returns false
// with `closed` false when the class has no closing ']' (the '[' is then a literal character).
bool match_class(std::string_view p, size_t& pi, std::string_view s, size_t& si, bool& closed) {
  size_t i = pi + 1;
  const bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  size_t c_at = si;
  const char32_t c = next_code_point(s, c_at);
  bool hit = false;
  bool first = true;
  while (i < p.size() && (p[i] != ']' || first)) {  // a ']' right after '[' is a member
    first = false;
    const char32_t lo = next_code_point(p, i);
    char32_t hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      ++i;
      hi = next_code_point(p, i);
    }
    hit = hit || (lo <= c && c <= hi);
  }
  closed = i < p.size();
  if (!closed) return false;
  pi = i + 1;
  si = c_at;
  return hit != negate;
}

// One component (no '/' in either) against a pattern of '*', '?', classes and literal bytes.
// Greedy with backtracking to the last '*': linear for one '*', quadratic at worst.
bool match_component(std::string_view p, std::string_view s) {
  size_t pi = 0;
  size_t si = 0;
  size_t star_pi = std::string_view::npos;
  size_t star_si = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      if (p[pi] == '*') {
        star_pi = ++pi;
        star_si = si;
        continue;
      }
      if (p[pi] == '?') {
        next_code_point(s, si);
        ++pi;
        continue;
      }
      bool closed = true;
      if (p[pi] == '[' && match_class(p, pi, s, si, closed)) continue;
      if ((p[pi] != '[' || !closed) && p[pi] == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_pi == std::string_view::npos) return false;
    // Let the last '*' swallow one more character and retry from there.
    pi = star_pi;
    next_code_point(s, star_si);
    si = star_si;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool match_components(const std::vector<std::string_view>& p, size_t pi,
                      const std::vector<std::string_view>& s, size_t si) {
  for (; pi < p.size(); ++pi, ++si) {
    if (p[pi] == "**") {
      while (pi + 1 < p.size() && p[pi + 1] == "**") ++pi;
      if (pi + 1 == p.size()) return true;  // a trailing "**" takes whatever is left
      for (size_t k = si; k <= s.size(); ++k) {
        if (match_components(p, pi + 1, s, k)) return true;
      }
      return false;
    }
    if (si == s.size()) return false;
    const bool root = p[pi] == kRoot || s[si] == kRoot;
    if (root ? p[pi] != s[si] : !match_component(p[pi], s[si])) return false;
  }
  return si == s.size();
}

struct Entry {
  std::string name;
  bool is_dir = false;   // a real folder, not a symlink to one
  bool is_file = false;  // a regular file, or a symlink to one
};

std::vector<Entry> list_dir(const std::string& dir) {
  std::vector<Entry> entries;
  std::error_code ec;
  // Unreadable or vanished folders are skipped rather than failing the whole expansion.
  fs::directory_iterator it(dir.empty() ? "." : dir, fs::directory_options::skip_permission_denied,
                            ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    Entry e;
    e.name = it->path().filename().string();
    std::error_code type_ec;
    const bool link = it->is_symlink(type_ec);
    e.is_dir = !link && it->is_directory(type_ec);
    e.is_file = !e.is_dir && it->is_regular_file(type_ec);
    if (e.is_dir || e.is_file) entries.push_back(std::move(e));
  }
  return entries;
}

// Expands pattern components [i, end) below `prefix` (a folder path ending in '/', or "" for the
// working folder), appending matching files to `out`. Each folder is listed once.
class Walker {
 public:
  Walker(const std::vector<std::string_view>& parts, std::vector<std::string>& out)
      : parts_(parts), out_(out) {}

  void expand(const std::string& prefix, size_t i) { step(prefix, list_dir(prefix), i); }

 private:
  void step(const std::string& prefix, const std::vector<Entry>& entries, size_t i) {
    const std::string_view part = parts_[i];
    const bool last = i + 1 == parts_.size();
    if (part == "**") {
      if (last) {
        for (const auto& e : entries) {
          if (e.is_file) out_.push_back(prefix + e.name);
        }
      } else {
        step(prefix, entries, i + 1);  // "**" as zero folders
      }
      for (const auto& e : entries) {
        if (e.is_dir) expand(prefix + e.name + "/", i);  // "**" as one more folder
      }
      return;
    }
    for (const auto& e : entries) {
      if (!match_component(part, e.name)) continue;
      if (last && e.is_file) out_.push_back(prefix + e.name);
      if (!last && e.is_dir) expand(prefix + e.name + "/", i + 1);
    }
  }

  const std::vector<std::string_view>& parts_;
  std::vector<std::string>& out_;
};

}  // namespace

bool has_glob(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

bool glob_match(const std::string& pattern, const std::string& path) {
  return match_components(split_components(pattern), 0, split_components(path), 0);
}

std::vector<std::string> glob_files(const std::string& pattern) {
  if (!has_glob(pattern)) {
    std::error_code ec;
    if (fs::is_regular_file(pattern, ec)) return {pattern};
    return {};
  }
  const auto parts = split_components(pattern);
  // The fixed leading folders: where the walk starts.
  size_t first_glob = 0;
  std::string prefix;
  for (; first_glob < parts.size() && !has_glob(std::string(parts[first_glob])); ++first_glob) {
    prefix += parts[first_glob];
    if (parts[first_glob] != kRoot) prefix += '/';
  }
  std::vector<std::string> out;
  Walker(parts, out).expand(prefix, first_glob);
  // A "**/**" pattern or sibling paths through "**" can reach a file twice.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace volt::data

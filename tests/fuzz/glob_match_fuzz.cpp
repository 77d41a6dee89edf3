// libFuzzer target: pipeline/glob.hpp, input.include / input.exclude patterns.
//
// Input: the pattern, a '\n', then the path (all of it, newlines included); without a '\n' the
// whole input is the pattern and the path is empty.
//
// Properties, besides no crash and no sanitizer report:
//   - a compiled pattern keeps its text; a failed one says why ("invalid glob ...");
//   - POSIX fnmatch(pattern, path, FNM_PATHNAME) as the oracle, where the syntaxes agree: the
//     glob has no dotfile rule (hidden files are input.hidden's business, so no FNM_PERIOD),
//     reads '!' and '^' as negation and '\' as an escape, inside a class too, as glibc does.
//     A class never matches '/' in either. Left out: '[:alpha:]'-style classes (the glob has
//     none) and NUL bytes (fnmatch takes C strings). A "**" segment has no fnmatch equivalent:
//     there the oracle is a plain recursive matcher over the path's segments, which asks
//     fnmatch about each segment and lets "**" take any number of them;
//   - every path matches itself written as a pattern with every byte escaped, and nothing else;
//   - "**/P" matches "d/x" when P matches x, and "P/**" matches what P matches.
#include <cstddef>
#include <cstdint>
#include <fnmatch.h>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/glob.hpp"
#include "property.hpp"

namespace piperun::fuzz {
namespace {

using pipeline::GlobPattern;

// The pattern cut into its '/'-separated segments, as the glob reads it; `comparable` is false
// where the syntaxes part ways and fnmatch cannot judge (see the top).
struct Segments {
  bool comparable = true;
  bool has_globstar = false;
  std::vector<std::string> texts;  // each segment's own text; "\/" separates like '/'
};

Segments split_pattern(std::string_view pattern) {
  Segments out;
  std::string current;
  std::size_t i = 0;
  const auto finish = [&] {
    out.has_globstar = out.has_globstar || current == "**";
    out.texts.push_back(std::move(current));
    current.clear();
  };
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '/') {
      finish();
      ++i;
    } else if (c == '\\') {
      if (i + 1 == pattern.size()) return {.comparable = false};  // fails to compile anyway
      if (pattern[i + 1] == '/') {
        finish();
      } else {
        current.append(pattern.substr(i, 2));
      }
      i += 2;
    } else if (c == '[') {
      // The class ends at the first ']' that is not its first member (after '!' or '^').
      std::size_t j = i + 1;
      if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
      bool first = true;
      bool closed = false;
      while (j < pattern.size()) {
        if (pattern[j] == ']' && !first) {
          closed = true;
          break;
        }
        first = false;
        if (pattern[j] == '\\') {
          if (++j == pattern.size()) break;
        } else if (pattern[j] == '[' && j + 1 < pattern.size() &&
                   (pattern[j + 1] == ':' || pattern[j + 1] == '.' || pattern[j + 1] == '=')) {
          return {.comparable = false};  // POSIX classes, collating symbols, equivalences
        }
        ++j;
      }
      if (!closed) return {.comparable = false};  // fails to compile; fnmatch takes a '['
      current.append(pattern.substr(i, j + 1 - i));
      i = j + 1;
    } else {
      current += c;
      ++i;
    }
  }
  finish();
  return out;
}

bool fnmatch_segment(const std::string& segment, const std::string& name) {
  return ::fnmatch(segment.c_str(), name.c_str(), FNM_PATHNAME) == 0;
}

// The oracle for patterns with "**": segment by segment, "**" taking zero or more names.
// memo[s][n]: 0 unknown, 1 no, 2 yes, for segments from s against names from n.
bool reference_match(const std::vector<std::string>& segments,
                     const std::vector<std::string>& names, std::size_t s, std::size_t n,
                     std::vector<std::vector<char>>& memo) {
  char& known = memo[s][n];
  if (known != 0) return known == 2;
  bool result = false;
  if (s == segments.size()) {
    result = n == names.size();
  } else if (segments[s] == "**") {
    for (std::size_t taken = n; taken <= names.size() && !result; ++taken) {
      result = reference_match(segments, names, s + 1, taken, memo);
    }
  } else if (n < names.size()) {
    result = fnmatch_segment(segments[s], names[n]) &&
             reference_match(segments, names, s + 1, n + 1, memo);
  }
  known = result ? 2 : 1;
  return result;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> names;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t slash = path.find('/', begin);
    names.emplace_back(path.substr(begin, slash == std::string_view::npos ? slash : slash - begin));
    if (slash == std::string_view::npos) return names;
    begin = slash + 1;
  }
}

std::string describe(std::string_view pattern, std::string_view path, bool glob, bool oracle) {
  std::string text = "pattern '";
  text.append(pattern);
  text += "' path '";
  text.append(path);
  text += "': glob says ";
  text += glob ? "match" : "no match";
  text += ", the oracle ";
  text += oracle ? "match" : "no match";
  return text;
}

void check_against_fnmatch(std::string_view pattern, std::string_view path, bool matched) {
  if (pattern.find('\0') != std::string_view::npos || path.find('\0') != std::string_view::npos) {
    return;
  }
  const Segments segments = split_pattern(pattern);
  if (!segments.comparable) return;
  bool expected = false;
  if (!segments.has_globstar) {
    std::string joined;
    for (std::size_t i = 0; i < segments.texts.size(); ++i) {
      if (i > 0) joined += '/';
      joined += segments.texts[i];
    }
    expected = ::fnmatch(joined.c_str(), std::string(path).c_str(), FNM_PATHNAME) == 0;
  } else {
    const std::vector<std::string> names = split_path(path);
    std::vector<std::vector<char>> memo(segments.texts.size() + 1,
                                        std::vector<char>(names.size() + 1, 0));
    expected = reference_match(segments.texts, names, 0, 0, memo);
  }
  if (matched != expected) {
    property_broken("the glob disagrees with fnmatch", describe(pattern, path, matched, expected));
  }
}

// `path` as a pattern that matches exactly it: every byte escaped, '/' kept as the separator.
std::string escaped(std::string_view path) {
  std::string out;
  out.reserve(path.size() * 2);
  for (char c : path) {
    if (c != '/') out += '\\';
    out += c;
  }
  return out;
}

void check_literal(std::string_view path) {
  if (path.empty()) return;  // an empty pattern is an error
  const auto literal = GlobPattern::compile(escaped(path));
  require(literal.has_value(), "an escaped path compiles", path);
  require(literal->matches(path), "an escaped path matches itself", path);
  require(!literal->matches(std::string(path) + "x"), "an escaped path matches only itself", path);
}

void check_globstar_wrappers(std::string_view pattern, std::string_view path, bool matched) {
  if (!matched) return;
  const auto below = GlobPattern::compile("**/" + std::string(pattern));
  require(below.has_value() && below->matches(path), "**/P matches what P matches", pattern);
  require(below->matches("d/" + std::string(path)), "**/P matches d/x when P matches x", pattern);
  const auto above = GlobPattern::compile(std::string(pattern) + "/**");
  require(above.has_value() && above->matches(path), "P/** matches what P matches", pattern);
}

}  // namespace
}  // namespace piperun::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace piperun::fuzz;
  const std::string_view input = as_text(data, size);
  const std::size_t newline = input.find('\n');
  const std::string_view pattern = input.substr(0, newline);
  const std::string_view path =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  check_literal(path);

  const auto glob = GlobPattern::compile(pattern);
  if (!glob) {
    require(glob.error().starts_with("invalid glob"), "a compile error says what is wrong",
            glob.error());
    return 0;
  }
  require(glob->text() == pattern, "a compiled pattern keeps its text", pattern);
  const bool matched = glob->matches(path);
  check_against_fnmatch(pattern, path, matched);
  check_globstar_wrappers(pattern, path, matched);
  return 0;
}

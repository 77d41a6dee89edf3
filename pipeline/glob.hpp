// Glob patterns for input.include / input.exclude, matched against '/'-separated relative paths.
//   *      any run of characters except '/'
//   ?      one character except '/'
//   [...]  one character of a class: ranges a-z, negation with '!' or '^' first; never '/'
//   **     as a whole segment: any number of segments, zero included ("**", "a/**", "**/b")
//   \x     the character x itself
#pragma once

#include <bitset>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace piperun::pipeline {

class GlobPattern {
 public:
  // Fails, with a message saying what is wrong, on a malformed pattern (an unclosed '[',
  // a trailing '\', an empty pattern).
  static std::expected<GlobPattern, std::string> compile(std::string_view pattern);
  // Patterns cli/ has validated (input.include, input.exclude); one that fails is left out.
  static std::vector<GlobPattern> compile_all(const std::vector<std::string>& patterns);

  bool matches(std::string_view path) const;
  const std::string& text() const { return text_; }

 private:
  // One position of a segment: a run of '*' (collapsed into one), or one byte out of a set
  // ('?', a class and a literal are all sets, so matching a byte is one bit test).
  struct Token {
    bool star = false;
    std::bitset<256> bytes;  // !star: the bytes accepted here; '/' is never among them
  };
  struct Segment {
    bool globstar = false;  // the whole segment is "**": zero or more path segments
    std::vector<Token> tokens;
  };

  static bool segment_matches(const std::vector<Token>& tokens, std::string_view name);

  std::string text_;
  std::vector<Segment> segments_;  // the pattern split on '/'; adjacent "**" merged into one
};

}  // namespace piperun::pipeline

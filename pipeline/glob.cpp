// Glob compilation and matching. Paths are raw bytes: every comparison is byte-wise, so names
// that are not UTF-8 match like any other (a '?' is one byte, not one character).
//
// Cost: a segment is matched with the greedy algorithm that remembers only the last '*' (at
// most len(segment) * len(name) steps, never exponential), and "**" segments with a DP over
// path positions (at most segments(pattern) * segments(path) segment matches).
#include "pipeline/glob.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace piperun::pipeline {

namespace {

std::string error_at(std::string_view pattern, std::size_t offset, std::string_view what) {
  std::string message = "invalid glob \"";
  message.append(pattern);
  message += "\": ";
  message.append(what);
  message += " at byte ";
  message += std::to_string(offset);
  return message;
}

// Splits on '/'. An empty path is one empty segment, as "" is one empty name.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t slash = path.find('/', begin);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(begin));
      return parts;
    }
    parts.push_back(path.substr(begin, slash - begin));
    begin = slash + 1;
  }
}

}  // namespace

std::expected<GlobPattern, std::string> GlobPattern::compile(std::string_view pattern) {
  if (pattern.empty()) return std::unexpected(std::string("invalid glob: empty pattern"));

  GlobPattern glob;
  glob.text_.assign(pattern);

  Segment segment;
  // "**" is special only as the whole segment, written as exactly two unescaped stars.
  std::size_t segment_stars = 0;
  bool segment_has_other = false;

  const auto finish_segment = [&] {
    if (segment_stars == 2 && !segment_has_other) {
      // Adjacent "**" segments mean the same as one; merging keeps the DP small.
      if (glob.segments_.empty() || !glob.segments_.back().globstar) {
        glob.segments_.push_back(Segment{.globstar = true, .tokens = {}});
      }
    } else {
      glob.segments_.push_back(std::move(segment));
    }
    segment = Segment{};
    segment_stars = 0;
    segment_has_other = false;
  };
  const auto add_set = [&](const std::bitset<256>& bytes) {
    Token token;
    token.bytes = bytes;
    token.bytes.reset('/');
    segment.tokens.push_back(token);
    segment_has_other = true;
  };
  const auto add_literal = [&](unsigned char byte) {
    std::bitset<256> bytes;
    bytes.set(byte);
    add_set(bytes);
  };

  std::size_t i = 0;
  while (i < pattern.size()) {
    const unsigned char c = static_cast<unsigned char>(pattern[i]);
    if (c == '/') {
      finish_segment();
      ++i;
    } else if (c == '*') {
      ++segment_stars;
      // A run of stars inside a segment ("a**b") is one '*'.
      if (segment.tokens.empty() || !segment.tokens.back().star) {
        segment.tokens.push_back(Token{.star = true, .bytes = {}});
      }
      ++i;
    } else if (c == '?') {
      add_set(std::bitset<256>().set());
      ++i;
    } else if (c == '\\') {
      if (i + 1 == pattern.size()) return std::unexpected(error_at(pattern, i, "trailing '\\'"));
      // An escaped '/' is still the separator: no name can contain one.
      if (pattern[i + 1] == '/') {
        finish_segment();
      } else {
        add_literal(static_cast<unsigned char>(pattern[i + 1]));
      }
      i += 2;
    } else if (c == '[') {
      const std::size_t open = i;
      ++i;
      bool negate = false;
      if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
      }
      std::bitset<256> bytes;
      bool closed = false;
      bool first = true;  // a ']' right after the opening (and negation) is a member
      while (i < pattern.size()) {
        if (pattern[i] == ']' && !first) {
          closed = true;
          ++i;
          break;
        }
        first = false;
        // Reads one member byte, honouring '\' escapes; false on a trailing '\'.
        const auto read_member = [&](unsigned char& out) {
          if (pattern[i] == '\\') {
            if (i + 1 == pattern.size()) return false;
            ++i;
          }
          out = static_cast<unsigned char>(pattern[i]);
          ++i;
          return true;
        };
        unsigned char low = 0;
        if (!read_member(low)) return std::unexpected(error_at(pattern, i, "trailing '\\'"));
        // "a-z" is a range; a '-' just before the closing ']' is a member.
        if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
          ++i;
          unsigned char high = 0;
          if (!read_member(high)) return std::unexpected(error_at(pattern, i, "trailing '\\'"));
          // A reversed range ("z-a") holds nothing, as in fnmatch.
          for (unsigned b = low; b <= high; ++b)
            bytes.set(b);
        } else {
          bytes.set(low);
        }
      }
      if (!closed) return std::unexpected(error_at(pattern, open, "unclosed '['"));
      if (negate) bytes.flip();
      add_set(bytes);
    } else {
      add_literal(c);
      ++i;
    }
  }
  finish_segment();
  return glob;
}

bool GlobPattern::segment_matches(const std::vector<Token>& tokens, std::string_view name) {
  constexpr std::size_t kNoStar = static_cast<std::size_t>(-1);
  std::size_t t = 0;
  std::size_t n = 0;
  // On a mismatch, the last '*' seen swallows one more byte and matching resumes after it.
  // Earlier stars never need revisiting: the last one can absorb whatever they would have.
  std::size_t star_token = kNoStar;
  std::size_t star_name = 0;
  while (n < name.size()) {
    if (t < tokens.size() && tokens[t].star) {
      star_token = t++;
      star_name = n;
    } else if (t < tokens.size() && tokens[t].bytes.test(static_cast<unsigned char>(name[n]))) {
      ++t;
      ++n;
    } else if (star_token != kNoStar) {
      t = star_token + 1;
      n = ++star_name;
    } else {
      return false;
    }
  }
  while (t < tokens.size() && tokens[t].star)
    ++t;
  return t == tokens.size();
}

bool GlobPattern::matches(std::string_view path) const {
  // The default include pattern: everything, without splitting the path.
  if (segments_.size() == 1 && segments_[0].globstar) return true;

  const std::vector<std::string_view> names = split_path(path);
  // reachable[k]: the pattern segments seen so far can consume exactly names[0..k).
  std::vector<char> reachable(names.size() + 1, 0);
  std::vector<char> next(names.size() + 1, 0);
  reachable[0] = 1;
  for (const Segment& segment : segments_) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    if (segment.globstar) {
      const auto first = std::find(reachable.begin(), reachable.end(), 1);
      std::fill(next.begin() + (first - reachable.begin()), next.end(), 1);
      any = first != reachable.end();
    } else {
      for (std::size_t k = 0; k < names.size(); ++k) {
        if (reachable[k] && segment_matches(segment.tokens, names[k])) {
          next[k + 1] = 1;
          any = true;
        }
      }
    }
    if (!any) return false;
    reachable.swap(next);
  }
  return reachable[names.size()] != 0;
}

std::vector<GlobPattern> GlobPattern::compile_all(const std::vector<std::string>& patterns) {
  std::vector<GlobPattern> compiled;
  for (const auto& text : patterns) {
    if (auto pattern = compile(text)) compiled.push_back(std::move(*pattern));
  }
  return compiled;
}

}  // namespace piperun::pipeline

// GlobPattern: the syntax of input.include / input.exclude, byte-wise, and its cost bounds.
#include "pipeline/glob.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace piperun::pipeline {
namespace {

GlobPattern compiled(std::string_view text) {
  auto glob = GlobPattern::compile(text);
  EXPECT_TRUE(glob.has_value()) << text << ": " << (glob ? "" : glob.error());
  if (!glob) return *GlobPattern::compile("compile-failed");
  return *std::move(glob);
}

bool match(std::string_view pattern, std::string_view path) {
  return compiled(pattern).matches(path);
}

TEST(GlobTest, KeepsItsText) {
  EXPECT_EQ(compiled("src/**/*.c").text(), "src/**/*.c");
}

TEST(GlobTest, LiteralMatchesOnlyItself) {
  EXPECT_TRUE(match("a.txt", "a.txt"));
  EXPECT_FALSE(match("a.txt", "a.txtx"));
  EXPECT_FALSE(match("a.txt", "xa.txt"));
  EXPECT_FALSE(match("a.txt", "A.txt"));
  EXPECT_TRUE(match("dir/a.txt", "dir/a.txt"));
  EXPECT_FALSE(match("dir/a.txt", "a.txt"));
  EXPECT_FALSE(match("a.txt", "dir/a.txt"));
}

TEST(GlobTest, StarStaysInsideOneSegment) {
  EXPECT_TRUE(match("*", "file"));
  EXPECT_TRUE(match("*", ""));
  EXPECT_FALSE(match("*", "dir/file"));
  EXPECT_TRUE(match("*.log", "x.log"));
  EXPECT_TRUE(match("*.log", ".log"));
  EXPECT_FALSE(match("*.log", "x.log.gz"));
  EXPECT_FALSE(match("*.log", "d/x.log"));
  EXPECT_TRUE(match("a*b*c", "abc"));
  EXPECT_TRUE(match("a*b*c", "a-b-b-c"));
  EXPECT_FALSE(match("a*b*c", "a-b-b-cd"));
  EXPECT_TRUE(match("d/*/f", "d/x/f"));
  EXPECT_FALSE(match("d/*/f", "d/x/y/f"));
  EXPECT_TRUE(match("*/*", "a/b"));
  EXPECT_FALSE(match("*/*", "a"));
}

TEST(GlobTest, QuestionMarkIsOneByteButNeverSlash) {
  EXPECT_TRUE(match("?", "a"));
  EXPECT_FALSE(match("?", ""));
  EXPECT_FALSE(match("?", "ab"));
  EXPECT_FALSE(match("a?b", "a/b"));
  EXPECT_TRUE(match("file.?", "file.c"));
  EXPECT_TRUE(match("??", "\xc3\xa9"));  // "é" is two bytes in UTF-8
  EXPECT_FALSE(match("?", "\xc3\xa9"));
}

TEST(GlobTest, DoubleStarAloneMatchesEverything) {
  EXPECT_TRUE(match("**", "a"));
  EXPECT_TRUE(match("**", "a/b/c"));
  EXPECT_TRUE(match("**", ".hidden/.x"));
  EXPECT_TRUE(match("**", ""));
}

TEST(GlobTest, DoubleStarAtStartMatchesZeroOrMoreSegments) {
  EXPECT_TRUE(match("**/b", "b"));
  EXPECT_TRUE(match("**/b", "a/b"));
  EXPECT_TRUE(match("**/b", "a/x/y/b"));
  EXPECT_FALSE(match("**/b", "a/bb"));
  EXPECT_FALSE(match("**/b", "b/a"));
  EXPECT_TRUE(match("**/*.o", "x.o"));
  EXPECT_TRUE(match("**/*.o", "a/b/x.o"));
}

TEST(GlobTest, DoubleStarInTheMiddle) {
  EXPECT_TRUE(match("a/**/b", "a/b"));
  EXPECT_TRUE(match("a/**/b", "a/x/b"));
  EXPECT_TRUE(match("a/**/b", "a/x/y/z/b"));
  EXPECT_FALSE(match("a/**/b", "a/x/y/z/c"));
  EXPECT_FALSE(match("a/**/b", "x/a/b"));
  EXPECT_TRUE(match("a/**/b/**/c", "a/b/c"));
  EXPECT_TRUE(match("a/**/b/**/c", "a/1/b/2/3/c"));
  EXPECT_FALSE(match("a/**/b/**/c", "a/1/c/2/b"));
}

TEST(GlobTest, DoubleStarAtEndIncludesTheDirectoryItself) {
  EXPECT_TRUE(match("build/**", "build"));
  EXPECT_TRUE(match("build/**", "build/x"));
  EXPECT_TRUE(match("build/**", "build/x/y"));
  EXPECT_FALSE(match("build/**", "builder/x"));
  EXPECT_FALSE(match("build/**", "src/build/x"));
  EXPECT_TRUE(match("**/build/**", "src/build/x"));
}

TEST(GlobTest, AdjacentDoubleStarsAreOne) {
  EXPECT_TRUE(match("**/**/x", "x"));
  EXPECT_TRUE(match("**/**/x", "a/b/x"));
  EXPECT_TRUE(match("a/**/**", "a"));
}

TEST(GlobTest, DoubleStarInsideASegmentIsAStar) {
  EXPECT_TRUE(match("a**b", "ab"));
  EXPECT_TRUE(match("a**b", "axxb"));
  EXPECT_FALSE(match("a**b", "a/b"));
  EXPECT_FALSE(match("a**b", "ax/yb"));
  EXPECT_TRUE(match("**.txt", "x.txt"));
  EXPECT_FALSE(match("**.txt", "d/x.txt"));
  EXPECT_FALSE(match("***", "a/b"));  // not exactly "**": an ordinary star
  EXPECT_TRUE(match("***", "ab"));
}

TEST(GlobTest, HiddenNamesAreNotSpecial) {
  // Whether dotfiles are walked at all is input.hidden's business, not the glob's.
  EXPECT_TRUE(match("*", ".bashrc"));
  EXPECT_TRUE(match("**/*", ".git/config"));
  EXPECT_TRUE(match("?bashrc", ".bashrc"));
  EXPECT_TRUE(match(".*", ".env"));
  EXPECT_FALSE(match(".*", "env"));
}

TEST(GlobTest, BracketClass) {
  EXPECT_TRUE(match("[abc]", "a"));
  EXPECT_TRUE(match("[abc]", "c"));
  EXPECT_FALSE(match("[abc]", "d"));
  EXPECT_FALSE(match("[abc]", "ab"));
  EXPECT_TRUE(match("x[0-9].log", "x7.log"));
  EXPECT_FALSE(match("x[0-9].log", "xa.log"));
  EXPECT_TRUE(match("[a-cx-z]", "b"));
  EXPECT_TRUE(match("[a-cx-z]", "y"));
  EXPECT_FALSE(match("[a-cx-z]", "m"));
  EXPECT_TRUE(match("[*?]", "*"));  // no wildcards inside brackets
  EXPECT_FALSE(match("[*?]", "a"));
}

TEST(GlobTest, BracketWithClosingBracketFirst) {
  EXPECT_TRUE(match("[]]", "]"));
  EXPECT_FALSE(match("[]]", "a"));
  EXPECT_TRUE(match("[]a]", "a"));
  EXPECT_TRUE(match("[!]]", "a"));
  EXPECT_FALSE(match("[!]]", "]"));
  EXPECT_TRUE(match("[^]]", "a"));
}

TEST(GlobTest, BracketDashAtEdgesIsLiteral) {
  EXPECT_TRUE(match("[-a]", "-"));
  EXPECT_TRUE(match("[a-]", "-"));
  EXPECT_TRUE(match("[a-]", "a"));
  EXPECT_FALSE(match("[a-]", "b"));
  EXPECT_TRUE(match("[!-]", "x"));
  EXPECT_FALSE(match("[!-]", "-"));
}

TEST(GlobTest, ReversedRangeMatchesNothing) {
  EXPECT_FALSE(match("[z-a]", "m"));
  EXPECT_FALSE(match("[z-a]", "a"));
  EXPECT_TRUE(match("[z-ab]", "b"));
}

TEST(GlobTest, BracketNegation) {
  EXPECT_TRUE(match("[!a]", "b"));
  EXPECT_FALSE(match("[!a]", "a"));
  EXPECT_TRUE(match("[^a-z]", "A"));
  EXPECT_FALSE(match("[^a-z]", "q"));
  EXPECT_FALSE(match("[!a]", ""));
  EXPECT_FALSE(match("x[!a]y", "x/y"));  // a class never matches '/'
  EXPECT_TRUE(match("[!a]", "\xff"));
  EXPECT_TRUE(match("[a!]", "!"));  // '!' not first is a member
}

TEST(GlobTest, BracketNeverMatchesSlash) {
  EXPECT_FALSE(match("a[/]b", "a/b"));
  EXPECT_FALSE(match("a[!x]b", "a/b"));
}

TEST(GlobTest, EscapesMakeSpecialCharactersLiteral) {
  EXPECT_TRUE(match("\\*", "*"));
  EXPECT_FALSE(match("\\*", "a"));
  EXPECT_TRUE(match("\\?", "?"));
  EXPECT_FALSE(match("\\?", "a"));
  EXPECT_TRUE(match("\\[a]", "[a]"));
  EXPECT_TRUE(match("a\\\\b", "a\\b"));
  EXPECT_TRUE(match("\\a", "a"));
  EXPECT_TRUE(match("[\\]]", "]"));
  EXPECT_TRUE(match("[a\\-z]", "-"));
  EXPECT_FALSE(match("[a\\-z]", "m"));
  // Escaped stars are not a "**" segment.
  EXPECT_FALSE(match("\\*\\*/x", "a/x"));
  EXPECT_TRUE(match("\\*\\*/x", "**/x"));
}

TEST(GlobTest, EscapedSlashIsStillASeparator) {
  EXPECT_TRUE(match("a\\/b", "a/b"));
  EXPECT_FALSE(match("a\\/b", "ab"));
}

TEST(GlobTest, NonUtf8BytesMatchByteWise) {
  const std::string name = "caf\xe9-\xff\xfe.bin";  // Latin-1 and stray bytes
  EXPECT_TRUE(match(name, name));
  EXPECT_TRUE(match("*.bin", name));
  EXPECT_TRUE(match("caf?-??.bin", name));
  EXPECT_TRUE(match("caf[\xe0-\xef]*", name));
  EXPECT_FALSE(match("caf[!\xe9]*", name));
  EXPECT_TRUE(match("\xff*", "\xff\xfe"));
  EXPECT_TRUE(match("**/\x80", std::string("d/\x80")));
  // Bytes below 0x20, newline included, are ordinary.
  EXPECT_TRUE(match("a?b", "a\nb"));
  EXPECT_TRUE(match("*", std::string("a\0b", 3)));
}

TEST(GlobTest, EmptySegments) {
  EXPECT_TRUE(match("a//b", "a//b"));
  EXPECT_FALSE(match("a//b", "a/b"));
  EXPECT_TRUE(match("a/*/b", "a//b"));
  EXPECT_FALSE(match("/etc", "etc"));  // relative paths never start with '/'
}

TEST(GlobTest, PathologicalPatternsFinishFast) {
  const auto start = std::chrono::steady_clock::now();
  const std::string long_name(5000, 'a');
  EXPECT_FALSE(match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", long_name));
  EXPECT_TRUE(match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", long_name));

  std::string deep_path;
  for (int i = 0; i < 400; ++i)
    deep_path += "a/";
  deep_path += "y";
  EXPECT_FALSE(match("**/**/**/x", deep_path));
  EXPECT_FALSE(match("**/a/**/a/**/a/**/a/**/a/**/a/**/x", deep_path));
  EXPECT_TRUE(match("**/a/**/a/**/a/**/a/**/a/**/a/**/y", deep_path));
  EXPECT_FALSE(match("**/*a*a*a*a*b/**/x", deep_path));

  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Exponential backtracking would take hours here; linear-ish takes milliseconds (even under
  // sanitizers), so the bound is generous.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(GlobTest, CompileErrors) {
  const auto empty = GlobPattern::compile("");
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().find("empty"), std::string::npos) << empty.error();

  for (const char* text : {"[", "a[b", "[abc", "[!", "[]", "[!]", "x/[a-", "a[b/c"}) {
    const auto glob = GlobPattern::compile(text);
    ASSERT_FALSE(glob.has_value()) << text;
    EXPECT_NE(glob.error().find("unclosed '['"), std::string::npos) << glob.error();
  }

  for (const char* text : {"\\", "abc\\", "a/\\", "[a\\"}) {
    const auto glob = GlobPattern::compile(text);
    ASSERT_FALSE(glob.has_value()) << text;
    EXPECT_NE(glob.error().find("trailing '\\'"), std::string::npos) << glob.error();
  }

  // The message names the pattern, so the user can find it in the config.
  EXPECT_NE(GlobPattern::compile("src/[x").error().find("src/[x"), std::string::npos);
}

TEST(GlobTest, BracketsThatAreClosedCompile) {
  for (const char* text : {"[]]", "[!]]", "[a-z]", "[\\]]", "\\[", "a]b", "]"}) {
    EXPECT_TRUE(GlobPattern::compile(text).has_value()) << text;
  }
  EXPECT_TRUE(match("a]b", "a]b"));
  EXPECT_TRUE(match("\\[", "["));
}

}  // namespace
}  // namespace piperun::pipeline

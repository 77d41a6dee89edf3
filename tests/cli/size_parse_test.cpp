#include "cli/size_parse.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace piperun::cli {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kKi = 1024;

std::uint64_t size_of(std::string_view text) {
  auto parsed = parse_size(text);
  EXPECT_TRUE(parsed.has_value()) << "'" << text << "': " << parsed.error();
  return parsed.value_or(~0ull);
}

std::string size_error(std::string_view text) {
  auto parsed = parse_size(text);
  EXPECT_FALSE(parsed.has_value()) << "'" << text << "' parsed as " << *parsed;
  return parsed.has_value() ? std::string() : parsed.error();
}

std::chrono::milliseconds duration_of(std::string_view text) {
  auto parsed = parse_duration(text);
  EXPECT_TRUE(parsed.has_value()) << "'" << text << "': " << parsed.error();
  return parsed.value_or(std::chrono::milliseconds{-1});
}

std::string duration_error(std::string_view text) {
  auto parsed = parse_duration(text);
  EXPECT_FALSE(parsed.has_value()) << "'" << text << "' parsed as " << parsed->count() << "ms";
  return parsed.has_value() ? std::string() : parsed.error();
}

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(size_of("0"), 0u);
  EXPECT_EQ(size_of("1"), 1u);
  EXPECT_EQ(size_of("4096"), 4096u);
  EXPECT_EQ(size_of("4096B"), 4096u);
  EXPECT_EQ(size_of("4096 b"), 4096u);
  EXPECT_EQ(size_of("  12  "), 12u);
  EXPECT_EQ(size_of("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(size_of("000000000000000000000000000042"), 42u);  // leading zeros are not digits
}

TEST(ParseSize, BinaryUnits) {
  EXPECT_EQ(size_of("512KiB"), 512 * kKi);
  EXPECT_EQ(size_of("4MiB"), 4 * kKi * kKi);
  EXPECT_EQ(size_of("4 MiB"), 4 * kKi * kKi);
  EXPECT_EQ(size_of("1GiB"), kKi * kKi * kKi);
  EXPECT_EQ(size_of("2TiB"), 2 * kKi * kKi * kKi * kKi);
  EXPECT_EQ(size_of("1PiB"), kKi * kKi * kKi * kKi * kKi);
  EXPECT_EQ(size_of("16383PiB"), 16383 * kKi * kKi * kKi * kKi * kKi);
}

TEST(ParseSize, SingleLettersAreBinaryLikeZstdAndFio) {
  EXPECT_EQ(size_of("4k"), 4 * kKi);
  EXPECT_EQ(size_of("4K"), 4 * kKi);
  EXPECT_EQ(size_of("4M"), 4 * kKi * kKi);
  EXPECT_EQ(size_of("1G"), kKi * kKi * kKi);
  EXPECT_EQ(size_of("1T"), kKi * kKi * kKi * kKi);
}

TEST(ParseSize, TwoLetterUnitsAreDecimal) {
  EXPECT_EQ(size_of("4KB"), 4000u);
  EXPECT_EQ(size_of("4MB"), 4'000'000u);
  EXPECT_EQ(size_of("1GB"), 1'000'000'000u);
  EXPECT_EQ(size_of("1TB"), 1'000'000'000'000u);
  EXPECT_EQ(size_of("1PB"), 1'000'000'000'000'000u);
}

TEST(ParseSize, UnitsAreCaseInsensitive) {
  EXPECT_EQ(size_of("4mib"), 4 * kKi * kKi);
  EXPECT_EQ(size_of("4MIB"), 4 * kKi * kKi);
  EXPECT_EQ(size_of("4mb"), 4'000'000u);
  EXPECT_EQ(size_of("4Kb"), 4000u);
}

TEST(ParseSize, FractionsThatGiveWholeBytes) {
  EXPECT_EQ(size_of("1.5MiB"), 3 * 512 * kKi);
  EXPECT_EQ(size_of("0.5KiB"), 512u);
  EXPECT_EQ(size_of("1.25GB"), 1'250'000'000u);
  EXPECT_EQ(size_of("2.0"), 2u);
  EXPECT_EQ(size_of("1.500000000000000000000000MiB"), 3 * 512 * kKi);  // zeros cost nothing
  EXPECT_EQ(size_of("0.0"), 0u);
}

TEST(ParseSize, FractionsThatDoNotGiveWholeBytes) {
  EXPECT_EQ(size_error("1.5"), "'1.5' is not a whole number of bytes");
  EXPECT_EQ(size_error("1.5B"), "'1.5B' is not a whole number of bytes");
  EXPECT_EQ(size_error("0.1KiB"), "'0.1KiB' is not a whole number of bytes");
  EXPECT_EQ(size_error("1.0001KB"), "'1.0001KB' is not a whole number of bytes");
}

TEST(ParseSize, Negative) {
  EXPECT_EQ(size_error("-1"), "size '-1' is negative");
  EXPECT_EQ(size_error("-4MiB"), "size '-4MiB' is negative");
}

TEST(ParseSize, Overflow) {
  EXPECT_EQ(size_error("18446744073709551616"), "size '18446744073709551616' is too large");
  EXPECT_EQ(size_error("16384PiB"), "size '16384PiB' is too large");
  EXPECT_EQ(size_error("99999999999999999999999"), "size '99999999999999999999999' is too large");
  EXPECT_EQ(size_error("20000000000000000000TiB"), "size '20000000000000000000TiB' is too large");
}

TEST(ParseSize, Garbage) {
  EXPECT_NE(size_error("").find("empty size"), std::string::npos);
  EXPECT_NE(size_error("   ").find("empty size"), std::string::npos);
  EXPECT_NE(size_error("MiB").find("'MiB' is not a size"), std::string::npos);
  EXPECT_NE(size_error("abc").find("'abc' is not a size"), std::string::npos);
  EXPECT_NE(size_error("+4").find("'+4' is not a size"), std::string::npos);
  EXPECT_NE(size_error(".5MiB").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("4.MiB").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("1e6").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("4 M iB").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("4MiB/s").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("1.2.3").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("4_096").find("is not a size"), std::string::npos);
  EXPECT_NE(size_error("0x10").find("is not a size"), std::string::npos);
}

TEST(ParseSize, UnknownUnitNamesTheUnitAndListsTheKnownOnes) {
  EXPECT_EQ(size_error("4XB"),
            "unknown unit 'XB' in '4XB' (units: B, K/KiB/KB, M/MiB/MB, G/GiB/GB, T/TiB/TB, "
            "P/PiB/PB)");
  EXPECT_NE(size_error("4Mi").find("unknown unit 'Mi'"), std::string::npos);
  EXPECT_NE(size_error("4bytes").find("unknown unit 'bytes'"), std::string::npos);
}

TEST(FormatSize, ShortestExactSpelling) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1024), "1KiB");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(3 * 512 * kKi), "1536KiB");
  EXPECT_EQ(format_size(4 * kKi * kKi), "4MiB");
  EXPECT_EQ(format_size(kKi * kKi * kKi * kKi), "1TiB");
  for (std::uint64_t bytes : {0ull, 1ull, 4095ull, 65536ull, 5ull << 30, ~0ull}) {
    EXPECT_EQ(size_of(format_size(bytes)), bytes);
  }
}

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(duration_of("30s"), 30s);
  EXPECT_EQ(duration_of("500ms"), 500ms);
  EXPECT_EQ(duration_of("2m"), 2min);
  EXPECT_EQ(duration_of("1h"), 1h);
  EXPECT_EQ(duration_of("0s"), 0ms);
  EXPECT_EQ(duration_of("0"), 0ms);
  EXPECT_EQ(duration_of("30 s"), 30s);
  EXPECT_EQ(duration_of(" 30s "), 30s);
}

TEST(ParseDuration, LoneNumberIsSeconds) {
  EXPECT_EQ(duration_of("30"), 30s);
  EXPECT_EQ(duration_of("1.5"), 1500ms);
}

TEST(ParseDuration, Compound) {
  EXPECT_EQ(duration_of("1m30s"), 90s);
  EXPECT_EQ(duration_of("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
  EXPECT_EQ(duration_of("1h 5m"), 1h + 5min);
  EXPECT_EQ(duration_of("1s500ms"), 1500ms);
}

TEST(ParseDuration, CaseInsensitive) {
  EXPECT_EQ(duration_of("30S"), 30s);
  EXPECT_EQ(duration_of("500MS"), 500ms);
  EXPECT_EQ(duration_of("1H"), 1h);
}

TEST(ParseDuration, Fractions) {
  EXPECT_EQ(duration_of("1.5s"), 1500ms);
  EXPECT_EQ(duration_of("0.5m"), 30s);
  EXPECT_EQ(duration_of("0.001s"), 1ms);
  EXPECT_EQ(duration_error("0.5ms"), "'0.5ms' is not a whole number of milliseconds");
  EXPECT_EQ(duration_error("0.0001s"), "'0.0001s' is not a whole number of milliseconds");
}

TEST(ParseDuration, Garbage) {
  EXPECT_NE(duration_error("").find("empty duration"), std::string::npos);
  EXPECT_EQ(duration_error("-1s"), "duration '-1s' is negative");
  EXPECT_NE(duration_error("s").find("'s' is not a duration"), std::string::npos);
  EXPECT_NE(duration_error("abc").find("'abc' is not a duration"), std::string::npos);
  EXPECT_EQ(duration_error("5x"), "unknown unit 'x' in '5x' (units: ms, s, m, h)");
  EXPECT_NE(duration_error("5sec").find("unknown unit 'sec'"), std::string::npos);
  EXPECT_NE(duration_error("1d").find("unknown unit 'd'"), std::string::npos);
  EXPECT_EQ(duration_error("1m30"), "missing unit after '30' in '1m30' (units: ms, s, m, h)");
  EXPECT_NE(duration_error("30 40").find("missing unit after '30'"), std::string::npos);
  EXPECT_NE(duration_error("1s-").find("is not a duration"), std::string::npos);
  EXPECT_NE(duration_error("1.s").find("is not a duration"), std::string::npos);
}

TEST(ParseDuration, Overflow) {
  EXPECT_EQ(duration_error("99999999999999999h"), "duration '99999999999999999h' is too large");
  EXPECT_EQ(duration_error("999999999999999999999ms"),
            "duration '999999999999999999999ms' is too large");
  EXPECT_EQ(duration_of("9223372036854775807ms"),
            std::chrono::milliseconds{std::numeric_limits<std::int64_t>::max()});
  EXPECT_EQ(duration_error("9223372036854775808ms"),
            "duration '9223372036854775808ms' is too large");
}

TEST(FormatDuration, RoundTrips) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(100ms), "100ms");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(1h + 1ms), "1h1ms");
  for (auto d : {0ms, 1ms, 999ms, 1000ms, 61001ms, 3600000ms * 50 + 7ms}) {
    EXPECT_EQ(duration_of(format_duration(d)), d);
  }
}

}  // namespace
}  // namespace piperun::cli

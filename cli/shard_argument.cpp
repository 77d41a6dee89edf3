#include "cli/shard_argument.hpp"

#include <charconv>
#include <cstdint>
#include <optional>

#include <fmt/core.h>

namespace piperun::cli {
namespace {

// The whole of `digits` as a number: from_chars alone would accept "3x" as 3.
std::optional<std::uint64_t> whole_number(std::string_view digits) {
  std::uint64_t value = 0;
  const char* end = digits.data() + digits.size();
  const auto [stop, error] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || error != std::errc() || stop != end) return std::nullopt;
  return value;
}

}  // namespace

std::expected<pipeline::Shard, std::string> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  const auto index = whole_number(text.substr(0, slash));
  const auto count =
      slash == std::string_view::npos ? std::nullopt : whole_number(text.substr(slash + 1));
  if (!index || !count) {
    return std::unexpected(
        fmt::format("--shard: expected K/N, two whole numbers such as 2/4, got '{}'", text));
  }
  if (*count == 0)
    return std::unexpected(fmt::format("--shard: N must be at least 1 ('{}')", text));
  if (*index < 1 || *index > *count) {
    return std::unexpected(
        fmt::format("--shard: K must be between 1 and N = {} ('{}')", *count, text));
  }
  return pipeline::Shard{.index = *index, .count = *count};
}

}  // namespace piperun::cli

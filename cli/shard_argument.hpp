// `--shard K/N`: the text of the option turned into the partition the walker applies.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "pipeline/shard.hpp"

namespace piperun::cli {

// Accepts exactly "K/N": two decimal integers (digits only, no sign or spaces) with
// 1 <= K <= N. The error is one line, ready for stderr: "--shard: what is wrong".
std::expected<pipeline::Shard, std::string> parse_shard(std::string_view text);

}  // namespace piperun::cli

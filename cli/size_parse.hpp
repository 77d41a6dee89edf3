// Sizes and durations as the configuration and the command line write them.
// Pure functions: no locale, no allocation beyond the error message.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace piperun::cli {

// A size in bytes: "<number>[ ][unit]", surrounding blanks ignored.
//   number  decimal digits, optionally a fraction ("1.5"); no sign
//   unit    case-insensitive:
//             (none), B                 bytes
//             K, M, G, T, P             binary (K = 1024), as zstd and fio read them
//             KiB, MiB, GiB, TiB, PiB   binary
//             KB, MB, GB, TB, PB        decimal SI (MB = 1,000,000)
// A fraction is accepted only when it gives a whole number of bytes ("1.5MiB", not "1.5B").
// Fails, with a message naming the text and what is wrong, on a sign, an unknown unit, a
// value above 2^64 - 1, or anything else.
std::expected<std::uint64_t, std::string> parse_size(std::string_view text);

// A duration: one or more "<number>[ ]<unit>" parts that are summed ("1m30s", "1h 5m"), units
// ms, s, m, h (case-insensitive); a lone number without a unit is seconds ("30" = "30s").
// A fraction is accepted only when it gives whole milliseconds ("1.5s", not "0.5ms").
// Fails on a sign, an unknown or missing unit, overflow, or anything else.
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);

// The shortest exact spelling parse_size reads back: "4MiB", "1GiB", "1000" (bytes).
std::string format_size(std::uint64_t bytes);

// The shortest exact spelling parse_duration reads back: "1m30s", "500ms", "0s".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace piperun::cli

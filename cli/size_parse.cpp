#include "cli/size_parse.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include <fmt/format.h>

namespace piperun::cli {
namespace {

// Wide enough that every intermediate below is exact: at most 20 integer digits (< 2^67) times a
// unit of at most 2^50, or a fraction below 10^18 (< 2^60) times such a unit.
__extension__ typedef unsigned __int128 Wide;

constexpr std::size_t kMaxWholeDigits = 20;
constexpr std::size_t kMaxFractionDigits = 18;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back()))
    text.remove_suffix(1);
  return text;
}

// "<digits>[.<digits>]": whole + fraction / scale.
struct Decimal {
  Wide whole = 0;
  Wide fraction = 0;
  Wide scale = 1;
};

enum class NumberError { none, too_long };

// Reads a decimal number at text[pos] (which must be a digit), advancing pos past it.
// Fraction digits beyond kMaxFractionDigits are accepted only if they are zeros.
std::expected<Decimal, NumberError> read_decimal(std::string_view text, std::size_t& pos) {
  Decimal number;
  std::size_t significant = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    if (significant > 0 || text[pos] != '0') ++significant;
    if (significant > kMaxWholeDigits) return std::unexpected(NumberError::too_long);
    number.whole = number.whole * 10 + static_cast<unsigned>(text[pos] - '0');
    ++pos;
  }
  if (pos + 1 < text.size() && text[pos] == '.' && is_digit(text[pos + 1])) {
    ++pos;
    std::size_t fraction_digits = 0;
    std::size_t zeros_pending = 0;  // trailing zeros not yet folded in: they change nothing
    while (pos < text.size() && is_digit(text[pos])) {
      if (text[pos] == '0') {
        ++zeros_pending;
      } else {
        fraction_digits += zeros_pending + 1;
        if (fraction_digits > kMaxFractionDigits) return std::unexpected(NumberError::too_long);
        for (; zeros_pending > 0; --zeros_pending) {
          number.fraction *= 10;
          number.scale *= 10;
        }
        number.fraction = number.fraction * 10 + static_cast<unsigned>(text[pos] - '0');
        number.scale *= 10;
      }
      ++pos;
    }
  }
  return number;
}

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::uint64_t kKi = 1024;
constexpr std::array kSizeUnits{
    Unit{"", 1},
    Unit{"b", 1},
    Unit{"k", kKi},
    Unit{"kib", kKi},
    Unit{"kb", 1000},
    Unit{"m", kKi* kKi},
    Unit{"mib", kKi* kKi},
    Unit{"mb", 1000 * 1000},
    Unit{"g", kKi* kKi* kKi},
    Unit{"gib", kKi* kKi* kKi},
    Unit{"gb", 1000 * 1000 * 1000},
    Unit{"t", kKi* kKi* kKi* kKi},
    Unit{"tib", kKi* kKi* kKi* kKi},
    Unit{"tb", 1000ull * 1000 * 1000 * 1000},
    Unit{"p", kKi* kKi* kKi* kKi* kKi},
    Unit{"pib", kKi* kKi* kKi* kKi* kKi},
    Unit{"pb", 1000ull * 1000 * 1000 * 1000 * 1000},
};

constexpr std::array kDurationUnits{
    Unit{"ms", 1},
    Unit{"s", 1000},
    Unit{"m", 60 * 1000},
    Unit{"h", 60 * 60 * 1000},
};

template <std::size_t N>
std::optional<std::uint64_t> find_unit(const std::array<Unit, N>& units, std::string_view name) {
  for (const Unit& unit : units) {
    if (iequals(unit.name, name)) return unit.factor;
  }
  return std::nullopt;
}

constexpr std::string_view kSizeHint =
    R"((expected bytes or a number with a unit, such as "4MiB"))";
constexpr std::string_view kSizeUnitsHint =
    "(units: B, K/KiB/KB, M/MiB/MB, G/GiB/GB, T/TiB/TB, P/PiB/PB)";
constexpr std::string_view kDurationHint =
    R"((expected a number with a unit, such as "30s", "500ms", "2m" or "1m30s"))";
constexpr std::string_view kDurationUnitsHint = "(units: ms, s, m, h)";

}  // namespace

std::expected<std::uint64_t, std::string> parse_size(std::string_view original) {
  const std::string_view text = trim(original);
  if (text.empty()) return std::unexpected(fmt::format("empty size {}", kSizeHint));
  if (text.front() == '-') return std::unexpected(fmt::format("size '{}' is negative", text));
  std::size_t pos = 0;
  if (!is_digit(text[pos])) {
    return std::unexpected(fmt::format("'{}' is not a size {}", text, kSizeHint));
  }
  auto number = read_decimal(text, pos);
  if (!number) return std::unexpected(fmt::format("size '{}' is too large", text));
  while (pos < text.size() && is_blank(text[pos]))
    ++pos;
  const std::string_view unit_name = text.substr(pos);
  for (char c : unit_name) {
    if (!is_alpha(c)) return std::unexpected(fmt::format("'{}' is not a size {}", text, kSizeHint));
  }
  const auto factor = find_unit(kSizeUnits, unit_name);
  if (!factor) {
    return std::unexpected(
        fmt::format("unknown unit '{}' in '{}' {}", unit_name, text, kSizeUnitsHint));
  }
  const Wide fraction_bytes = number->fraction * *factor;
  if (fraction_bytes % number->scale != 0) {
    return std::unexpected(fmt::format("'{}' is not a whole number of bytes", text));
  }
  const Wide bytes = number->whole * *factor + fraction_bytes / number->scale;
  if (bytes > std::numeric_limits<std::uint64_t>::max()) {
    return std::unexpected(fmt::format("size '{}' is too large", text));
  }
  return static_cast<std::uint64_t>(bytes);
}

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view original) {
  const std::string_view text = trim(original);
  if (text.empty()) return std::unexpected(fmt::format("empty duration {}", kDurationHint));
  if (text.front() == '-') return std::unexpected(fmt::format("duration '{}' is negative", text));
  constexpr Wide kMaxMs =
      static_cast<Wide>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
  Wide total_ms = 0;
  std::size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    if (!is_digit(text[pos])) {
      return std::unexpected(fmt::format("'{}' is not a duration {}", text, kDurationHint));
    }
    const std::size_t number_start = pos;
    auto number = read_decimal(text, pos);
    if (!number) return std::unexpected(fmt::format("duration '{}' is too large", text));
    const std::string_view number_text = text.substr(number_start, pos - number_start);
    while (pos < text.size() && is_blank(text[pos]))
      ++pos;
    const std::size_t unit_start = pos;
    while (pos < text.size() && is_alpha(text[pos]))
      ++pos;
    const std::string_view unit_name = text.substr(unit_start, pos - unit_start);
    std::uint64_t factor = 0;
    if (unit_name.empty()) {
      // Only a lone number may omit its unit; "1m30" is more likely a slip than 1m + 30s.
      if (!first || pos < text.size()) {
        if (pos < text.size() && !is_digit(text[pos])) {
          return std::unexpected(fmt::format("'{}' is not a duration {}", text, kDurationHint));
        }
        return std::unexpected(fmt::format("missing unit after '{}' in '{}' {}", number_text, text,
                                           kDurationUnitsHint));
      }
      factor = 1000;
    } else if (auto found = find_unit(kDurationUnits, unit_name)) {
      factor = *found;
    } else {
      return std::unexpected(
          fmt::format("unknown unit '{}' in '{}' {}", unit_name, text, kDurationUnitsHint));
    }
    const Wide fraction_ms = number->fraction * factor;
    if (fraction_ms % number->scale != 0) {
      return std::unexpected(fmt::format("'{}' is not a whole number of milliseconds", text));
    }
    total_ms += number->whole * factor + fraction_ms / number->scale;
    if (total_ms > kMaxMs) return std::unexpected(fmt::format("duration '{}' is too large", text));
    while (pos < text.size() && is_blank(text[pos]))
      ++pos;
    first = false;
  }
  return std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(total_ms)};
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> kNames{"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes == 0) return "0";
  std::size_t best = kNames.size();  // none
  std::uint64_t factor = 1;
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    factor *= kKi;
    if (bytes % factor != 0) break;
    best = i;
  }
  if (best == kNames.size()) return fmt::format("{}", bytes);
  std::uint64_t unit = 1;
  for (std::size_t i = 0; i <= best; ++i)
    unit *= kKi;
  return fmt::format("{}{}", bytes / unit, kNames[best]);
}

std::string format_duration(std::chrono::milliseconds duration) {
  auto ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  static constexpr std::array<std::pair<long long, std::string_view>, 4> kParts{{
      {3600000, "h"},
      {60000, "m"},
      {1000, "s"},
      {1, "ms"},
  }};
  for (const auto& [factor, name] : kParts) {
    if (ms >= factor) {
      out += fmt::format("{}{}", ms / factor, name);
      ms %= factor;
    }
  }
  return out;
}

}  // namespace piperun::cli

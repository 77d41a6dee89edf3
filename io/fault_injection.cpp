#include "io/fault_injection.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <utility>

#include <liburing.h>

namespace piperun::io {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 10> kErrors{{
    {"EIO", EIO},
    {"ENOSPC", ENOSPC},
    {"EROFS", EROFS},
    {"EACCES", EACCES},
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"EDQUOT", EDQUOT},
    {"EFBIG", EFBIG},
    {"ENOMEM", ENOMEM},
    {"EBADF", EBADF},
}};

}  // namespace

std::expected<FaultInjector, std::string> FaultInjector::parse(std::string_view spec) {
  const auto bad = [spec](std::string_view why) {
    return std::unexpected(std::string(kFaultInjectionVariable) + "=\"" + std::string(spec) +
                           "\": " + std::string(why) + " (expected OP:ERRNO:N or OP:ERRNO:N+)");
  };
  const std::size_t first_colon = spec.find(':');
  const std::size_t second_colon =
      first_colon == std::string_view::npos ? first_colon : spec.find(':', first_colon + 1);
  if (second_colon == std::string_view::npos) return bad("missing fields");
  const std::string_view op = spec.substr(0, first_colon);
  const std::string_view error = spec.substr(first_colon + 1, second_colon - first_colon - 1);
  std::string_view count = spec.substr(second_colon + 1);

  FaultInjector injector;
  static constexpr std::array<std::pair<std::string_view, Kind>, 7> kKinds{{
      {"read", Kind::read},
      {"write", Kind::write},
      {"open", Kind::open},
      {"statx", Kind::statx},
      {"fsync", Kind::fsync},
      {"close", Kind::close},
      {"rename", Kind::rename},
  }};
  bool known_kind = false;
  for (const auto& [name, kind] : kKinds) {
    if (name == op) {
      injector.kind_ = kind;
      known_kind = true;
    }
  }
  if (!known_kind) return bad("unknown operation '" + std::string(op) + "'");
  for (const auto& [name, value] : kErrors) {
    if (name == error) injector.error_ = value;
  }
  if (injector.error_ == 0) return bad("unknown error '" + std::string(error) + "'");
  if (count.ends_with('+')) {
    injector.and_later_ = true;
    count.remove_suffix(1);
  }
  const auto [end, status] =
      std::from_chars(count.data(), count.data() + count.size(), injector.nth_);
  if (status != std::errc{} || end != count.data() + count.size() || injector.nth_ == 0)
    return bad("N must be a whole number from 1");
  return injector;
}

std::expected<std::optional<FaultInjector>, std::string> FaultInjector::from_environment() {
  const char* spec = std::getenv(kFaultInjectionVariable);
  if (spec == nullptr || *spec == '\0') return std::nullopt;
  auto injector = parse(spec);
  if (!injector) return std::unexpected(std::move(injector.error()));
  return std::optional<FaultInjector>(*injector);
}

std::optional<FaultInjector::Kind> FaultInjector::kind_of(std::uint8_t opcode) noexcept {
  switch (opcode) {
    case IORING_OP_READ:
    case IORING_OP_READ_FIXED:
    case IORING_OP_READV:
      return Kind::read;
    case IORING_OP_WRITE:
    case IORING_OP_WRITE_FIXED:
    case IORING_OP_WRITEV:
      return Kind::write;
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2:
      return Kind::open;
    case IORING_OP_STATX:
      return Kind::statx;
    case IORING_OP_FSYNC:
      return Kind::fsync;
    case IORING_OP_CLOSE:
      return Kind::close;
    case IORING_OP_RENAMEAT:
      return Kind::rename;
    default:
      return std::nullopt;
  }
}

int FaultInjector::on_submit(std::uint8_t opcode) noexcept {
  if (kind_of(opcode) != kind_) return 0;
  ++seen_;
  const bool fails = and_later_ ? seen_ >= nth_ : seen_ == nth_;
  return fails ? -error_ : 0;
}

}  // namespace piperun::io

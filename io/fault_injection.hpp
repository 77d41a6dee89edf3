// A test hook: makes chosen ring operations fail as a failing device would, so that tests can
// check what the pipeline does with EIO or ENOSPC on machines without device-mapper targets.
// Off unless the environment asks for it:
//   PIPE_RUN_INJECT_FAULT="OP:ERRNO:N"   the Nth operation of kind OP (from 1) fails with ERRNO
//   PIPE_RUN_INJECT_FAULT="OP:ERRNO:N+"  that one and every later one (a device that died)
// OP: read, write, open, statx, fsync, close, rename; ERRNO: EIO, ENOSPC, EROFS, EACCES...
// The operation still runs; its completion reports the error instead of the kernel's result.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace piperun::io {

inline constexpr const char* kFaultInjectionVariable = "PIPE_RUN_INJECT_FAULT";

class FaultInjector {
 public:
  // "OP:ERRNO:N[+]"; the error says what is wrong with it.
  static std::expected<FaultInjector, std::string> parse(std::string_view spec);
  // From PIPE_RUN_INJECT_FAULT; nullopt when unset or empty.
  static std::expected<std::optional<FaultInjector>, std::string> from_environment();

  // For an SQE of `opcode` about to be submitted: the result its completion must report
  // instead of the kernel's (-errno), or 0 to keep the kernel's.
  int on_submit(std::uint8_t opcode) noexcept;

 private:
  enum class Kind { read, write, open, statx, fsync, close, rename };
  static std::optional<Kind> kind_of(std::uint8_t opcode) noexcept;

  Kind kind_ = Kind::read;
  int error_ = 0;
  std::uint64_t nth_ = 1;
  bool and_later_ = false;
  std::uint64_t seen_ = 0;
};

}  // namespace piperun::io

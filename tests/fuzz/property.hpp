// What the fuzz targets share: a property check that stops the fuzzer like a crash does.
// libFuzzer saves the input that broke the property (crash-<sha1>) and exits non-zero, so the
// bounded CTest run fails; rerun the binary with that file as its argument to reproduce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <source_location>
#include <string_view>

namespace piperun::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return size == 0 ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

// `what` says which property broke; `detail`, when given, the values involved.
[[noreturn]] inline void property_broken(
    std::string_view what, std::string_view detail = {},
    std::source_location where = std::source_location::current()) {
  std::fprintf(stderr, "%s:%u: property broken: %.*s\n", where.file_name(),
               static_cast<unsigned>(where.line()), static_cast<int>(what.size()), what.data());
  if (!detail.empty()) {
    std::fprintf(stderr, "  %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

inline void require(bool holds, std::string_view what, std::string_view detail = {},
                    std::source_location where = std::source_location::current()) {
  if (!holds) property_broken(what, detail, where);
}

}  // namespace piperun::fuzz

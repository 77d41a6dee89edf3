// Libraries pipe-run loads on first use (dlopen) instead of at program start: each linked
// library costs every start its mapping and relocations, also the runs that never call it.
#pragma once

#include <expected>
#include <initializer_list>
#include <string>

namespace piperun::io {

// Opens the first of `sonames` that loads, with RTLD_NOW | RTLD_LOCAL: its symbols stay its
// own. It stays loaded for the life of the process, as a linked library would. On failure:
// every dlerror(), joined.
std::expected<void*, std::string> open_shared_library(std::initializer_list<const char*> sonames);

// Looks up the entry points of an opened library, remembering the first one missing.
class SymbolResolver {
 public:
  explicit SymbolResolver(void* library) : library_(library) {}

  template <typename Function>
  void operator()(const char* name, Function& function) {
    function = reinterpret_cast<Function>(find(name));
    if (function == nullptr && missing_.empty()) missing_ = name;
  }

  // The first symbol not found, or empty.
  const std::string& missing() const { return missing_; }

 private:
  void* find(const char* name) const;

  void* library_;
  std::string missing_;
};

}  // namespace piperun::io

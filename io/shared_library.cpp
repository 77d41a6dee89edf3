#include "io/shared_library.hpp"

#include <dlfcn.h>

namespace piperun::io {

std::expected<void*, std::string> open_shared_library(std::initializer_list<const char*> sonames) {
  std::string errors;
  for (const char* soname : sonames) {
    if (void* library = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) return library;
    if (!errors.empty()) errors += "; ";
    errors += ::dlerror();
  }
  return std::unexpected(std::move(errors));
}

void* SymbolResolver::find(const char* name) const {
  return ::dlsym(library_, name);
}

}  // namespace piperun::io

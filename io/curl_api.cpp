#include "io/curl_api.hpp"

#include <dlfcn.h>
#include <mutex>

namespace piperun::io {
namespace {

// The soname of the libcurl ABI that curl.h describes (Debian: libcurl4, libcurl3-gnutls is
// the same ABI under another name).
constexpr const char* kLibraries[] = {"libcurl.so.4", "libcurl-gnutls.so.4"};

// Sets `function` to `name` in `library`; names the first symbol missing in `missing`.
template <typename Function>
void resolve(void* library, const char* name, Function& function, std::string& missing) {
  function = reinterpret_cast<Function>(::dlsym(library, name));
  if (function == nullptr && missing.empty()) missing = name;
}

std::expected<CurlApi, std::string> load() {
  void* library = nullptr;
  std::string errors;
  for (const char* name : kLibraries) {
    // RTLD_LOCAL: libcurl's symbols stay its own; its calls to poll() still find the
    // program's (io/socket_probe.cpp), which the link exports for this.
    library = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
    if (!errors.empty()) errors += "; ";
    errors += ::dlerror();
  }
  if (library == nullptr) {
    return std::unexpected(
        "cannot load libcurl, which http:// and s3:// stores need (install "
        "Debian's libcurl4): " +
        errors);
  }
  CurlApi api{};
  std::string missing;
  resolve(library, "curl_global_init", api.global_init, missing);
  resolve(library, "curl_easy_init", api.easy_init, missing);
  resolve(library, "curl_easy_setopt", api.easy_setopt, missing);
  resolve(library, "curl_easy_getinfo", api.easy_getinfo, missing);
  resolve(library, "curl_easy_reset", api.easy_reset, missing);
  resolve(library, "curl_easy_pause", api.easy_pause, missing);
  resolve(library, "curl_easy_cleanup", api.easy_cleanup, missing);
  resolve(library, "curl_easy_strerror", api.easy_strerror, missing);
  resolve(library, "curl_multi_init", api.multi_init, missing);
  resolve(library, "curl_multi_setopt", api.multi_setopt, missing);
  resolve(library, "curl_multi_assign", api.multi_assign, missing);
  resolve(library, "curl_multi_add_handle", api.multi_add_handle, missing);
  resolve(library, "curl_multi_remove_handle", api.multi_remove_handle, missing);
  resolve(library, "curl_multi_socket_action", api.multi_socket_action, missing);
  resolve(library, "curl_multi_info_read", api.multi_info_read, missing);
  resolve(library, "curl_multi_strerror", api.multi_strerror, missing);
  resolve(library, "curl_multi_cleanup", api.multi_cleanup, missing);
  resolve(library, "curl_slist_append", api.slist_append, missing);
  resolve(library, "curl_slist_free_all", api.slist_free_all, missing);
  if (!missing.empty()) return std::unexpected("libcurl lacks " + missing + ": too old a libcurl");
  // The library stays loaded for the life of the process, as a linked one would.
  const CURLcode init = api.global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return std::unexpected(std::string("libcurl: ") + api.easy_strerror(init));
  return api;
}

}  // namespace

std::expected<const CurlApi*, std::string> load_curl() {
  static std::once_flag once;
  static std::expected<CurlApi, std::string> loaded;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded) return std::unexpected(loaded.error());
  return &*loaded;
}

}  // namespace piperun::io

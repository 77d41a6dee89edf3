#include "io/curl_api.hpp"

#include <mutex>

#include "io/shared_library.hpp"

namespace piperun::io {
namespace {

std::expected<CurlApi, std::string> load() {
  // libcurl.so.4 is the ABI that curl.h describes; Debian's libcurl3-gnutls is the same ABI
  // under another name. libcurl's calls to poll() still find the program's
  // (io/socket_probe.cpp), which the link exports for this.
  auto library = open_shared_library({"libcurl.so.4", "libcurl-gnutls.so.4"});
  if (!library) {
    return std::unexpected(
        "cannot load libcurl, which http:// and s3:// stores need (install "
        "Debian's libcurl4): " +
        library.error());
  }
  CurlApi api{};
  SymbolResolver resolve(*library);
  resolve("curl_global_init", api.global_init);
  resolve("curl_easy_init", api.easy_init);
  resolve("curl_easy_setopt", api.easy_setopt);
  resolve("curl_easy_getinfo", api.easy_getinfo);
  resolve("curl_easy_reset", api.easy_reset);
  resolve("curl_easy_pause", api.easy_pause);
  resolve("curl_easy_cleanup", api.easy_cleanup);
  resolve("curl_easy_strerror", api.easy_strerror);
  resolve("curl_multi_init", api.multi_init);
  resolve("curl_multi_setopt", api.multi_setopt);
  resolve("curl_multi_assign", api.multi_assign);
  resolve("curl_multi_add_handle", api.multi_add_handle);
  resolve("curl_multi_remove_handle", api.multi_remove_handle);
  resolve("curl_multi_socket_action", api.multi_socket_action);
  resolve("curl_multi_info_read", api.multi_info_read);
  resolve("curl_multi_strerror", api.multi_strerror);
  resolve("curl_multi_cleanup", api.multi_cleanup);
  resolve("curl_slist_append", api.slist_append);
  resolve("curl_slist_free_all", api.slist_free_all);
  if (!resolve.missing().empty()) {
    return std::unexpected("libcurl lacks " + resolve.missing() + ": too old a libcurl");
  }
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

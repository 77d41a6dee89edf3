// libcurl, loaded on first use (io/shared_library) instead of at program start. Loading libcurl and
// what it pulls in (GnuTLS, Kerberos, LDAP, libssh2, nghttp2...) with the program cost about 12 ms
// of every start here, more than a whole hash-only run of 20,000 small files spends on its own
// work, and only runs that talk to a server need it. Only io/http_client includes this header.
#pragma once

#include <expected>
#include <string>

#include <curl/curl.h>

namespace piperun::io {

// The libcurl entry points pipe-run calls, resolved from libcurl.so.4.
struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_reset) easy_reset;
  decltype(&::curl_easy_pause) easy_pause;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_setopt) multi_setopt;
  decltype(&::curl_multi_assign) multi_assign;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_socket_action) multi_socket_action;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_strerror) multi_strerror;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// Loads libcurl and runs curl_global_init, once per process (thread-safe); later calls return
// the same table, or the same error: which library or symbol is missing, or why init failed.
std::expected<const CurlApi*, std::string> load_curl();

}  // namespace piperun::io

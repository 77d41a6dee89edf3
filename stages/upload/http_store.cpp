#include "stages/upload/http_store.hpp"

#include <fmt/core.h>

#include "stages/upload/uri_encode.hpp"

namespace piperun::stages::upload {
namespace {

StoreError not_supported() {
  return StoreError{ErrorKind::other, "multipart uploads need an S3 store"};
}

}  // namespace

std::string without_credentials(std::string_view url) {
  const std::size_t authority = url.find("://");
  if (authority == std::string_view::npos) return std::string(url);
  const std::size_t start = authority + 3;
  const std::size_t end = std::min(url.find('/', start), url.size());
  const std::size_t at = url.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(url.substr(start + at + 1));
}

HttpStore::HttpStore(RetryingClient& client, std::string base_url, bool send_md5)
    : client_(client), base_url_(std::move(base_url)), send_md5_(send_md5) {
  while (!base_url_.empty() && base_url_.back() == '/')
    base_url_.pop_back();
  public_url_ = without_credentials(base_url_);
}

std::string HttpStore::url_for(std::string_view key) const {
  return public_url_ + "/" + std::string(key);
}

pipeline::task<StoreResult<StoredObject>> HttpStore::lookup(const std::string&, unsigned&) {
  co_return StoredObject{};
}

pipeline::task<StoreResult<bool>> HttpStore::get(const std::string& key, DownloadSink& sink,
                                                 unsigned& attempts) {
  io::HttpRequest request;
  request.url = base_url_ + "/" + uri_encode(key, false);
  request.sink = &sink;
  io::HttpResponse response = co_await client_.perform(
      [&] {
        sink.restart();
        return request;
      },
      attempts);
  if (response.status >= 200 && response.status < 300) co_return true;
  if (response.status == 404) co_return false;
  co_return std::unexpected(error_of("GET", key, response));
}

pipeline::task<StoreResult<Uploaded>> HttpStore::put(const std::string& key, const Body& body,
                                                     const ObjectMeta& meta, unsigned& attempts) {
  io::HttpRequest request;
  request.method = "PUT";
  request.url = base_url_ + "/" + uri_encode(key, false);
  request.body = body.bytes;
  request.headers.push_back(meta.compressed ? "Content-Type: application/zstd"
                                            : "Content-Type: application/octet-stream");
  // Content-MD5 is the one body checksum plain HTTP servers know (RFC 1864).
  if (send_md5_ && !body.checksum_base64.empty())
    request.headers.push_back("Content-MD5: " + body.checksum_base64);
  io::HttpResponse response = co_await client_.perform([&] { return request; }, attempts);
  if (response.status >= 200 && response.status < 300)
    co_return Uploaded{std::string(response.header("etag"))};
  co_return std::unexpected(error_of("PUT", key, response));
}

StoreError HttpStore::error_of(std::string_view what, std::string_view key,
                               const io::HttpResponse& response) const {
  StoreError error;
  if (response.status == 0) {
    error.kind = ErrorKind::transient;
    error.message = fmt::format("{} {}: {}", what, url_for(key), response.transport_error);
  } else {
    error.kind =
        response.status == 401 || response.status == 403 ? ErrorKind::refused : ErrorKind::other;
    error.message = fmt::format("{} {}: HTTP {}", what, url_for(key), response.status);
    if (error.kind == ErrorKind::refused) error.message += " (the server refused our credentials)";
  }
  return error;
}

pipeline::task<StoreResult<std::string>> HttpStore::create_multipart(const std::string&,
                                                                     const ObjectMeta&, unsigned&) {
  co_return std::unexpected(not_supported());
}
pipeline::task<StoreResult<std::string>> HttpStore::put_part(const std::string&, const std::string&,
                                                             unsigned, const Body&, unsigned&) {
  co_return std::unexpected(not_supported());
}
pipeline::task<StoreResult<Uploaded>> HttpStore::complete_multipart(const std::string&,
                                                                    const std::string&,
                                                                    std::vector<CompletedPart>,
                                                                    unsigned&) {
  co_return std::unexpected(not_supported());
}
pipeline::task<StoreResult<Uploaded>> HttpStore::copy_object(const std::string&, const std::string&,
                                                             const ObjectMeta&, unsigned&) {
  co_return std::unexpected(StoreError{ErrorKind::other, "plain HTTP stores keep no metadata"});
}

pipeline::task<void> HttpStore::delete_object(const std::string&) {
  co_return;
}

pipeline::task<void> HttpStore::abort_multipart(const std::string&, const std::string&) {
  co_return;
}

}  // namespace piperun::stages::upload

#include "stages/upload/s3_store.hpp"

#include <fmt/core.h>

#include "stages/upload/transport_checksum.hpp"
#include "stages/upload/uri_encode.hpp"

namespace piperun::stages::upload {
namespace {

// SHA-256 of an empty body: what requests without one sign.
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string trim_slashes(std::string_view text) {
  while (!text.empty() && text.front() == '/')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == '/')
    text.remove_suffix(1);
  return std::string(text);
}

std::string mtime_text(std::int64_t mtime_ns) {
  // rclone's x-amz-meta-mtime: seconds since the epoch with the fraction.
  return fmt::format("{}.{:09}", mtime_ns / 1'000'000'000, mtime_ns % 1'000'000'000);
}

std::int64_t parse_mtime(std::string_view text) {
  const std::size_t dot = text.find('.');
  try {
    std::int64_t ns = std::stoll(std::string(text.substr(0, dot))) * 1'000'000'000;
    if (dot != std::string_view::npos) {
      std::string fraction(text.substr(dot + 1, 9));
      fraction.resize(9, '0');
      ns += std::stoll(fraction);
    }
    return ns;
  } catch (...) {
    return -1;
  }
}

}  // namespace

std::expected<S3Location, std::string> parse_s3_url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.size() < kScheme.size() || url.substr(0, kScheme.size()) != kScheme)
    return std::unexpected(fmt::format("'{}' is not an s3:// URL", url));
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  if (location.bucket.empty()) return std::unexpected(fmt::format("'{}' has no bucket", url));
  if (slash != std::string_view::npos) location.prefix = trim_slashes(rest.substr(slash + 1));
  return location;
}

S3Store::S3Store(RetryingClient& client, S3Location location, Credentials credentials,
                 stages::TransportChecksum checksum, std::string digest_name)
    : client_(client),
      location_(std::move(location)),
      credentials_(std::move(credentials)),
      digest_name_(std::move(digest_name)),
      path_style_(!location_.endpoint.empty()) {
  const TransportChecksum kind(checksum);
  checksum_header_ = std::string(kind.header_name());
  checksum_algorithm_ = std::string(kind.s3_algorithm());
  if (path_style_) {
    base_url_ = location_.endpoint;
    while (!base_url_.empty() && base_url_.back() == '/')
      base_url_.pop_back();
  } else {
    base_url_ = fmt::format("https://{}.s3.{}.amazonaws.com", location_.bucket, location_.region);
  }
  const std::size_t authority = base_url_.find("://") + 3;
  host_ = base_url_.substr(authority);
  // The Host header leaves out the scheme's default port, and so must the signature.
  if (host_.ends_with(":80") && base_url_.starts_with("http://")) host_.resize(host_.size() - 3);
  if (host_.ends_with(":443") && base_url_.starts_with("https://")) host_.resize(host_.size() - 4);
}

std::string S3Store::url_for(std::string_view key) const {
  return fmt::format("s3://{}/{}{}{}", location_.bucket, location_.prefix,
                     location_.prefix.empty() ? "" : "/", key);
}

std::string S3Store::path_of(std::string_view key) const {
  std::string object =
      location_.prefix.empty() ? std::string(key) : location_.prefix + "/" + std::string(key);
  std::string path = path_style_ ? "/" + uri_encode(location_.bucket, true) + "/" : "/";
  return path + uri_encode(object, false);
}

io::HttpRequest S3Store::sign(std::string_view method, const std::string& path, Query query,
                              std::vector<Header> headers, std::span<const std::byte> body,
                              std::string_view payload_hash) const {
  RequestToSign request;
  request.method = method;
  request.host = host_;
  request.encoded_path = path;
  request.query = std::move(query);
  request.headers = std::move(headers);
  request.payload_hash = payload_hash;
  request.region = location_.region;
  request.now = std::chrono::system_clock::now();
  SignedRequest signed_request = sign_v4(request, credentials_, signing_keys_);
  io::HttpRequest out;
  out.method = std::string(method);
  out.url = base_url_ + path;
  if (!signed_request.canonical_query.empty()) out.url += "?" + signed_request.canonical_query;
  out.headers.reserve(signed_request.headers.size());
  for (const Header& header : signed_request.headers)
    out.headers.push_back(header.name + ": " + header.value);
  out.body = body;
  return out;
}

std::vector<Header> S3Store::meta_headers(const ObjectMeta& meta) const {
  std::vector<Header> headers;
  headers.push_back(
      {"content-type", meta.compressed ? "application/zstd" : "application/octet-stream"});
  if (!meta.digest_hex.empty())
    headers.push_back({"x-amz-meta-" + meta.digest_name, meta.digest_hex});
  headers.push_back({"x-amz-meta-size", std::to_string(meta.size)});
  headers.push_back({"x-amz-meta-mode", fmt::format("{:04o}", meta.mode & 07777)});
  headers.push_back({"x-amz-meta-mtime", mtime_text(meta.mtime_ns)});
  if (meta.compressed) headers.push_back({"x-amz-meta-compression", "zstd"});
  return headers;
}

void S3Store::add_checksum(std::vector<Header>& headers, const Body& body) const {
  if (body.checksum_base64.empty()) return;
  headers.push_back({checksum_header_, body.checksum_base64});
}

StoreError S3Store::error_of(std::string_view what, std::string_view key,
                             const io::HttpResponse& response) const {
  StoreError error;
  const std::string where = fmt::format("{} {}", what, url_for(key));
  if (response.status == 0) {
    error.kind = ErrorKind::transient;
    error.message = fmt::format("{}: {}", where, response.transport_error);
    return error;
  }
  const std::optional<S3Error> s3 = parse_error(response.body);
  const std::string code = s3 ? s3->code : std::string();
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || code == "AccessDenied" ||
      code == "InvalidToken" || code == "ExpiredToken" ||
      (response.status == 403 && code.empty())) {
    error.kind = ErrorKind::refused;
  } else if (response.status >= 500 || response.status == 429) {
    error.kind = ErrorKind::transient;
  }
  error.message = fmt::format("{}: HTTP {}", where, response.status);
  if (!code.empty()) error.message += " " + code;
  if (s3 && !s3->message.empty()) error.message += ": " + s3->message;
  if (error.kind == ErrorKind::refused)
    error.message +=
        " (the server refused our credentials or signature: check "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and upload.region)";
  return error;
}

pipeline::task<StoreResult<StoredObject>> S3Store::lookup(const std::string& key,
                                                          unsigned& attempts) {
  const std::string path = path_of(key);
  io::HttpResponse response = co_await client_.perform(
      [&] { return sign("HEAD", path, {}, {}, {}, kEmptySha256); }, attempts);
  StoredObject stored;
  if (response.status == 404) co_return stored;
  if (response.status == 403) {
    // A HEAD answer has no body to say why: a one-byte GET gets the error document.
    response = co_await client_.perform(
        [&] {
          return sign("GET", path, {}, {{"range", "bytes=0-0"}}, {}, kEmptySha256);
        },
        attempts);
  }
  if (response.status != 200) co_return std::unexpected(error_of("HEAD", key, response));
  stored.exists = true;
  stored.etag = std::string(response.header("etag"));
  if (!digest_name_.empty())
    stored.digest_hex = std::string(response.header("x-amz-meta-" + digest_name_));
  try {
    if (auto size = response.header("x-amz-meta-size"); !size.empty())
      stored.size = std::stoull(std::string(size));
  } catch (...) {
  }
  if (auto mtime = response.header("x-amz-meta-mtime"); !mtime.empty())
    stored.mtime_ns = parse_mtime(mtime);
  co_return stored;
}

pipeline::task<StoreResult<bool>> S3Store::get(const std::string& key, DownloadSink& sink,
                                               unsigned& attempts) {
  const std::string path = path_of(key);
  io::HttpResponse response = co_await client_.perform(
      [&] {
        sink.restart();
        io::HttpRequest request = sign("GET", path, {}, {}, {}, kEmptySha256);
        request.sink = &sink;
        return request;
      },
      attempts);
  // A missing bucket is a 404 too, but an error: only NoSuchKey means "no such object".
  if (response.status == 404) {
    const std::optional<S3Error> s3 = parse_error(response.body);
    if (!s3 || s3->code == "NoSuchKey") co_return false;
  }
  if (response.status != 200) co_return std::unexpected(error_of("GET", key, response));
  co_return true;
}

pipeline::task<StoreResult<Uploaded>> S3Store::put(const std::string& key, const Body& body,
                                                   const ObjectMeta& meta, unsigned& attempts) {
  const std::string path = path_of(key);
  std::vector<Header> headers = meta_headers(meta);
  add_checksum(headers, body);
  const std::string_view payload =
      body.sha256_hex.empty() ? std::string_view("UNSIGNED-PAYLOAD") : body.sha256_hex;
  io::HttpResponse response = co_await client_.perform(
      [&] { return sign("PUT", path, {}, headers, body.bytes, payload); }, attempts);
  if (response.status != 200) co_return std::unexpected(error_of("PUT", key, response));
  co_return Uploaded{std::string(response.header("etag"))};
}

pipeline::task<StoreResult<std::string>> S3Store::create_multipart(const std::string& key,
                                                                   const ObjectMeta& meta,
                                                                   unsigned& attempts) {
  const std::string path = path_of(key);
  std::vector<Header> headers = meta_headers(meta);
  if (!checksum_algorithm_.empty())
    headers.push_back({"x-amz-checksum-algorithm", checksum_algorithm_});
  io::HttpResponse response = co_await client_.perform(
      [&] {
        return sign("POST", path, {{"uploads", ""}}, headers, {}, kEmptySha256);
      },
      attempts);
  if (response.status != 200)
    co_return std::unexpected(error_of("CreateMultipartUpload", key, response));
  auto id = parse_initiate_multipart(response.body);
  if (!id)
    co_return std::unexpected(
        StoreError{ErrorKind::other, fmt::format("CreateMultipartUpload {}: {} {}", url_for(key),
                                                 id.error().code, id.error().message)});
  co_return *id;
}

pipeline::task<StoreResult<std::string>> S3Store::put_part(const std::string& key,
                                                           const std::string& upload_id,
                                                           unsigned number, const Body& body,
                                                           unsigned& attempts) {
  const std::string path = path_of(key);
  std::vector<Header> headers;
  add_checksum(headers, body);
  const std::string_view payload =
      body.sha256_hex.empty() ? std::string_view("UNSIGNED-PAYLOAD") : body.sha256_hex;
  Query query{{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
  io::HttpResponse response = co_await client_.perform(
      [&] { return sign("PUT", path, query, headers, body.bytes, payload); }, attempts);
  if (response.status != 200)
    co_return std::unexpected(error_of(fmt::format("UploadPart {}", number), key, response));
  co_return std::string(response.header("etag"));
}

pipeline::task<StoreResult<Uploaded>> S3Store::complete_multipart(const std::string& key,
                                                                  const std::string& upload_id,
                                                                  std::vector<CompletedPart> parts,
                                                                  unsigned& attempts) {
  const std::string path = path_of(key);
  const std::string xml = complete_multipart_body(parts);
  const auto bytes = std::as_bytes(std::span(xml.data(), xml.size()));
  const std::string payload = sha256_hex(bytes);
  std::vector<Header> headers{{"content-type", "application/xml"}};
  io::HttpResponse response = co_await client_.perform(
      [&] {
        return sign("POST", path, {{"uploadId", upload_id}}, headers, bytes, payload);
      },
      attempts);
  if (response.status != 200)
    co_return std::unexpected(error_of("CompleteMultipartUpload", key, response));
  // A 200 can carry an error: the object was not assembled.
  auto completed = parse_complete_multipart(response.body);
  if (!completed)
    co_return std::unexpected(StoreError{
        ErrorKind::other, fmt::format("CompleteMultipartUpload {}: {} {}", url_for(key),
                                      completed.error().code, completed.error().message)});
  co_return Uploaded{completed->etag};
}

pipeline::task<void> S3Store::abort_multipart(const std::string& key,
                                              const std::string& upload_id) {
  const std::string path = path_of(key);
  unsigned attempts = 0;
  (void)co_await client_.perform(
      [&] {
        return sign("DELETE", path, {{"uploadId", upload_id}}, {}, {}, kEmptySha256);
      },
      attempts);
}

}  // namespace piperun::stages::upload

namespace piperun::stages::upload {

pipeline::task<StoreResult<Uploaded>> S3Store::copy_object(const std::string& source,
                                                           const std::string& key,
                                                           const ObjectMeta& meta,
                                                           unsigned& attempts) {
  const std::string path = path_of(key);
  std::vector<Header> headers = meta_headers(meta);
  // A copy onto itself is how S3 changes metadata. The copy source is bucket/key,
  // percent-encoded like a path.
  const std::string object = location_.prefix.empty() ? source : location_.prefix + "/" + source;
  headers.push_back({"x-amz-copy-source",
                     "/" + uri_encode(location_.bucket, true) + "/" + uri_encode(object, false)});
  headers.push_back({"x-amz-metadata-directive", "REPLACE"});
  io::HttpResponse response = co_await client_.perform(
      [&] { return sign("PUT", path, {}, headers, {}, kEmptySha256); }, attempts);
  if (response.status != 200) co_return std::unexpected(error_of("CopyObject", key, response));
  auto copied = parse_copy_object(response.body);
  if (!copied)
    co_return std::unexpected(
        StoreError{ErrorKind::other, fmt::format("CopyObject {}: {} {}", url_for(key),
                                                 copied.error().code, copied.error().message)});
  co_return Uploaded{*copied};
}

pipeline::task<void> S3Store::delete_object(const std::string& key) {
  const std::string path = path_of(key);
  unsigned attempts = 0;
  (void)co_await client_.perform([&] { return sign("DELETE", path, {}, {}, {}, kEmptySha256); },
                                 attempts);
}

}  // namespace piperun::stages::upload

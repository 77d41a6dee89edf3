#include "stages/upload/store_access.hpp"

#include "stages/crypto_api.hpp"
#include "stages/upload/http_store.hpp"
#include "stages/upload/s3_store.hpp"

namespace piperun::stages::upload {

io::HttpClientOptions http_options_for(std::string_view url, const StoreAccess& access) {
  io::HttpClientOptions options;
  options.ca_bundle = access.ca_bundle;
  if (!url.starts_with("s3://")) {
    options.user_password = access.http_auth;
    options.netrc = true;
  }
  return options;
}

std::expected<std::unique_ptr<ObjectStore>, std::string> make_network_store(
    RetryingClient& client, const std::string& url, const std::string& endpoint,
    const std::string& region, const StoreAccess& access, TransportChecksum checksum,
    const std::string& digest_name) {
  // Content-MD5 and S3's signatures and checksums.
  if (auto loaded = load_crypto(); !loaded) return std::unexpected(loaded.error());
  if (!url.starts_with("s3://"))
    return std::make_unique<HttpStore>(client, url, checksum == TransportChecksum::md5);
  auto location = parse_s3_url(url);
  if (!location) return std::unexpected(location.error());
  location->endpoint = endpoint;
  location->region = region;
  return std::make_unique<S3Store>(
      client, std::move(*location),
      Credentials{access.access_key, access.secret_key, access.session_token}, checksum,
      digest_name);
}

}  // namespace piperun::stages::upload

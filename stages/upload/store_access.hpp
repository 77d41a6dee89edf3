// Reaching a network store (S3, an HTTP PUT server): what it takes besides the URL, and the
// store object for a URL. Shared by the upload stage and verify, so both reach a store alike.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include "io/http_client.hpp"
#include "stages/options.hpp"

namespace piperun::stages::upload {

class ObjectStore;
class RetryingClient;

// Credentials and trust, from the environment (cli/ reads them, never the config file).
struct StoreAccess {
  std::string access_key, secret_key, session_token;  // AWS_* (s3 only)
  std::string ca_bundle;                              // AWS_CA_BUNDLE
  std::string http_auth;                              // PIPE_RUN_HTTP_AUTH: "user:password"
};

// HttpClient options for the store at `url`, apart from sizing and timeouts: the CA bundle;
// basic auth and .netrc only for plain HTTP stores, since S3 signs its requests.
io::HttpClientOptions http_options_for(std::string_view url, const StoreAccess& access);

// The store at `url` (s3://bucket/prefix or http(s)://...), reached through `client`.
// `checksum` is the transport checksum sent with each object; `digest_name` the hash whose
// digest travels as metadata (empty: none).
std::expected<std::unique_ptr<ObjectStore>, std::string> make_network_store(
    RetryingClient& client, const std::string& url, const std::string& endpoint,
    const std::string& region, const StoreAccess& access, TransportChecksum checksum,
    const std::string& digest_name);

}  // namespace piperun::stages::upload

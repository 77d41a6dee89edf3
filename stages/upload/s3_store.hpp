// S3 and S3-compatible stores (AWS, Ceph radosgw, MinIO...): SigV4-signed requests (our own
// signer: the body's SHA-256 or UNSIGNED-PAYLOAD, canonical queries), path-style addressing for
// custom endpoints, virtual-hosted for AWS. The original's digest, size, mode and mtime travel
// as x-amz-meta-* (mtime in rclone's format, so rclone shows it as the modification time).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "stages/options.hpp"
#include "stages/upload/object_store.hpp"
#include "stages/upload/retrying_client.hpp"
#include "stages/upload/sigv4.hpp"

namespace piperun::stages::upload {

struct S3Location {
  std::string bucket;
  std::string prefix;    // without leading or trailing '/'
  std::string endpoint;  // "http://127.0.0.1:7480"; empty = AWS
  std::string region = "us-east-1";
};

// s3://bucket/prefix -> bucket and prefix; an error names what is wrong.
std::expected<S3Location, std::string> parse_s3_url(std::string_view url);

class S3Store final : public ObjectStore {
 public:
  S3Store(RetryingClient& client, S3Location location, Credentials credentials,
          stages::TransportChecksum checksum, std::string digest_name);

  std::string url_for(std::string_view key) const override;
  bool can_lookup() const override { return true; }
  pipeline::task<StoreResult<StoredObject>> lookup(const std::string& key,
                                                   unsigned& attempts) override;
  pipeline::task<StoreResult<bool>> get(const std::string& key, DownloadSink& sink,
                                        unsigned& attempts) override;
  pipeline::task<StoreResult<Uploaded>> put(const std::string& key, const Body& body,
                                            const ObjectMeta& meta, unsigned& attempts) override;
  bool can_multipart() const override { return true; }
  pipeline::task<StoreResult<std::string>> create_multipart(const std::string& key,
                                                            const ObjectMeta& meta,
                                                            unsigned& attempts) override;
  pipeline::task<StoreResult<std::string>> put_part(const std::string& key,
                                                    const std::string& upload_id, unsigned number,
                                                    const Body& body, unsigned& attempts) override;
  pipeline::task<StoreResult<Uploaded>> complete_multipart(const std::string& key,
                                                           const std::string& upload_id,
                                                           std::vector<CompletedPart> parts,
                                                           unsigned& attempts) override;
  pipeline::task<void> abort_multipart(const std::string& key,
                                       const std::string& upload_id) override;
  pipeline::task<StoreResult<Uploaded>> copy_object(const std::string& source,
                                                    const std::string& key, const ObjectMeta& meta,
                                                    unsigned& attempts) override;
  pipeline::task<void> delete_object(const std::string& key) override;

 private:
  using Query = std::vector<std::pair<std::string, std::string>>;
  std::string path_of(std::string_view key) const;  // percent-encoded, from '/'
  io::HttpRequest sign(std::string_view method, const std::string& path, Query query,
                       std::vector<Header> headers, std::span<const std::byte> body,
                       std::string_view payload_hash) const;
  std::vector<Header> meta_headers(const ObjectMeta& meta) const;
  void add_checksum(std::vector<Header>& headers, const Body& body) const;
  StoreError error_of(std::string_view what, std::string_view key,
                      const io::HttpResponse& response) const;

  RetryingClient& client_;
  S3Location location_;
  Credentials credentials_;
  mutable SigningKeyCache signing_keys_;  // one key a day and region: 4 HMACs saved a request
  std::string checksum_header_;           // "Content-MD5", "x-amz-checksum-crc32c"...; empty: none
  std::string checksum_algorithm_;        // for CreateMultipartUpload; empty for MD5 and none
  std::string digest_name_;
  std::string base_url_;  // scheme://host[:port]
  std::string host_;      // host[:port] as in the Host header
  bool path_style_;
};

}  // namespace piperun::stages::upload

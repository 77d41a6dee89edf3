// A plain HTTP(S) server that takes PUTs (WebDAV, artifact repositories): one PUT per object at
// <url>/<key>, with Content-MD5 when the checksum is md5; a GET reads an object back (verify).
// Credentials may be in the URL (https://user:password@host/path); they never appear in
// url_for(). Such a server keeps no metadata, so nothing can be looked up: skip_existing does
// not apply, and verify downloads.
#pragma once

#include <string>

#include "stages/upload/object_store.hpp"
#include "stages/upload/retrying_client.hpp"

namespace piperun::stages::upload {

class HttpStore final : public ObjectStore {
 public:
  HttpStore(RetryingClient& client, std::string base_url, bool send_md5);

  std::string url_for(std::string_view key) const override;
  bool can_lookup() const override { return false; }
  pipeline::task<StoreResult<StoredObject>> lookup(const std::string& key,
                                                   unsigned& attempts) override;
  pipeline::task<StoreResult<bool>> get(const std::string& key, DownloadSink& sink,
                                        unsigned& attempts) override;
  pipeline::task<StoreResult<Uploaded>> put(const std::string& key, const Body& body,
                                            const ObjectMeta& meta, unsigned& attempts) override;
  bool can_multipart() const override { return false; }
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
  StoreError error_of(std::string_view what, std::string_view key,
                      const io::HttpResponse& response) const;

  RetryingClient& client_;
  std::string base_url_;    // with credentials, as configured, without a trailing '/'
  std::string public_url_;  // without credentials
  bool send_md5_ = false;
};

// The URL without "user:password@".
std::string without_credentials(std::string_view url);

}  // namespace piperun::stages::upload

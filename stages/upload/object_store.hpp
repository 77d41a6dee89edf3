// A remote store of objects (S3, an HTTP PUT server) as the upload stage sees it. Keys are
// relative to the store's root (the URL's prefix or path). Every call retries by itself (see
// RetryingClient) and counts its requests in `attempts`; errors come back as one message that
// names the object and what the server said.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "io/http_client.hpp"
#include "pipeline/task.hpp"
#include "stages/upload/s3_xml.hpp"

namespace piperun::stages::upload {

// What travels with an object as metadata, so a later run can tell it holds the same content.
struct ObjectMeta {
  std::string digest_name;  // "xxh3-128"... empty when no hash stage ran
  std::string digest_hex;
  std::uint64_t size = 0;  // of the original file
  mode_t mode = 0;
  std::int64_t mtime_ns = 0;
  bool compressed = false;
};

// What a lookup (HEAD) found.
struct StoredObject {
  bool exists = false;
  std::string digest_hex;  // from the metadata pipe-run wrote; empty when absent
  std::uint64_t size = 0;  // the original's, from the metadata; 0 when absent
  std::int64_t mtime_ns = -1;
  std::string etag;
};

// A body and the checksums that go with it, computed by the caller in the same pass.
struct Body {
  std::span<const std::byte> bytes;
  std::string checksum_base64;  // the transport checksum (TransportChecksum); empty for none
  std::string sha256_hex;       // the payload's SHA-256 when known, else empty (unsigned payload)
};

struct Uploaded {
  std::string etag;
};

// Where a download's bytes go, as they arrive. A retried request receives the body again from
// its first byte: restart() comes before every attempt.
class DownloadSink : public io::BodySink {
 public:
  virtual void restart() = 0;
};

enum class ErrorKind { transient, refused, other };
struct StoreError {
  ErrorKind kind = ErrorKind::other;  // refused: credentials or signature rejected
  std::string message;
};

template <class T>
using StoreResult = std::expected<T, StoreError>;

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Where `key` lives, for the manifest and messages: never with credentials.
  virtual std::string url_for(std::string_view key) const = 0;
  // Whether lookup() can tell what an object holds (a plain HTTP server keeps no metadata).
  virtual bool can_lookup() const = 0;
  virtual pipeline::task<StoreResult<StoredObject>> lookup(const std::string& key,
                                                           unsigned& attempts) = 0;
  // Streams the object's bytes into `sink` (verify: the bytes, not the metadata). False when
  // there is no such object.
  virtual pipeline::task<StoreResult<bool>> get(const std::string& key, DownloadSink& sink,
                                                unsigned& attempts) = 0;
  virtual pipeline::task<StoreResult<Uploaded>> put(const std::string& key, const Body& body,
                                                    const ObjectMeta& meta, unsigned& attempts) = 0;

  // Multipart uploads (S3): parts numbered 1..N without gaps, sent in any order.
  // Stores without them say so here and are never asked for the rest.
  virtual bool can_multipart() const = 0;
  virtual pipeline::task<StoreResult<std::string>> create_multipart(const std::string& key,
                                                                    const ObjectMeta& meta,
                                                                    unsigned& attempts) = 0;
  virtual pipeline::task<StoreResult<std::string>> put_part(const std::string& key,
                                                            const std::string& upload_id,
                                                            unsigned number, const Body& body,
                                                            unsigned& attempts) = 0;
  virtual pipeline::task<StoreResult<Uploaded>> complete_multipart(const std::string& key,
                                                                   const std::string& upload_id,
                                                                   std::vector<CompletedPart> parts,
                                                                   unsigned& attempts) = 0;
  virtual pipeline::task<void> abort_multipart(const std::string& key,
                                               const std::string& upload_id) = 0;
  // A server-side copy of `source` to `key` with `meta` as its metadata (source == key: the
  // object's metadata is rewritten; a multipart object learns its digest only after its parts
  // have left). Returns the new object's ETag.
  virtual pipeline::task<StoreResult<Uploaded>> copy_object(const std::string& source,
                                                            const std::string& key,
                                                            const ObjectMeta& meta,
                                                            unsigned& attempts) = 0;
  virtual pipeline::task<void> delete_object(const std::string& key) = 0;
};

}  // namespace piperun::stages::upload

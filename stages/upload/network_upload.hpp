// One file's upload to a network store (S3, HTTP PUT): its bytes are copied into part buffers
// with the transport checksum computed in the same pass; a one-PUT object is looked up and sent
// once its digest is known; a multipart object's parts leave as soon as they are full, while the
// file is still being read, and a multipart upload that fails is aborted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "io/http_client.hpp"
#include "pipeline/byte_budget.hpp"
#include "pipeline/stage.hpp"
#include "stages/options.hpp"
#include "stages/upload/object_store.hpp"
#include "stages/upload/retrying_client.hpp"
#include "stages/upload/throttle.hpp"

namespace piperun::stages::upload {

class DigestCache;

// Everything the network uploads of one run share, created once the ring runs.
struct UploadShared {
  UploadShared(io::Ring& ring, std::unique_ptr<io::HttpClient> http_client,
               const UploadOptions& options, std::uint64_t memory, bool multipart)
      : options(options),
        http(std::move(http_client)),
        throttle(ring, options.concurrency),
        client(ring, *http, throttle, RetryPolicy{options.retries}),
        whole_objects(ring, multipart ? memory / 2 : memory),
        parts(ring, multipart ? memory - memory / 2 : 0) {}

  const UploadOptions& options;
  std::unique_ptr<io::HttpClient> http;
  Throttle throttle;
  RetryingClient client;
  // The upload memory, in two halves, so that no file waits for memory while holding what
  // the files that hold memory need. `whole_objects`: each file takes a buffer before its first
  // read (waiting there holds no read buffer) and keeps it to its end: a one-PUT object's, or
  // the one a multipart file fills. `parts`: a full part is paid from here while it is sent,
  // and the file fills a fresh buffer on its own reservation; sends end without any read, so a
  // file waiting for `parts` always gets it.
  pipeline::ByteBudget whole_objects;
  pipeline::ByteBudget parts;
  std::unique_ptr<ObjectStore> store;
  std::string suffix;
  std::string digest_name;
  // CompleteMultipartUpload's element for a part's checksum ("ChecksumCRC32C"...); empty: none.
  std::string checksum_element;
  std::uint64_t single_put_limit = 0;  // objects up to this size go in one PUT
  std::uint64_t incoming = 0;          // temporary keys handed out (layout = "content")
  // The first refusal of our credentials: later files fail at once instead of asking again.
  std::optional<std::string> refused;
  DigestCache* digests = nullptr;  // layout = "content" with skip_existing
};

std::unique_ptr<pipeline::FileStage> make_network_upload(UploadShared& shared,
                                                         const pipeline::FileInfo& file,
                                                         pipeline::Runtime& runtime,
                                                         bool compressed);

}  // namespace piperun::stages::upload

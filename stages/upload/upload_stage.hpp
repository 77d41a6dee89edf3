// The upload stage: every file's (compressed) bytes become an object in a store.
//  - s3://bucket/prefix: objects under multipart_threshold in one PUT, larger ones by multipart
//    upload whose parts leave as soon as their bytes exist, while the file is still being read.
//  - http(s)://host/path: one PUT per object.
//  - file:///dir: a local store written through the ring, atomic like the write stage.
// Keys: `mirror` = <relative path>[.zst]; `content` = <digest>[.zst].
// Bytes are copied into part buffers (the transport checksum is computed in the same pass) that
// come out of the upload's share of memory_limit; the read and compress buffers go back at once.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "pipeline/stage.hpp"
#include "stages/options.hpp"
#include "stages/upload/store_access.hpp"

namespace piperun::io {
class HttpClient;
}

namespace piperun::stages {

class OutputTree;

namespace upload {
class DigestCache;
class ObjectStore;
class RetryingClient;
class Throttle;
struct UploadShared;
}  // namespace upload

// What the stage needs beyond [upload]: resolved by cli/ from the environment and the config.
struct UploadContext {
  upload::StoreAccess access;          // credentials, from the environment
  std::string suffix;                  // ".zst" after compress
  std::string digest_name;             // the first hash's name; empty: no hash
  std::uint64_t memory = 64ull << 20;  // the upload's share of memory_limit
  std::filesystem::path digest_cache;  // upload/digest_cache.hpp; empty: none
};

class UploadStage final : public pipeline::Stage {
 public:
  UploadStage(UploadOptions options, UploadContext context);
  ~UploadStage() override;

  std::string_view name() const noexcept override { return "upload"; }
  std::unique_ptr<pipeline::FileStage> begin(
      const pipeline::FileInfo& file, pipeline::Runtime& runtime,
      std::unique_ptr<pipeline::FileStage> downstream) override;
  std::expected<void, std::string> open_run() override;
  pipeline::task<pipeline::Status> finish_run(pipeline::Runtime& runtime) override;
  pipeline::task<void> close_run(pipeline::Runtime& runtime) override;
  std::uint64_t reserved_memory() const noexcept override;
  pipeline::task<bool> outputs_hold(const pipeline::FileRecord& previous,
                                    pipeline::Runtime& runtime) override;

 private:
  void start(pipeline::Runtime& runtime);

  UploadOptions options_;
  UploadContext context_;
  std::string store_url_;                         // file://, without a trailing '/'
  std::unique_ptr<OutputTree> local_store_;       // file://
  std::unique_ptr<upload::UploadShared> shared_;  // network stores, once the ring runs
  std::unique_ptr<upload::DigestCache> digests_;  // layout = "content" with skip_existing
  std::string start_error_;                       // the transport could not start
};

}  // namespace piperun::stages

#include "stages/upload/upload_stage.hpp"

#include <algorithm>

#include "io/http_client.hpp"
#include "stages/output_tree.hpp"
#include "stages/tree_file_writer.hpp"
#include "stages/upload/digest_cache.hpp"
#include "stages/upload/network_upload.hpp"
#include "stages/upload/transport_checksum.hpp"

namespace piperun::stages {
namespace upload {

// Every file of a run whose transport could not start.
class FailedUpload final : public pipeline::FileStage {
 public:
  explicit FailedUpload(std::string message) : message_(std::move(message)) {}
  pipeline::task<pipeline::Status> prepare() override { co_return failure(); }
  pipeline::task<pipeline::Status> on_chunk(pipeline::Chunk) override { co_return failure(); }
  pipeline::task<pipeline::Status> finish(pipeline::FileRecord&) override { co_return failure(); }

 private:
  pipeline::Status failure() const { return std::unexpected(pipeline::Failure{message_}); }
  std::string message_;
};
}  // namespace upload

UploadStage::UploadStage(UploadOptions options, UploadContext context)
    : options_(std::move(options)), context_(std::move(context)) {}

UploadStage::~UploadStage() = default;

std::uint64_t UploadStage::reserved_memory() const noexcept {
  return options_.url.starts_with("file://") ? 0 : context_.memory;
}

std::expected<void, std::string> UploadStage::open_run() {
  if (options_.layout == UploadLayout::content && options_.skip_existing &&
      !options_.url.starts_with("file://") && !context_.digest_cache.empty()) {
    digests_ = std::make_unique<upload::DigestCache>(context_.digest_cache);
    digests_->load();
  }
  if (options_.url.starts_with("file://")) {
    store_url_ = options_.url;
    while (store_url_.size() > 8 && store_url_.back() == '/')
      store_url_.pop_back();
    local_store_ = std::make_unique<OutputTree>(store_url_.substr(7));
    return local_store_->open();
  }
  return {};
}

void UploadStage::start(pipeline::Runtime& runtime) {
  io::HttpClientOptions http_options = upload::http_options_for(options_.url, context_.access);
  http_options.max_connections = options_.concurrency;
  http_options.stall_timeout = options_.timeout;
  http_options.max_send_speed = options_.bandwidth_limit;
  const bool s3 = options_.url.starts_with("s3://");
  auto http = io::HttpClient::create(runtime.ring, http_options);
  if (!http) {
    // Without libcurl nothing can be sent: every file fails with this message.
    start_error_ = "upload: " + http.error();
    return;
  }
  shared_ = std::make_unique<upload::UploadShared>(runtime.ring, std::move(*http), options_,
                                                   context_.memory, s3);
  shared_->suffix = context_.suffix;
  shared_->digest_name = context_.digest_name;
  shared_->checksum_element =
      std::string(upload::TransportChecksum(options_.checksum).complete_element());
  if (digests_) shared_->digests = digests_.get();
  // S3: one-PUT objects are held whole, at most half their budget each, so two are in flight.
  // Plain HTTP has nothing but one PUT per object: any object that fits the budget.
  shared_->single_put_limit =
      s3 ? std::min<std::uint64_t>(options_.multipart_threshold, shared_->whole_objects.total() / 2)
         : shared_->whole_objects.total();
  auto store =
      upload::make_network_store(shared_->client, options_.url, options_.endpoint, options_.region,
                                 context_.access, options_.checksum, context_.digest_name);
  if (!store) {
    start_error_ = "upload: " + store.error();
    return;
  }
  shared_->store = std::move(*store);
}

std::unique_ptr<pipeline::FileStage> UploadStage::begin(
    const pipeline::FileInfo& file, pipeline::Runtime& runtime,
    std::unique_ptr<pipeline::FileStage> /*downstream*/) {
  if (local_store_) {
    TreeFileWriterOptions writer;
    if (options_.layout == UploadLayout::mirror) writer.target = file.rel_path + context_.suffix;
    writer.suffix = context_.suffix;
    writer.as_upload = true;
    writer.store_url = store_url_;
    writer.digest_name = context_.digest_name;
    writer.skip_existing = options_.skip_existing;
    return make_tree_file_writer(*local_store_, std::move(writer), file, runtime);
  }
  if (!shared_ && start_error_.empty()) start(runtime);
  if (!shared_) return std::make_unique<upload::FailedUpload>(start_error_);
  return upload::make_network_upload(*shared_, file, runtime, !context_.suffix.empty());
}

pipeline::task<bool> UploadStage::outputs_hold(const pipeline::FileRecord& previous,
                                               pipeline::Runtime& runtime) {
  if (!previous.upload) co_return false;
  std::string digest;
  for (const pipeline::Digest& candidate : previous.digests) {
    if (candidate.algorithm == context_.digest_name) digest = candidate.hex;
  }
  std::string key;
  if (options_.layout == UploadLayout::mirror) {
    key = previous.rel_path + context_.suffix;
  } else if (!digest.empty()) {
    key = digest + context_.suffix;
  } else {
    co_return false;
  }
  if (local_store_) {
    co_return co_await local_store_->holds(
        runtime.ring, key, previous.compressed_size.value_or(previous.size), previous.mtime_ns);
  }
  // A network store: the object's metadata must name the same content (one HEAD).
  if (digest.empty()) co_return false;
  if (!shared_ && start_error_.empty()) start(runtime);
  if (!shared_ || !shared_->store->can_lookup()) co_return false;
  unsigned attempts = 0;
  auto found = co_await shared_->store->lookup(key, attempts);
  co_return found && found->exists && found->digest_hex == digest && found->size == previous.size;
}

pipeline::task<pipeline::Status> UploadStage::finish_run(pipeline::Runtime& runtime) {
  if (digests_) co_await runtime.cpu.offload([this] { digests_->save(); });
  co_return pipeline::Status{};
}

pipeline::task<void> UploadStage::close_run(pipeline::Runtime&) {
  shared_.reset();
  co_return;
}

}  // namespace piperun::stages

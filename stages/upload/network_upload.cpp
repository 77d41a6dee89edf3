#include "stages/upload/network_upload.hpp"

#include <algorithm>
#include <cstring>
#include <unistd.h>
#include <vector>

#include <fmt/core.h>
#include <zstd.h>

#include "pipeline/wakeup.hpp"
#include "stages/hex.hpp"
#include "stages/upload/digest_cache.hpp"
#include "stages/upload/part_plan.hpp"
#include "stages/upload/transport_checksum.hpp"

namespace piperun::stages::upload {
namespace {

// Chunks smaller than this are copied and checksummed on the I/O thread: a hand-off to a CPU
// worker costs more than they do.
constexpr std::size_t kInlineCopyBytes = 64 * 1024;

// Where layout = "content" puts large objects while their digest (so their name) is unknown.
constexpr std::string_view kIncomingPrefix = ".pipe-run-incoming/";

std::string_view checksum_label(stages::TransportChecksum kind) {
  switch (kind) {
    case stages::TransportChecksum::md5:
      return "md5";
    case stages::TransportChecksum::crc32c:
      return "crc32c";
    case stages::TransportChecksum::crc64nvme:
      return "crc64nvme";
    case stages::TransportChecksum::sha256:
      return "sha256";
    case stages::TransportChecksum::xxhash128:
      return "xxhash128";
    case stages::TransportChecksum::none:
      break;
  }
  return "";
}

// A buffer for one part (or a whole single-PUT object) and its checksum, paid for from the
// upload's memory budget.
struct PartBuffer {
  std::unique_ptr<std::byte[]> data;
  std::size_t capacity = 0;
  std::size_t fill = 0;
  pipeline::ByteBudget* budget = nullptr;  // where `capacity` goes back
  std::unique_ptr<TransportChecksum> checksum;

  std::span<const std::byte> bytes() const { return {data.get(), fill}; }
};

class NetworkUpload final : public pipeline::FileStage {
 public:
  NetworkUpload(UploadShared& shared, const pipeline::FileInfo& file, pipeline::Runtime& runtime,
                bool compressed)
      : shared_(shared),
        runtime_(runtime),
        file_size_(file.size),
        mtime_ns_(file.mtime_ns),
        bytes_read_(file.bytes_read) {
    meta_.size = file.size;
    meta_.mode = file.mode;
    meta_.mtime_ns = file.mtime_ns;
    meta_.compressed = compressed;
    meta_.digest_name = shared.digest_name;
    const std::uint64_t bound = compressed ? ZSTD_compressBound(file.size) : file.size;
    const bool mirror = shared.options.layout == UploadLayout::mirror;
    if (mirror) key_ = file.rel_path + shared.suffix;
    multipart_ = bound > shared.single_put_limit;
    if (!mirror && multipart_) {
      // Named after a digest that exists only once the parts have left: uploaded under a
      // temporary key, then copied to its name on the server (see finish()).
      key_ =
          fmt::format("{}{}-{}{}", kIncomingPrefix, ::getpid(), ++shared.incoming, shared.suffix);
      incoming_ = true;
    }
    if (multipart_) {
      part_capacity_ = part_size_for(bound, shared.options.part_size);
      if (!shared.store->can_multipart()) {
        status_ = fail(fmt::format(
            "{} bytes do not fit the upload memory ({} bytes) and this store takes one PUT per "
            "object: raise memory_limit",
            bound, shared.whole_objects.total()));
      } else if (part_capacity_ > std::min(shared.parts.total(), shared.whole_objects.total())) {
        status_ =
            fail(fmt::format("parts of {} bytes do not fit the upload memory ({} bytes): "
                             "raise memory_limit",
                             part_capacity_, shared.parts.total()));
      }
    } else {
      part_capacity_ = static_cast<std::size_t>(bound);
    }
    skip_ =
        shared.options.skip_existing && shared.store->can_lookup() && !shared.digest_name.empty();
    identity_ = FileIdentity{file.device, file.inode, file.size, file.mtime_ns, file.ctime_ns};
    if (incoming_ && skip_ && shared.digests != nullptr) {
      // Seen before: named (and looked up) before the first byte leaves.
      if (auto digest = shared.digests->find(identity_, shared.digest_name)) {
        expected_digest_ = *digest;
        key_ = *digest + shared.suffix;
        incoming_ = false;
      }
    }
  }

  ~NetworkUpload() override {
    if (part_) part_->budget->release(part_->capacity);
  }

  pipeline::task<pipeline::Status> on_chunk(pipeline::Chunk chunk) override {
    if (!status_) co_return status_;
    if (shared_.refused)
      co_return fail("not sent: the store refused our credentials earlier (" + *shared_.refused +
                     ")");
    std::span<const std::byte> bytes = chunk.bytes;
    while (!bytes.empty() && !verify_only_) {
      const std::size_t take = std::min(bytes.size(), part_->capacity - part_->fill);
      co_await append(bytes.first(take));
      bytes = bytes.subspan(take);
      if (multipart_ && part_->fill == part_->capacity) {
        co_await ship_part(false);
        if (!status_) co_return status_;
      }
    }
    co_return status_;
  }

  pipeline::task<pipeline::Status> finish(pipeline::FileRecord& record) override {
    if (!status_) co_return status_;
    if (shared_.refused && upload_id_.empty())
      co_return fail("not sent: the store refused our credentials earlier (" + *shared_.refused +
                     ")");
    const std::string digest = record.digests.empty() ? std::string() : record.digests[0].hex;
    meta_.digest_hex = digest;
    if (key_.empty()) key_ = digest + shared_.suffix;  // content layout
    if (multipart_ && !verify_only_) {
      if (part_ && (part_->fill > 0 || parts_.empty())) {
        co_await ship_part(true);
      } else {
        release_part();  // the file ended with a part: the fresh buffer was not needed
      }
      while (parts_in_flight_ > 0)
        co_await parts_done_.wait();
      if (!status_) co_return status_;
      // Uploaded under the cached digest's name, but the bytes say otherwise: rename it.
      if (!expected_digest_.empty() && digest != expected_digest_) incoming_ = true;
    }
    if (verify_only_) {
      // The store's object matched size and mtime; the digest decides.
      if (digest != stored_digest_) {
        co_return fail(
            "the stored object looked like this file (name, size, mtime) but holds other "
            "content; re-run with skip_existing = false to replace it");
      }
      upload_.skipped = true;
    } else if (multipart_) {
      co_await complete();
    } else {
      co_await put_single(digest);
    }
    if (!status_) co_return status_;
    if (shared_.digests != nullptr && !digest.empty())
      shared_.digests->add(identity_, shared_.digest_name, digest);
    upload_.url = shared_.store->url_for(key_);
    record.upload = std::move(upload_);
    co_return status_;
  }

  pipeline::task<void> abort() override {
    while (parts_in_flight_ > 0)
      co_await parts_done_.wait();
    if (!upload_id_.empty()) co_await shared_.store->abort_multipart(key_, upload_id_);
    upload_id_.clear();
  }

 private:
  pipeline::Status fail(std::string message) {
    status_ = std::unexpected(pipeline::Failure{"upload: " + std::move(message)});
    return status_;
  }

  void note_error(const StoreError& error) {
    if (error.kind == ErrorKind::refused && !shared_.refused) shared_.refused = error.message;
    if (status_) fail(error.message);
  }

  // A one-PUT object's buffer, or the buffer a multipart file fills: the file holds it from
  // before its first read to its end (see UploadShared).
  pipeline::task<pipeline::Status> prepare() override {
    if (status_) {
      co_await shared_.whole_objects.acquire(part_capacity_);
      allocate_part(shared_.whole_objects);
    }
    co_return status_;
  }

  // A buffer whose memory `charged` has granted already.
  void allocate_part(pipeline::ByteBudget& budget) {
    part_ = std::make_unique<PartBuffer>();
    part_->budget = &budget;
    part_->capacity = part_capacity_;
    part_->data.reset(new std::byte[std::max<std::size_t>(1, part_capacity_)]);
    part_->checksum = std::make_unique<TransportChecksum>(shared_.options.checksum);
  }

  pipeline::task<void> append(std::span<const std::byte> bytes) {
    PartBuffer* part = part_.get();
    auto copy = [part, bytes] {
      std::memcpy(part->data.get() + part->fill, bytes.data(), bytes.size());
      part->checksum->update(bytes);
    };
    if (bytes.size() < kInlineCopyBytes) {
      copy();
    } else {
      co_await runtime_.cpu.offload(copy);
    }
    part->fill += bytes.size();
    upload_.bytes += bytes.size();
  }

  Body body_of(PartBuffer& part) {
    Body body;
    body.bytes = part.bytes();
    const ChecksumBytes checksum = part.checksum->finish();
    if (checksum.size > 0) body.checksum_base64 = base64_encode(checksum.bytes());
    // A SHA-256 checksum doubles as the signed payload hash: the signature covers the body.
    if (shared_.options.checksum == stages::TransportChecksum::sha256)
      body.sha256_hex = to_hex(checksum.bytes());
    if (!body.checksum_base64.empty())
      upload_.checksum =
          fmt::format("{}:{}", checksum_label(shared_.options.checksum), body.checksum_base64);
    return body;
  }

  // Before the first part leaves: is the object already there, or must an upload begin?
  // `last`: the file's final part, sent from the file's own buffer. Others are paid from the
  // parts' memory while they are sent, and the file goes on filling a fresh buffer.
  pipeline::task<void> ship_part(bool last) {
    if (upload_id_.empty() && !verify_only_) {
      if (skip_ && !incoming_) {
        auto stored = co_await shared_.store->lookup(key_, upload_.attempts);
        if (!stored) {
          note_error(stored.error());
          co_return;
        }
        // The store may hold this file already: by name and digest (content), or by name,
        // size and mtime (mirror). Then the file is only hashed, and its digest decides.
        const bool candidate =
            stored->exists && !stored->digest_hex.empty() &&
            (expected_digest_.empty() ? stored->size == file_size_ && stored->mtime_ns == mtime_ns_
                                      : stored->digest_hex == expected_digest_);
        if (candidate) {
          verify_only_ = true;
          stored_digest_ = stored->digest_hex;
          upload_.bytes = 0;
          release_part();
          co_return;
        }
      }
      auto created = co_await shared_.store->create_multipart(key_, meta_, upload_.attempts);
      if (!created) {
        note_error(created.error());
        co_return;
      }
      upload_id_ = *created;
    }
    if (last) {
      start_part_upload();
      co_return;
    }
    co_await shared_.parts.acquire(part_capacity_);
    part_->budget = &shared_.parts;
    start_part_upload();
    allocate_part(shared_.whole_objects);
  }

  void release_part() {
    if (!part_) return;
    part_->budget->release(part_->capacity);
    part_.reset();
  }

  void start_part_upload() {
    const unsigned number = static_cast<unsigned>(parts_.size()) + 1;
    parts_.push_back(CompletedPart{number, {}, {}, {}});
    if (runtime_.event && bytes_read_ != nullptr) {
      runtime_.event(fmt::format("upload: {}: part {} leaves ({} bytes), {} of {} input bytes read",
                                 shared_.store->url_for(key_), number, part_->fill, *bytes_read_,
                                 file_size_));
    }
    ++parts_in_flight_;
    pipeline::spawn(upload_part(this, number, std::move(part_)));
  }

  static pipeline::task<void> upload_part(NetworkUpload* self, unsigned number,
                                          std::unique_ptr<PartBuffer> part) {
    const Body body = self->body_of(*part);
    unsigned attempts = 0;
    auto sent = co_await self->shared_.store->put_part(self->key_, self->upload_id_, number, body,
                                                       attempts);
    self->upload_.attempts += attempts;
    if (!sent) {
      self->note_error(sent.error());
    } else {
      CompletedPart& done = self->parts_[number - 1];
      done.etag = *sent;
      if (self->runtime_.event) {
        self->runtime_.event(fmt::format("upload: {}: part {} stored",
                                         self->shared_.store->url_for(self->key_), number));
      }
      if (!self->shared_.checksum_element.empty()) {
        done.checksum_name = self->shared_.checksum_element;
        done.checksum_value = body.checksum_base64;
      }
    }
    part->budget->release(part->capacity);
    part.reset();
    --self->parts_in_flight_;
    self->parts_done_.notify(self->runtime_.ring);
  }

  pipeline::task<void> complete() {
    auto completed =
        co_await shared_.store->complete_multipart(key_, upload_id_, parts_, upload_.attempts);
    if (!completed) {
      note_error(completed.error());
      co_await shared_.store->abort_multipart(key_, upload_id_);
      upload_id_.clear();
      co_return;
    }
    upload_id_.clear();
    upload_.etag = completed->etag;
    // A multipart object has a checksum of checksums; the parts' were verified one by one.
    upload_.checksum.clear();
    if (incoming_) {
      co_await name_after_digest();
      co_return;
    }
    if (skip_ && !meta_.digest_hex.empty()) {
      // The digest exists only now that every part has left: it joins the metadata by a copy
      // onto itself, so that a later run can skip this object.
      auto replaced = co_await shared_.store->copy_object(key_, key_, meta_, upload_.attempts);
      if (!replaced) {
        note_error(replaced.error());
        co_return;
      }
      upload_.etag = replaced->etag;
    }
    if (upload_.etag.empty()) {
      // radosgw answers CompleteMultipartUpload without an ETag; the object's HEAD has it.
      auto stored = co_await shared_.store->lookup(key_, upload_.attempts);
      if (stored) upload_.etag = stored->etag;
    }
  }

  // layout = "content": the object in its temporary key becomes <digest><suffix>, unless the
  // store holds that already; the temporary goes either way.
  pipeline::task<void> name_after_digest() {
    const std::string temporary = std::exchange(key_, meta_.digest_hex + shared_.suffix);
    if (skip_) {
      auto stored = co_await shared_.store->lookup(key_, upload_.attempts);
      if (stored && stored->exists && stored->digest_hex == meta_.digest_hex) {
        upload_.skipped = true;
        upload_.etag = stored->etag;
        co_await shared_.store->delete_object(temporary);
        co_return;
      }
    }
    auto copied = co_await shared_.store->copy_object(temporary, key_, meta_, upload_.attempts);
    co_await shared_.store->delete_object(temporary);
    if (!copied) {
      note_error(copied.error());
      co_return;
    }
    upload_.etag = copied->etag;
  }

  pipeline::task<void> put_single(const std::string& digest) {
    if (skip_) {
      auto stored = co_await shared_.store->lookup(key_, upload_.attempts);
      if (!stored) {
        note_error(stored.error());
        co_return;
      }
      if (stored->exists && stored->digest_hex == digest) {
        upload_.skipped = true;
        upload_.bytes = 0;
        upload_.etag = stored->etag;
        release_part();
        co_return;
      }
    }
    const Body body = body_of(*part_);
    auto put = co_await shared_.store->put(key_, body, meta_, upload_.attempts);
    release_part();
    if (!put) {
      note_error(put.error());
      co_return;
    }
    upload_.etag = put->etag;
  }

  UploadShared& shared_;
  pipeline::Runtime& runtime_;
  std::uint64_t file_size_;
  std::int64_t mtime_ns_;
  const std::uint64_t* bytes_read_;
  ObjectMeta meta_;
  std::string key_;
  bool multipart_ = false;
  bool skip_ = false;
  bool incoming_ = false;  // key_ is temporary: the object is copied to its digest's name
  FileIdentity identity_;
  std::string expected_digest_;  // layout = "content": the digest cache's, named after it
  bool verify_only_ = false;     // the store may already hold this file: hash, send nothing
  std::string stored_digest_;
  std::size_t part_capacity_ = 0;
  std::unique_ptr<PartBuffer> part_;
  std::string upload_id_;
  std::vector<CompletedPart> parts_;
  unsigned parts_in_flight_ = 0;
  pipeline::Wakeup parts_done_;
  pipeline::UploadRecord upload_;
  pipeline::Status status_;
};

}  // namespace

std::unique_ptr<pipeline::FileStage> make_network_upload(UploadShared& shared,
                                                         const pipeline::FileInfo& file,
                                                         pipeline::Runtime& runtime,
                                                         bool compressed) {
  return std::make_unique<NetworkUpload>(shared, file, runtime, compressed);
}

}  // namespace piperun::stages::upload

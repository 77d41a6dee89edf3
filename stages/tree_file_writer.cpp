#include "stages/tree_file_writer.hpp"

#include <cassert>
#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <optional>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utility>

#include <fmt/core.h>

#include "io/ops.hpp"
#include "pipeline/in_order.hpp"

namespace piperun::stages {
namespace {

// Writes in flight per file: the page cache takes them at memory speed, so a few are enough
// to overlap one file's writes with its next frames.
constexpr std::size_t kWritesPerFile = 4;

// The last steps of a complete file: set its mtime, then rename it into place. futimens(2) has
// no io_uring operation, so this runs on a CPU worker, and the rename with it: one hand-off per
// file instead of a second one to an io-wq worker.
struct PublishFile {
  int fd;
  std::int64_t mtime_ns;
  int dir_fd;
  const char* temp;
  const char* target;
  const char* attribute;  // an extended attribute to set to `value`; null: none
  std::string_view value;

  // The step that failed, or none.
  std::optional<std::pair<const char*, int>> operator()() const {
    // A filesystem without user attributes still stores the file; only skipping needs them.
    if (attribute != nullptr && ::fsetxattr(fd, attribute, value.data(), value.size(), 0) != 0 &&
        errno != ENOTSUP)
      return std::pair{"set digest attribute of", errno};
    const timespec times[2] = {{0, UTIME_OMIT},
                               {static_cast<time_t>(mtime_ns / 1'000'000'000),
                                static_cast<long>(mtime_ns % 1'000'000'000)}};
    if (::futimens(fd, times) != 0) return std::pair{"set mtime of", errno};
    if (::renameat(dir_fd, temp, dir_fd, target) != 0) return std::pair{"rename to", errno};
    return std::nullopt;
  }
};

// The value of `attribute` on `rel` below `dir_fd`, or empty.
std::string stored_attribute(int dir_fd, const std::string& rel, const std::string& attribute) {
  const int fd = ::openat(dir_fd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return {};
  char value[256];
  const ssize_t length = ::fgetxattr(fd, attribute.c_str(), value, sizeof value);
  ::close(fd);
  return length > 0 ? std::string(value, static_cast<std::size_t>(length)) : std::string();
}

struct WriteSlot {
  io::BufferLease lease;  // the bytes being written, when this stage keeps them
  io::TransferOp op;
};

class TreeFileWriter final : public pipeline::FileStage {
 public:
  TreeFileWriter(OutputTree& tree, TreeFileWriterOptions options, const pipeline::FileInfo& file,
                 pipeline::Runtime& runtime)
      : tree_(tree),
        options_(std::move(options)),
        runtime_(runtime),
        target_(options_.target),
        mode_(file.mode & 0777),
        mtime_ns_(file.mtime_ns),
        writes_(*this, runtime.ring, kWritesPerFile) {}

  ~TreeFileWriter() override { assert(fd_ < 0 && "finish() or abort() must close the file"); }

  pipeline::task<pipeline::Status> on_chunk(pipeline::Chunk chunk) override {
    if (fd_ < 0) {
      if (auto opened = co_await open(); !opened) co_return opened;
    }
    if (chunk.bytes.empty()) co_return pipeline::Status{};
    WriteSlot* slot = co_await writes_.reserve();
    if (!written_) co_return written_;
    // The io_uring write only reads the bytes.
    std::span<std::byte> bytes{const_cast<std::byte*>(chunk.bytes.data()), chunk.bytes.size()};
    int buffer_index = -1;
    if (chunk.lease != nullptr) {
      // Ours until the write is done.
      slot->lease = std::move(*chunk.lease);
      buffer_index = slot->lease.registered_index();
    }
    slot->op.start(runtime_.ring, io::TransferOp::Direction::write, fd_, bytes, chunk.offset,
                   buffer_index);
    bytes_written_ += bytes.size();
    writes_.started();
    if (chunk.lease == nullptr) {
      // A stage after this one needs the bytes back when on_chunk returns.
      co_await writes_.drain();
      co_return written_;
    }
    co_return pipeline::Status{};
  }

  pipeline::task<pipeline::Status> finish(pipeline::FileRecord& record) override {
    if (fd_ < 0) {
      if (auto opened = co_await open(); !opened) co_return opened;
    }
    co_await writes_.drain();
    if (!written_) co_return written_;
    const std::string digest = record.digests.empty() ? std::string() : record.digests[0].hex;
    if (target_.empty()) {
      if (digest.empty())
        co_return pipeline::Status(
            std::unexpected(pipeline::Failure{"layout = \"content\" needs the hash stage"}));
      target_ = digest + options_.suffix;
    }
    const std::string attribute =
        options_.as_upload && !options_.digest_name.empty() && !digest.empty()
            ? "user.pipe-run." + options_.digest_name
            : std::string();
    if (options_.skip_existing && !attribute.empty()) {
      const bool same = co_await runtime_.cpu.offload(
          [&] { return stored_attribute(tree_.fd(), target_, attribute) == digest; });
      if (same) {
        co_await discard();
        record.upload = pipeline::UploadRecord{.skipped = true,
                                               .url = options_.store_url + "/" + target_,
                                               .etag = {},
                                               .checksum = {},
                                               .attempts = 0,
                                               .bytes = 0};
        co_return pipeline::Status{};
      }
    }
    if (options_.fsync) {
      if (auto synced = co_await io::Fsync(runtime_.ring, fd_); !synced)
        co_return failure("fsync", synced.error());
    }
    // After the last write, which would change the mtime again.
    if (auto failed = co_await runtime_.cpu.offload(
            PublishFile{fd_, mtime_ns_, tree_.fd(), temp_.c_str(), target_.c_str(),
                        attribute.empty() ? nullptr : attribute.c_str(), digest})) {
      co_return failure(failed->first, std::error_code(failed->second, std::system_category()));
    }
    renamed_ = true;
    if (options_.fsync) tree_.wrote_into(target_);
    co_await close();
    if (options_.as_upload) {
      record.upload = pipeline::UploadRecord{.skipped = false,
                                             .url = options_.store_url + "/" + target_,
                                             .etag = {},
                                             .checksum = {},
                                             .attempts = 1,
                                             .bytes = bytes_written_};
    } else {
      record.output_path = target_;
    }
    co_return pipeline::Status{};
  }

  pipeline::task<void> abort() override {
    co_await writes_.drain();
    co_await discard();
  }

  // pipeline::InOrder: the oldest write is done or about to be.
  pipeline::task<void> complete(WriteSlot& slot) {
    auto result = co_await slot.op;
    slot.lease.release();
    if (!result && written_) written_ = failure("write", result.error());
  }

 private:
  pipeline::Status failure(std::string_view step, const std::error_code& error) const {
    return std::unexpected(tree_.describe_failure(step, target_, error));
  }

  pipeline::task<pipeline::Status> open() {
    if (!target_.empty() && !OutputTree::stays_inside(target_)) {
      co_return std::unexpected(pipeline::Failure{
          fmt::format("output path '{}' would leave {}", target_, tree_.dir().string())});
    }
    if (!target_.empty()) {
      if (auto made = co_await tree_.make_parents(runtime_.ring, target_); !made) co_return made;
    }
    // A target named after the digest lives at the top: its temporary does too.
    temp_ =
        tree_.temp_path_for(target_.empty() ? std::string_view("x") : std::string_view(target_));
    // RESOLVE_BENEATH: a symlinked directory in the output tree cannot send the file elsewhere.
    auto opened = co_await io::OpenAt2(runtime_.ring, tree_.fd(), temp_.c_str(),
                                       O_WRONLY | O_CREAT | O_EXCL, mode_, RESOLVE_BENEATH);
    if (!opened) {
      temp_.clear();
      co_return failure("create", opened.error());
    }
    fd_ = *opened;
    co_return pipeline::Status{};
  }

  // Closes and removes the temporary file unless it was renamed into place.
  pipeline::task<void> discard() {
    if (fd_ >= 0) co_await close();
    if (!temp_.empty() && !renamed_)
      (void)co_await io::UnlinkAt(runtime_.ring, tree_.fd(), temp_.c_str());
    temp_.clear();
  }

  pipeline::task<void> close() { (void)co_await io::Close(runtime_.ring, std::exchange(fd_, -1)); }

  OutputTree& tree_;
  TreeFileWriterOptions options_;
  pipeline::Runtime& runtime_;
  std::string target_;  // relative to the tree
  std::string temp_;
  mode_t mode_;
  std::int64_t mtime_ns_;
  int fd_ = -1;
  bool renamed_ = false;
  pipeline::Status written_;  // the first failed write
  pipeline::InOrder<WriteSlot, TreeFileWriter> writes_;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace

std::unique_ptr<pipeline::FileStage> make_tree_file_writer(OutputTree& tree,
                                                           TreeFileWriterOptions options,
                                                           const pipeline::FileInfo& file,
                                                           pipeline::Runtime& runtime) {
  return std::make_unique<TreeFileWriter>(tree, std::move(options), file, runtime);
}

}  // namespace piperun::stages

#include "pipeline/file_flow.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>

#include "pipeline/stage_chain.hpp"

namespace piperun::pipeline {
namespace {

// O_DIRECT transfers must be multiples of the logical block size; 4 KiB covers every device
// we meet, and our buffers are page-aligned multiples of it.
constexpr std::uint64_t kDirectAlign = 4096;

FileRecord record_for(const FileEntry& entry) {
  FileRecord record;
  record.rel_path = entry.rel_path;
  record.kind = kind_name(entry.mode);
  record.size = entry.size;
  record.mode = entry.mode;
  record.mtime_ns = entry.mtime_ns;
  return record;
}

std::string describe(const char* step, const std::error_code& error) {
  return std::string(step) + ": " + error.message();
}

// What tells that a file changed while it was read, as GNU tar's "file changed as we read it"
// judges: a write moves mtime and ctime even when it keeps the size.
struct Version {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
};

// "changed while being read (mtime, ctime)": names what moved, for the manifest.
std::optional<std::string> describe_change(const Version& before, const Version& after) {
  std::string moved;
  const auto note = [&moved](bool differs, const char* what) {
    if (!differs) return;
    if (!moved.empty()) moved += ", ";
    moved += what;
  };
  note(before.size != after.size, "size");
  note(before.mtime_ns != after.mtime_ns, "mtime");
  note(before.ctime_ns != after.ctime_ns, "ctime");
  if (moved.empty()) return std::nullopt;
  return "changed while being read (" + moved + ")";
}

// The file is done with (or failed): wait for every read still in the window, because until
// its completion arrives the buffer is still the kernel's.
task<void> drain_window(FlowShared* shared, std::span<ReadSlot> window, std::size_t head,
                        std::size_t count) {
  for (; count > 0; --count, head = (head + 1) % window.size()) {
    ReadSlot& slot = window[head];
    (void)co_await slot.op;
    --shared->reads_in_flight;
    slot.lease.release();
  }
}

}  // namespace

std::string kind_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFLNK:
      return "symlink";
    case S_IFDIR:
      return "directory";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "char-device";
    case S_IFBLK:
      return "block-device";
    default:
      return "unknown";
  }
}

task<FileRecord> process_file(FlowShared* shared, std::span<ReadSlot> window, FileEntry entry) {
  FileRecord record = record_for(entry);
  switch (entry.kind) {
    case EntryKind::regular:
      break;
    case EntryKind::symlink:
      record.kind = "symlink";
      record.status = FileStatus::skipped;
      record.symlink_target = entry.symlink_target;
      record.error = "symlink not followed";
      co_return record;
    case EntryKind::special:
      record.status = FileStatus::skipped;
      record.error = "skipped: " + entry.message;
      co_return record;
    case EntryKind::error:
      record.status = FileStatus::failed;
      record.error = entry.message;
      co_return record;
  }

  io::Ring& ring = shared->runtime.ring;
  FlowPlace place(shared->live);
  constexpr std::size_t kInput = LiveProgress::kInput;
  int open_flags = O_RDONLY | (shared->follow_symlinks ? 0 : O_NOFOLLOW);
  bool direct = shared->direct_io;
  auto opened = co_await placed(
      place, kInput,
      io::OpenAt(ring, AT_FDCWD, entry.abs_path.c_str(), open_flags | (direct ? O_DIRECT : 0)));
  if (!opened && direct && opened.error().value() == EINVAL) {
    // This filesystem refuses O_DIRECT (tmpfs, some FUSE): read through the page cache.
    direct = false;
    opened = co_await placed(place, kInput,
                             io::OpenAt(ring, AT_FDCWD, entry.abs_path.c_str(), open_flags));
  }
  if (!opened) {
    record.status = FileStatus::failed;
    record.error = describe("open", opened.error());
    co_return record;
  }
  const int fd = *opened;

  io::BufferPool& pool = shared->runtime.buffers;
  const std::size_t chunk_bytes = pool.buffer_bytes();
  // A file that fits one read skips the statx: the walker's, taken a moment ago, stands, and
  // the read asks for one byte more than that size, so a file that changed size since is still
  // caught. statx goes through an io-wq worker, the costliest step of a small file. Larger
  // files are stat'ed on the open descriptor.
  const bool single_read = !direct && entry.size < chunk_bytes;
  Status status;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t ctime_ns = 0;
  Version before{entry.size, entry.mtime_ns, entry.ctime_ns};
  struct statx stat {};
  if (!single_read) {
    auto stated = co_await placed(
        place, kInput,
        io::Statx(ring, fd, "", AT_EMPTY_PATH,
                  STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_MTIME | STATX_INO | STATX_CTIME,
                  &stat));
    if (!stated) {
      status = std::unexpected(Failure{describe("statx", stated.error())});
    } else if (!S_ISREG(stat.stx_mode)) {
      // Replaced by something else between the walk and the open.
      status = std::unexpected(Failure{"no longer a regular file"});
    } else {
      record.size = stat.stx_size;
      record.mode = stat.stx_mode;
      record.mtime_ns = io::nanoseconds(stat.stx_mtime);
      device = (std::uint64_t{stat.stx_dev_major} << 32) | stat.stx_dev_minor;
      inode = stat.stx_ino;
      ctime_ns = io::nanoseconds(stat.stx_ctime);
      before = Version{record.size, record.mtime_ns, ctime_ns};
    }
  }

  std::unique_ptr<StageChain> chain;
  std::uint64_t delivered = 0;
  if (status) {
    const FileInfo info{record.rel_path, record.size, record.mode, record.mtime_ns,
                        &delivered,      device,      inode,       ctime_ns};
    chain = StageChain::build(shared->stages, info, shared->runtime, &place);
    status = co_await chain->prepare();
  }

  const std::uint64_t size = record.size;
  // The read of a single-read file asks for size + 1 bytes.
  const io::BufferSize buffer_size =
      single_read && size < pool.small_slot_bytes() ? io::BufferSize::small : io::BufferSize::chunk;
  std::uint64_t next_offset = 0;
  bool read_issued = false;
  std::size_t head = 0;
  std::size_t count = 0;
  while (status) {
    if (shared->stop_requested) {
      status = std::unexpected(Failure{std::string(kInterrupted)});
      break;
    }
    // Keep the window full. Only an empty window waits for a buffer: a flow that holds one can
    // always make progress, so flows never wait on each other in a cycle.
    while (count < window.size() && (next_offset < size || (single_read && !read_issued))) {
      io::BufferLease lease;
      if (count == 0) {
        lease = co_await pool.acquire(buffer_size);
      } else if (shared->reads_in_flight < shared->max_reads_in_flight) {
        lease = pool.try_acquire(buffer_size);
      }
      if (!lease) break;
      ReadSlot& slot = window[(head + count) % window.size()];
      slot.lease = std::move(lease);
      slot.offset = next_offset;
      slot.length =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, size - next_offset));
      std::size_t request = slot.length;
      if (direct) {
        request =
            static_cast<std::size_t>((request + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
      } else if (single_read) {
        request += 1;  // the byte that tells a grown file
      }
      slot.op.start(ring, io::TransferOp::Direction::read, fd, slot.lease.bytes().first(request),
                    slot.offset, slot.lease.registered_index(), direct || single_read,
                    request >= shared->async_read_bytes);
      read_issued = true;
      ++shared->reads_in_flight;
      next_offset += slot.length;
      ++count;
    }
    if (count == 0) break;

    ReadSlot& slot = window[head];
    auto read = co_await placed(place, kInput, slot.op);
    --shared->reads_in_flight;
    head = (head + 1) % window.size();
    --count;
    if (!read) {
      status = std::unexpected(Failure{describe("read", read.error())});
    } else if (*read < slot.length) {
      status = std::unexpected(Failure{"file shrank while being read"});
    } else if (*read > slot.length) {
      status = std::unexpected(Failure{"file grew while being read"});
    } else {
      shared->bytes_in += slot.length;
      if (shared->live != nullptr) shared->live->count_bytes(kInput, slot.length);
      delivered += slot.length;
      const Chunk chunk{slot.offset, slot.lease.bytes().first(slot.length), &slot.lease,
                        slot.length};
      status = co_await chain->on_chunk(chunk);
    }
    slot.lease.release();
  }
  co_await drain_window(shared, window, head, count);

  // Stat again before the outputs are committed: bytes read while a writer was at work (in
  // place, same size) must never be recorded as the file's. A file read in one go compares with
  // the walker's stat. The ring hands every statx to an io-wq worker, which cost 20% on 20,000
  // small files; on a local disk the stat of an open file only reads its in-memory inode, so
  // there small files ask directly.
  if (status) {
    constexpr unsigned kMask = STATX_SIZE | STATX_MTIME | STATX_CTIME;
    std::expected<void, std::error_code> stated;
    if (single_read && entry.local_disk) {
      if (::statx(fd, "", AT_EMPTY_PATH, kMask, &stat) != 0)
        stated = std::unexpected(std::error_code(errno, std::system_category()));
    } else {
      stated = co_await placed(place, kInput, io::Statx(ring, fd, "", AT_EMPTY_PATH, kMask, &stat));
    }
    if (!stated) {
      status = std::unexpected(Failure{describe("statx", stated.error())});
    } else if (auto change =
                   describe_change(before, Version{stat.stx_size, io::nanoseconds(stat.stx_mtime),
                                                   io::nanoseconds(stat.stx_ctime)})) {
      status = std::unexpected(Failure{std::move(*change)});
    }
  }
  if (status) status = co_await chain->finish(record);
  if (!status && chain) co_await chain->abort();
  chain.reset();
  (void)co_await placed(place, kInput, io::Close(ring, fd));

  if (!status) {
    record.status = FileStatus::failed;
    record.error = std::move(status.error().message);
    record.digests.clear();
    record.compressed_size.reset();
    record.output_path.clear();
  }
  co_return record;
}

}  // namespace piperun::pipeline

// The stage interface: how pipeline/ sees hash, compress, write and upload without knowing them.
//
// For every file the engine asks each stage for a FileStage, feeds it the file's chunks in file
// order, then asks it to finish (or aborts it when the file failed). Everything here runs on the
// I/O thread; a stage that needs CPU time co_awaits runtime.cpu.offload(...).
// Chains: hash -> compress -> write -> upload. A transforming stage (compress) owns the stages
// after it and feeds them its own chunks (pipeline/stage_chain.hpp builds this).
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "io/buffer_pool.hpp"
#include "io/ring.hpp"
#include "pipeline/file_record.hpp"
#include "pipeline/offload.hpp"
#include "pipeline/task.hpp"

namespace piperun::pipeline {

// Why a file failed, for the manifest and stderr ("read: Input/output error").
struct Failure {
  std::string message;
};
using Status = std::expected<void, Failure>;

struct Runtime {
  io::Ring& ring;
  CpuPool& cpu;
  io::BufferPool& buffers;
  // Buffers for what stages produce (compressed frames), apart from the read buffers, so a
  // stage that waits for one never waits on the reads that wait on it. Null when no stage
  // asked for them (Stage::output_buffer_bytes).
  io::BufferPool* output_buffers = nullptr;
  // Progress events for -v (e.g. a multipart upload's parts); empty when nobody listens.
  std::function<void(std::string_view)> event;
};

struct FileInfo {
  const std::string& rel_path;
  std::uint64_t size;
  mode_t mode;
  std::int64_t mtime_ns;
  // Input bytes handed to the chain so far; the file flow keeps it up to date.
  const std::uint64_t* bytes_read = nullptr;
  // Who the file is, from statx; 0 when not asked (files read in one go skip the statx).
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t ctime_ns = 0;
};

struct Chunk {
  std::uint64_t offset;  // in the stream this stage receives (compressed, after compress)
  std::span<const std::byte> bytes;
  // The buffer holding `bytes`, given only to the last stage of a chain: it may move the lease
  // out to keep the bytes after on_chunk returns (a write in flight, a frame being compressed);
  // otherwise the caller reuses the buffer. Null for the others, which must be done with the
  // bytes when on_chunk returns.
  io::BufferLease* lease;
  // Bytes of the input file these bytes stand for (a compressed frame: its input chunk's), so
  // progress counts the input bytes that went through the whole chain.
  std::uint64_t source_bytes = 0;
};

class FileStage {
 public:
  virtual ~FileStage() = default;
  // Before the file's first read: wait for what the stage must hold for the whole file (the
  // upload's buffer for a one-PUT object). Waiting here holds no read buffer, so a file that
  // holds such memory and needs reads never waits on files that hold reads and need memory.
  virtual task<Status> prepare() { co_return Status{}; }
  // Called once per chunk, in file order; the next call comes only after this one is done.
  virtual task<Status> on_chunk(Chunk chunk) = 0;
  // Every chunk was delivered: complete the work and add results to `record`.
  virtual task<Status> finish(FileRecord& record) = 0;
  // The file failed or the run stops: wait for what is in flight and leave nothing behind (no
  // partial output). Called instead of finish, or after a finish that failed.
  virtual task<void> abort() { co_return; }
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const noexcept = 0;

  // A transforming stage (compress) passes other bytes on: it gets the stages after it as
  // `downstream` and feeds them itself. The others get null and see the chunks the chain sees.
  virtual bool transforms() const noexcept { return false; }
  virtual std::unique_ptr<FileStage> begin(const FileInfo& file, Runtime& runtime,
                                           std::unique_ptr<FileStage> downstream) = 0;

  // Bytes of Runtime::output_buffers this stage needs to hold its output for one input chunk
  // of `chunk_bytes`; 0 when it produces none.
  virtual std::size_t output_buffer_bytes(std::size_t /*chunk_bytes*/) const noexcept { return 0; }
  // Before the first file, before the loop runs (it may block): claim and prepare outputs.
  virtual std::expected<void, std::string> open_run() { return {}; }
  // After the last file of a run that completed (not interrupted), before the manifest is
  // written: make the outputs durable. The error names what failed.
  virtual task<Status> finish_run(Runtime& /*runtime*/) { co_return Status{}; }
  // After the last file of every run that started (completed or not), while the ring still
  // runs: let go of what lives on it (connections, timers).
  virtual task<void> close_run(Runtime& /*runtime*/) { co_return; }
  // Resume (pipeline/resume_index.hpp): whether what this stage made of `previous`, a file that
  // is unchanged since an earlier run recorded it as done, is still in place, so that the file
  // need not be read again. Stages whose work does not outlive the run (hash, compress) hold.
  virtual task<bool> outputs_hold(const FileRecord& /*previous*/, Runtime& /*runtime*/) {
    co_return true;
  }
  // Bytes of memory_limit this stage keeps for buffers of its own; the pools get the rest.
  virtual std::uint64_t reserved_memory() const noexcept { return 0; }
};

}  // namespace piperun::pipeline

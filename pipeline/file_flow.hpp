// The life of one file: open, statx, chunk reads with a read-ahead window, the stage chain in
// file order, close. Runs on the I/O thread; many file flows run at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "io/buffer_pool.hpp"
#include "io/ops.hpp"
#include "pipeline/file_entry.hpp"
#include "pipeline/file_record.hpp"
#include "pipeline/live_progress.hpp"
#include "pipeline/stage.hpp"
#include "pipeline/task.hpp"

namespace piperun::pipeline {

// Shared by every file flow of a run. I/O thread only.
struct FlowShared {
  Runtime runtime;
  std::span<const std::unique_ptr<Stage>> stages;
  bool direct_io = false;
  bool follow_symlinks = false;
  unsigned max_reads_in_flight = 64;  // queue_depth
  // Reads of at least this size go to io-wq workers (IOSQE_ASYNC), so cached data is copied on
  // the other cores while this thread goes on; smaller ones are cheaper inline. Measured on
  // 20,000 small files: 16 KiB gave 115k files/s, 1 MiB 100k, 0 (all async) 104k.
  std::size_t async_read_bytes = 16 * 1024;
  unsigned reads_in_flight = 0;
  bool stop_requested = false;  // interrupted: abandon files in the middle
  std::uint64_t bytes_in = 0;
  LiveProgress* live = nullptr;  // what a progress display samples; null: nobody
};

// One read of the window: the buffer it fills and the operation filling it.
struct ReadSlot {
  io::BufferLease lease;
  io::TransferOp op;
  std::uint64_t offset = 0;
  std::size_t length = 0;  // bytes expected (the file's size decides)
};

// The error of a file abandoned because of FlowShared::stop_requested.
inline constexpr std::string_view kInterrupted = "interrupted";

// `window` is the caller's slot storage, reused from file to file (its size bounds the
// read-ahead). The record says whether the file was processed, skipped or failed.
task<FileRecord> process_file(FlowShared* shared, std::span<ReadSlot> window, FileEntry entry);

std::string kind_name(mode_t mode);

}  // namespace piperun::pipeline

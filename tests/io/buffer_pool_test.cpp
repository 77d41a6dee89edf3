// The buffer pool: leases, registration, and backpressure.
#include "io/buffer_pool.hpp"

#include <fcntl.h>
#include <set>
#include <unistd.h>

#include <gtest/gtest.h>

#include "io/ops.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"
#include "support/reads_expected_bytes.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ring.hpp"

namespace piperun::io {
namespace {

using piperun::testing::make_ring;

using pipeline::spawn;
using pipeline::task;

std::unique_ptr<BufferPool> make_pool(Ring& ring, BufferPool::Options options) {
  auto pool = BufferPool::create(ring, options);
  EXPECT_TRUE(pool.has_value());
  return std::move(*pool);
}

std::unique_ptr<BufferPool> make_pool(Ring& ring, std::size_t count, bool register_buffers = true) {
  BufferPool::Options options;
  options.buffer_bytes = 64 * 1024;
  options.count = count;
  options.register_with_ring = register_buffers;
  return make_pool(ring, options);
}

TEST(BufferPool, LendsDistinctPageAlignedBuffers) {
  auto ring = make_ring();
  auto pool = make_pool(*ring, 4);
  std::vector<BufferLease> leases;
  std::set<std::byte*> seen;
  for (int i = 0; i < 4; ++i) {
    leases.push_back(pool->try_acquire());
    ASSERT_TRUE(leases.back());
    auto bytes = leases.back().bytes();
    EXPECT_EQ(bytes.size(), 64u * 1024);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes.data()) % 4096, 0u);
    seen.insert(bytes.data());
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_FALSE(pool->try_acquire()) << "an empty pool must not lend more than it has";
  EXPECT_EQ(pool->available(), 0u);
  leases.pop_back();
  EXPECT_EQ(pool->available(), 1u);
}

TEST(BufferPool, RejectsSizesThatAreNotPageMultiples) {
  auto ring = make_ring();
  BufferPool::Options options;
  options.buffer_bytes = 1000;
  EXPECT_FALSE(BufferPool::create(*ring, options).has_value());
}

task<void> hold_one(BufferPool* pool, int* holding, int* peak, int* finished, Ring* ring) {
  BufferLease lease = co_await pool->acquire();
  ++*holding;
  *peak = std::max(*peak, *holding);
  co_await Timeout(*ring, std::chrono::milliseconds(2));
  --*holding;
  ++*finished;
}

TEST(BufferPool, ReadersWaitForABufferInsteadOfAllocating) {
  auto ring = make_ring();
  auto pool = make_pool(*ring, 2);
  int holding = 0;
  int peak = 0;
  int finished = 0;
  for (int i = 0; i < 10; ++i)
    spawn(hold_one(pool.get(), &holding, &peak, &finished, ring.get()));
  EXPECT_EQ(holding, 2) << "two got a buffer at once";
  EXPECT_EQ(pool->waiters(), 8u) << "the other eight wait";
  ring->run_until([&] { return finished == 10; });
  EXPECT_EQ(peak, 2) << "never more leases than buffers";
  EXPECT_EQ(pool->available(), 2u);
}

task<std::string> read_into_lease(Ring* ring, BufferPool* pool, int fd, std::size_t length,
                                  int* used_index) {
  BufferLease lease = co_await pool->acquire();
  *used_index = lease.registered_index();
  TransferOp op;
  op.start(*ring, TransferOp::Direction::read, fd, lease.bytes().first(length), 0,
           lease.registered_index());
  auto bytes = co_await op;
  if (!bytes) co_return std::string("error: ") + bytes.error().message();
  co_return std::string(reinterpret_cast<const char*>(lease.bytes().data()), *bytes);
}

class BufferPoolRead : public ::testing::TestWithParam<bool> {};

TEST_P(BufferPoolRead, FixedAndPlainBuffersReadTheSameBytes) {
  const bool register_buffers = GetParam();
  testing::TempDir dir;
  std::string contents(50'000, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i)
    contents[i] = static_cast<char>(i * 7);
  const auto file = dir.write("f.bin", contents);
  auto ring = make_ring();
  auto pool = make_pool(*ring, 3, register_buffers);
  if (register_buffers) {
    EXPECT_GT(pool->registered_count(), 0u) << "64 KiB buffers fit in any RLIMIT_MEMLOCK";
  } else {
    EXPECT_EQ(pool->registered_count(), 0u);
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  int used_index = -2;
  auto read = pipeline::sync_wait(
      *ring, read_into_lease(ring.get(), pool.get(), fd, contents.size(), &used_index));
  EXPECT_EQ(read, contents);
  EXPECT_EQ(used_index >= 0, register_buffers);
  ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Registration, BufferPoolRead, ::testing::Bool());

// Only the first max_registered buffers are pinned; they are the ones handed out first, and a
// buffer past them still reads, without a registered index.
TEST(BufferPool, RegistersOnlyTheBuffersARunHoldsFirst) {
  testing::TempDir dir;
  const std::string contents(10'000, 'r');
  const auto file = dir.write("f.bin", contents);
  auto ring = make_ring();
  BufferPool::Options options;
  options.buffer_bytes = 64 * 1024;
  options.count = 5;
  options.max_registered = 2;
  auto pool = make_pool(*ring, options);
  EXPECT_EQ(pool->registered_count(), 2u);
  std::vector<BufferLease> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(pool->try_acquire());
    EXPECT_GE(held.back().registered_index(), 0) << "registered buffers go out first";
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  int used_index = -2;
  auto read = pipeline::sync_wait(
      *ring, read_into_lease(ring.get(), pool.get(), fd, contents.size(), &used_index));
  EXPECT_EQ(read, contents);
  EXPECT_EQ(used_index, -1) << "the third buffer is not registered";
  ::close(fd);
  held.pop_back();
  EXPECT_GE(pool->try_acquire().registered_index(), 0) << "the last freed goes out again first";
}

// ---- Registration in the background ----

task<int> registered_index_of_first_lease(BufferPool* pool) {
  BufferLease lease = co_await pool->acquire();
  co_return lease.registered_index();
}

// 1 MiB buffers: batches of 2, then 4 (the first batch is 2 MiB, then they double).
BufferPool::Options background_options() {
  BufferPool::Options options;
  options.buffer_bytes = 1u << 20;
  options.count = 10;
  options.max_registered = 7;
  options.fill_in_background = true;
  return options;
}

// Every buffer, read into: a registered index must name a registered buffer.
void expect_every_lease_reads(Ring& ring, BufferPool& pool, std::size_t registered_first) {
  testing::TempDir dir;
  std::string contents(30'000, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i)
    contents[i] = static_cast<char>(i * 13);
  const auto file = dir.write("f.bin", contents);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<BufferLease> leases;
  while (BufferLease lease = pool.try_acquire())
    leases.push_back(std::move(lease));
  ASSERT_EQ(leases.size(), pool.capacity());
  for (std::size_t i = 0; i < leases.size(); ++i) {
    EXPECT_EQ(leases[i].registered_index() >= 0, i < registered_first)
        << "lease " << i << ": the registered buffers go out first";
    EXPECT_TRUE(
        pipeline::sync_wait(ring, testing::reads_expected_bytes(&ring, &leases[i], fd, contents)))
        << "lease " << i << " (registered index " << leases[i].registered_index() << ")";
  }
  ::close(fd);
}

TEST(BufferPoolFill, LendsEachBatchOnceRegisteredThenTheRest) {
  auto ring = make_ring();
  auto pool = make_pool(*ring, background_options());
  EXPECT_FALSE(pool->filled());
  EXPECT_EQ(pool->available(), 0u) << "no buffer is lent before its batch is registered";
  EXPECT_FALSE(pool->try_acquire());
  EXPECT_GE(pipeline::sync_wait(*ring, registered_index_of_first_lease(pool.get())), 0)
      << "a reader waits for the first batch rather than take an unregistered buffer";
  ring->run_until([&] { return pool->filled(); });
  // 7 as root; fewer where RLIMIT_MEMLOCK allows less (an unprivileged user of 8 MiB: 4).
  EXPECT_GT(pool->registered_count(), 0u);
  EXPECT_LE(pool->registered_count(), 7u);
  EXPECT_EQ(pool->available(), 10u);
  expect_every_lease_reads(*ring, *pool, pool->registered_count());
}

// A batch that is cancelled (or cannot be registered) ends the fill: every buffer is lent,
// those past the registered ones as plain buffers.
TEST(BufferPoolFill, ACancelledFillStillLendsEveryBuffer) {
  auto ring = make_ring();
  auto pool = make_pool(*ring, background_options());
  ring->cancel_all();
  ring->run_until([&] { return pool->filled(); });
  EXPECT_EQ(pool->available(), 10u);
  EXPECT_LE(pool->registered_count(), 7u);
  expect_every_lease_reads(*ring, *pool, pool->registered_count());
}

TEST(BufferPoolFill, APoolDestroyedWhileFillingWaitsForItsBatch) {
  auto ring = make_ring();
  const unsigned idle = ring->in_flight();  // the ring's own wake-up read
  auto pool = make_pool(*ring, background_options());
  ring->step(false);  // the first batch goes to the kernel
  EXPECT_FALSE(pool->filled());
  EXPECT_EQ(ring->in_flight(), idle + 1);
  pool.reset();
  EXPECT_EQ(ring->in_flight(), idle)
      << "the batch must complete before its pool is freed (ASan: a use after free)";
}

}  // namespace
}  // namespace piperun::io

namespace piperun::io {
namespace {

std::unique_ptr<BufferPool> make_pool_with_slots(Ring& ring, std::size_t count, std::size_t slots) {
  BufferPool::Options options;
  options.buffer_bytes = 256 * 1024;
  options.count = count;
  options.small_slot_bytes = 64 * 1024;
  options.small_slots = slots;
  options.register_with_ring = false;
  return make_pool(ring, options);
}

TEST(BufferPoolSlots, SmallSlotsComeFromWholeBuffersOfTheSameMemory) {
  auto ring = make_ring();
  auto pool = make_pool_with_slots(*ring, 4, 6);  // 6 slots of 64 KiB need 2 of 4 buffers
  EXPECT_EQ(pool->capacity(), 2u);
  EXPECT_EQ(pool->small_capacity(), 8u) << "whole buffers are carved, so 8 slots";
  std::vector<BufferLease> slots;
  std::set<std::byte*> seen;
  while (BufferLease slot = pool->try_acquire(BufferSize::small)) {
    EXPECT_EQ(slot.bytes().size(), 64u * 1024);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(slot.bytes().data()) % 4096, 0u);
    seen.insert(slot.bytes().data());
    slots.push_back(std::move(slot));
  }
  EXPECT_EQ(slots.size(), 8u);
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(pool->available(), 2u) << "slots never take whole buffers";
  BufferLease whole = pool->try_acquire(BufferSize::chunk);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole.bytes().size(), 256u * 1024);
  for (std::byte* slot : seen) {
    EXPECT_TRUE(slot + 64 * 1024 <= whole.bytes().data() ||
                slot >= whole.bytes().data() + 256 * 1024)
        << "a slot overlaps a whole buffer";
  }
}

TEST(BufferPoolSlots, SmallWaitersWaitForSlots) {
  auto ring = make_ring();
  auto pool = make_pool_with_slots(*ring, 3, 4);  // 1 buffer of 4 slots, 2 whole buffers
  std::vector<BufferLease> slots;
  while (BufferLease slot = pool->try_acquire(BufferSize::small))
    slots.push_back(std::move(slot));
  ASSERT_EQ(slots.size(), 4u);
  bool got = false;
  auto wait_for_slot = [](BufferPool* p, bool* done) -> task<void> {
    BufferLease slot = co_await p->acquire(BufferSize::small);
    *done = slot.bytes().size() == 64u * 1024;
  };
  spawn(wait_for_slot(pool.get(), &got));
  EXPECT_FALSE(got);
  EXPECT_EQ(pool->waiters(), 1u);
  BufferLease whole = pool->try_acquire(BufferSize::chunk);
  EXPECT_TRUE(whole) << "whole buffers stay available to chunk readers";
  whole.release();
  EXPECT_FALSE(got) << "a whole buffer does not go to a slot waiter";
  slots.pop_back();
  ring->run_until([&] { return got; });
  EXPECT_TRUE(got);
}

TEST(BufferPoolSlots, SlotsThatDoNotDivideABufferNeverStraddleTwo) {
  // Buffers of compressBound(chunk) bytes are not a multiple of their slots' size.
  auto ring = make_ring();
  BufferPool::Options options;
  options.buffer_bytes = 100 * 4096;
  options.count = 4;
  options.small_slot_bytes = 17 * 4096;  // 5 slots per buffer, 15 pages left over
  options.small_slots = 7;
  options.register_with_ring = false;
  auto pool = make_pool(*ring, options);
  EXPECT_EQ(pool->small_capacity(), 10u) << "two buffers of 5 slots hold 7";
  EXPECT_EQ(pool->capacity(), 2u);
  std::vector<BufferLease> wholes;
  while (BufferLease whole = pool->try_acquire(BufferSize::chunk))
    wholes.push_back(std::move(whole));
  ASSERT_EQ(wholes.size(), 2u);
  const std::byte* region = std::min(wholes[0].bytes().data(), wholes[1].bytes().data());
  std::set<const std::byte*> seen;
  while (BufferLease slot = pool->try_acquire(BufferSize::small)) {
    ASSERT_EQ(slot.bytes().size(), 17u * 4096);
    const auto offset = static_cast<std::size_t>(slot.bytes().data() - region);
    EXPECT_GE(offset, 2 * options.buffer_bytes) << "a slot overlaps a whole buffer";
    EXPECT_EQ(offset / options.buffer_bytes,
              (offset + slot.bytes().size() - 1) / options.buffer_bytes)
        << "a slot straddles two buffers at offset " << offset;
    EXPECT_TRUE(seen.insert(slot.bytes().data()).second);
    wholes.push_back(std::move(slot));
  }
  EXPECT_EQ(seen.size(), 10u);
}

}  // namespace
}  // namespace piperun::io

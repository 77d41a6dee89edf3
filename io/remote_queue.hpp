// Hand-off of coroutines from other threads (TBB workers, the walker) to the I/O thread.
// Producers push with a CAS on an intrusive stack; the single consumer takes the whole stack
// with one exchange, so there is no ABA problem and no allocation: the node lives in the
// awaiting coroutine's frame.
#pragma once

#include <atomic>
#include <coroutine>

namespace piperun::io {

struct RemoteWork {
  RemoteWork* next = nullptr;
  std::coroutine_handle<> handle;
};

class RemoteQueue {
 public:
  // Any thread. After this returns, `work` belongs to the consumer: do not touch it again.
  void push(RemoteWork& work) noexcept {
    RemoteWork* head = head_.load(std::memory_order_relaxed);
    do {
      work.next = head;
    } while (!head_.compare_exchange_weak(head, &work, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  }

  // Consumer thread: everything pushed so far, oldest first.
  RemoteWork* take_all() noexcept {
    RemoteWork* lifo = head_.exchange(nullptr, std::memory_order_acquire);
    RemoteWork* fifo = nullptr;
    while (lifo != nullptr) {
      RemoteWork* next = lifo->next;
      lifo->next = fifo;
      fifo = lifo;
      lifo = next;
    }
    return fifo;
  }

  bool empty() const noexcept { return head_.load(std::memory_order_seq_cst) == nullptr; }

 private:
  std::atomic<RemoteWork*> head_{nullptr};
};

}  // namespace piperun::io

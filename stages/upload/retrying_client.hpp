// Requests to a store, retried: on connection errors, timeouts, 5xx, 429 and S3's SlowDown or
// RequestTimeout, at most `retries` more times, after an exponential backoff with full jitter
// (retries of many clients spread out instead of arriving together).
// Every request first takes a slot from the Throttle, which narrows while the server throttles.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "io/http_client.hpp"
#include "io/ops.hpp"
#include "pipeline/task.hpp"
#include "stages/upload/throttle.hpp"

namespace piperun::stages::upload {

struct RetryPolicy {
  unsigned retries = 5;
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{10000};
};

enum class Verdict { answered, retry, throttled };

// Whether an answer is final (success or an error retrying cannot fix) or worth another try.
Verdict judge(const io::HttpResponse& response);

class RetryingClient {
 public:
  RetryingClient(io::Ring& ring, io::HttpClient& http, Throttle& throttle, RetryPolicy policy)
      : ring_(ring),
        http_(http),
        throttle_(throttle),
        policy_(policy),
        random_(std::random_device{}()) {}

  io::HttpClient& http() noexcept { return http_; }

  // `make()` builds the request of each attempt (a fresh date and signature). Returns the last
  // answer; `attempts` counts the requests sent.
  template <class Make>
  pipeline::task<io::HttpResponse> perform(Make make, unsigned& attempts) {
    for (unsigned attempt = 0;; ++attempt) {
      co_await throttle_.acquire();
      ++attempts;
      io::HttpResponse response = co_await http_.perform(make());
      const Verdict verdict = judge(response);
      throttle_.release(verdict == Verdict::throttled);
      if (verdict == Verdict::answered || attempt >= policy_.retries) co_return response;
      (void)co_await io::Timeout(ring_, backoff(attempt));
    }
  }

 private:
  std::chrono::milliseconds backoff(unsigned attempt) {
    const auto ceiling =
        std::min<std::int64_t>(policy_.cap.count(), policy_.base.count() << std::min(attempt, 20u));
    return std::chrono::milliseconds(
        std::uniform_int_distribution<std::int64_t>(ceiling / 4, ceiling)(random_));
  }

  io::Ring& ring_;
  io::HttpClient& http_;
  Throttle& throttle_;
  RetryPolicy policy_;
  std::minstd_rand random_;
};

}  // namespace piperun::stages::upload

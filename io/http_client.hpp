// HTTP transfers driven by the ring: libcurl's multi-socket interface, with curl's socket
// readiness as io_uring poll operations and its timer as an io_uring timeout. There is no second
// event loop and no thread blocked in a transfer: `co_await client.perform(request)` suspends
// the coroutine until curl reports the transfer done, on the I/O thread.
//
// Threading: everything here runs on the I/O thread that owns the Ring.
// Lifetimes: a Transfer lives in the awaiting coroutine's frame; the request's body must stay
// valid until the transfer resumes. The client must be destroyed before its Ring, and after
// every transfer has resumed.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "io/ring.hpp"

typedef void CURL;  // NOLINT: as curl.h declares it, without including curl.h everywhere

namespace piperun::io {

struct HttpClientOptions {
  unsigned max_connections = 16;                   // transfers at once; curl queues the rest
  std::chrono::milliseconds stall_timeout{60000};  // a transfer making no progress this long fails
  std::uint64_t max_send_speed = 0;  // bytes per second, all transfers together; 0 = no limit
  std::string ca_bundle;             // CA certificates (PEM) for TLS; empty = the system's
  std::string user_password;         // "user:password" for HTTP basic auth
  bool netrc = false;                // else ~/.netrc's entry for the host, if any
};

// Takes a response body as it arrives, in pieces of at most CURL_MAX_WRITE_SIZE (16 KiB), so a
// large download (GET of an object) is never held whole. Called on the I/O thread, only for
// answers with a 2xx status; other answers keep their (error) body in HttpResponse::body. It
// cannot stop the transfer: a sink that found what it needed to know ignores the rest.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void consume(std::span<const std::byte> bytes) = 0;
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Sent as the request body (PUT, POST); must outlive the transfer.
  std::span<const std::byte> body;
  // Where a 2xx answer's body goes instead of HttpResponse::body; null: kept there. Must outlive
  // the transfer.
  BodySink* sink = nullptr;
};

struct HttpResponse {
  // The HTTP status; 0 when no answer came (then `transport_error` says why).
  long status = 0;
  std::string transport_error;
  bool timed_out = false;  // the transport error is a timeout
  // Names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // at most HttpClient::kMaxBody bytes kept; empty when a sink took it

  // The first header of that name (lower case), or empty.
  std::string_view header(std::string_view name) const;
};

class HttpClient {
 public:
  static constexpr std::size_t kMaxBody = 1 << 20;

  static std::expected<std::unique_ptr<HttpClient>, std::string> create(
      Ring& ring, const HttpClientOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  class Transfer;
  Transfer perform(HttpRequest request);

  // Transfers started and not yet resumed.
  unsigned active() const noexcept { return active_; }

 private:
  struct SocketWatch;
  struct TimerOp;
  struct RefillOp;
  struct Callbacks;

  HttpClient(Ring& ring, HttpClientOptions options);
  void start(Transfer& transfer);
  void finish(Transfer& transfer);  // hands the transfer back to its coroutine
  void act(int fd, int events);     // curl_multi_socket_action, then collect what finished
  void collect_done();
  // Bandwidth: bytes a read callback may hand curl now; 0 pauses the transfer until refilled.
  std::size_t take_tokens(Transfer& transfer, std::size_t wanted);
  void resume_paused();
  CURL* take_easy();
  void give_back(CURL* easy);

  Ring& ring_;
  HttpClientOptions options_;
  void* multi_ = nullptr;  // CURLM*
  std::vector<CURL*> idle_easy_;
  unsigned active_ = 0;
  std::unique_ptr<TimerOp> timer_;
  std::unordered_set<SocketWatch*> watches_;  // the sockets curl has us watch
  // Token bucket of max_send_speed: paused transfers wait for the refill timer.
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_{};
  std::vector<Transfer*> paused_;
  RefillOp* refill_ = nullptr;
};

class HttpClient::Transfer {
 public:
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> waiter) {
    waiter_ = waiter;
    client_->start(*this);
  }
  HttpResponse await_resume() noexcept { return std::move(response_); }

 private:
  friend class HttpClient;
  Transfer(HttpClient& client, HttpRequest request)
      : client_(&client), request_(std::move(request)) {}

  HttpClient* client_;
  HttpRequest request_;
  HttpResponse response_;
  std::size_t body_sent_ = 0;
  CURL* easy_ = nullptr;
  void* header_list_ = nullptr;  // curl_slist*
  char error_[256] = {};         // CURL_ERROR_SIZE
  std::coroutine_handle<> waiter_;
};

inline HttpClient::Transfer HttpClient::perform(HttpRequest request) {
  return Transfer(*this, std::move(request));
}

}  // namespace piperun::io

// The ring-driven HTTP client against a small HTTP/1.1 server running in the test process.
#include "io/http_client.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "io/ops.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"
#include "support/test_ring.hpp"

namespace piperun::io {
namespace {

using piperun::testing::make_ring;

using pipeline::sync_wait;
using pipeline::task;

// Answers each request on a keep-alive connection: "/hang" never answers, "/status/N" answers N,
// anything else 200 with the body's size and a checksum of it in headers. Honours
// "Expect: 100-continue".
class TestServer {
 public:
  TestServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listen_fd_, 64), 0);
    socklen_t length = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (int fd : connections_)
      ::shutdown(fd, SHUT_RDWR);
    for (std::thread& t : workers_)
      t.join();
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int accepted() const { return accepted_; }
  int max_concurrent() const { return max_concurrent_; }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ++accepted_;
      std::lock_guard lock(mutex_);
      connections_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static bool read_more(int fd, std::string& buffer) {
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static void send_all(int fd, std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void serve(int fd) {
    std::string buffer;
    for (;;) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
        if (!read_more(fd, buffer)) return;
      const std::string head = buffer.substr(0, end);
      buffer.erase(0, end + 4);
      const std::string method = head.substr(0, head.find(' '));
      const std::size_t path_start = head.find(' ') + 1;
      const std::string path = head.substr(path_start, head.find(' ', path_start) - path_start);
      std::size_t length = 0;
      if (auto at = head.find("Content-Length: "); at != std::string::npos)
        length = std::stoull(head.substr(at + 16));
      if (head.find("Expect: 100-continue") != std::string::npos)
        send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
      const int now = ++concurrent_;
      for (int seen = max_concurrent_;
           now > seen && !max_concurrent_.compare_exchange_weak(seen, now);) {
      }
      while (buffer.size() < length)
        if (!read_more(fd, buffer)) return;
      std::uint64_t sum = 0;
      for (std::size_t i = 0; i < length; ++i)
        sum = sum * 31 + static_cast<unsigned char>(buffer[i]);
      buffer.erase(0, length);
      if (path == "/hang") {
        while (!stopping_ && read_more(fd, buffer)) {
        }
        return;
      }
      int status = 200;
      if (path.starts_with("/status/")) status = std::stoi(path.substr(8));
      const std::string body = method == "HEAD" ? "" : "got " + std::to_string(length);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --concurrent_;
      send_all(fd, "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
                       std::to_string(method == "HEAD" ? 7 : body.size()) + "\r\nX-Sum: " +
                       std::to_string(sum) + "\r\nX-Method: " + method + "\r\n\r\n" + body);
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> connections_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
};

std::uint64_t sum_of(std::span<const std::byte> bytes) {
  std::uint64_t sum = 0;
  for (std::byte b : bytes)
    sum = sum * 31 + static_cast<unsigned char>(b);
  return sum;
}

HttpRequest request(std::string method, std::string url) {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  return r;
}

task<HttpResponse> send(HttpClient* client, HttpRequest request) {
  co_return co_await client->perform(std::move(request));
}

TEST(HttpClient, ManyConcurrentPutsArriveWholeOverFewReusedConnections) {
  TestServer server;
  auto ring = make_ring();
  HttpClientOptions options;
  options.max_connections = 4;
  auto client = HttpClient::create(*ring, options);
  ASSERT_TRUE(client.has_value()) << client.error();

  constexpr int kTransfers = 24;
  std::vector<std::vector<std::byte>> bodies(kTransfers);
  for (int i = 0; i < kTransfers; ++i) {
    bodies[i].resize(static_cast<std::size_t>(i) * 97'331 + (i % 3 == 0 ? 0 : 2'000'000));
    for (std::size_t j = 0; j < bodies[i].size(); ++j)
      bodies[i][j] = static_cast<std::byte>((j * 7 + static_cast<std::size_t>(i)) & 0xff);
  }
  std::vector<std::optional<HttpResponse>> responses(kTransfers);
  auto all = [&]() -> task<void> {
    std::vector<task<void>> running;
    int done = 0;
    for (int i = 0; i < kTransfers; ++i) {
      pipeline::spawn([](HttpClient* c, std::vector<std::byte>* body, std::string url,
                         std::optional<HttpResponse>* out, int* count) -> task<void> {
        HttpRequest request;
        request.method = "PUT";
        request.url = std::move(url);
        request.body = *body;
        request.headers.push_back("X-Test: yes");
        out->emplace(co_await c->perform(std::move(request)));
        ++*count;
      }(client->get(), &bodies[i], server.url("/object/" + std::to_string(i)), &responses[i],
                                                                       &done));
    }
    while (done < kTransfers)
      co_await Timeout(*ring, std::chrono::milliseconds(1));
  };
  sync_wait(*ring, all());

  for (int i = 0; i < kTransfers; ++i) {
    ASSERT_TRUE(responses[i].has_value());
    const HttpResponse& response = *responses[i];
    EXPECT_EQ(response.status, 200) << response.transport_error;
    EXPECT_EQ(response.header("x-sum"), std::to_string(sum_of(bodies[i]))) << i;
    EXPECT_EQ(response.body, "got " + std::to_string(bodies[i].size()));
  }
  EXPECT_LE(server.accepted(), 4);
  EXPECT_LE(server.max_concurrent(), 4);
  EXPECT_EQ(client.value()->active(), 0u);
}

TEST(HttpClient, HeadGetAndStatusesAreReported) {
  TestServer server;
  auto ring = make_ring();
  auto client = HttpClient::create(*ring, HttpClientOptions{});
  ASSERT_TRUE(client.has_value());

  HttpResponse headed = sync_wait(*ring, send(client->get(), request("HEAD", server.url("/a"))));
  EXPECT_EQ(headed.status, 200);
  EXPECT_EQ(headed.header("x-method"), "HEAD");
  EXPECT_TRUE(headed.body.empty());

  HttpResponse got = sync_wait(*ring, send(client->get(), request("GET", server.url("/b"))));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "got 0");

  HttpResponse busy =
      sync_wait(*ring, send(client->get(), request("DELETE", server.url("/status/503"))));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.header("x-method"), "DELETE");
  EXPECT_TRUE(busy.transport_error.empty());
}

TEST(HttpClient, NoServerIsATransportErrorNotAStatus) {
  // A port nobody listens on: bind one, then close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);

  auto ring = make_ring();
  auto client = HttpClient::create(*ring, HttpClientOptions{});
  ASSERT_TRUE(client.has_value());
  HttpResponse response = sync_wait(
      *ring,
      send(client->get(),
           request("GET", "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x")));
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.transport_error.empty());
  EXPECT_FALSE(response.timed_out);
}

TEST(HttpClient, AStalledTransferTimesOut) {
  TestServer server;
  auto ring = make_ring();
  HttpClientOptions options;
  options.stall_timeout = std::chrono::milliseconds(1000);
  auto client = HttpClient::create(*ring, options);
  ASSERT_TRUE(client.has_value());
  const auto start = std::chrono::steady_clock::now();
  HttpResponse response =
      sync_wait(*ring, send(client->get(), request("GET", server.url("/hang"))));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(response.status, 0);
  EXPECT_TRUE(response.timed_out) << response.transport_error;
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(10));
}

}  // namespace
}  // namespace piperun::io

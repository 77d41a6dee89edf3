// HttpRequest::sink: a success's body reaches the sink whole and in order, however large (past
// HttpResponse's 1 MiB cap), and none of it is kept in the response; an error's body is kept in
// the response for its message, and the sink sees none of it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "io/http_client.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"

namespace piperun::io {
namespace {

// Answers one GET on each of `answers` connections, in order, with the given status and body.
class OneShotServer {
 public:
  struct Answer {
    int status;
    std::string body;
  };
  explicit OneShotServer(std::vector<Answer> answers) : answers_(std::move(answers)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listen_fd_, 8), 0);
    socklen_t length = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/object"; }

 private:
  void serve() {
    for (const Answer& answer : answers_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::string request;
      char chunk[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        request.append(chunk, static_cast<std::size_t>(n));
      }
      std::string text =
          "HTTP/1.1 " + std::to_string(answer.status) +
          " X\r\nConnection: close\r\nContent-Length: " + std::to_string(answer.body.size()) +
          "\r\n\r\n" + answer.body;
      for (std::string_view rest = text; !rest.empty();) {
        const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
      ::close(fd);
    }
  }

  std::vector<Answer> answers_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

class CollectingSink final : public BodySink {
 public:
  void consume(std::span<const std::byte> bytes) override {
    ++pieces;
    received.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::string received;
  int pieces = 0;
};

pipeline::task<HttpResponse> get(HttpClient* client, std::string url, BodySink* sink) {
  HttpRequest request;
  request.url = std::move(url);
  request.sink = sink;
  co_return co_await client->perform(std::move(request));
}

TEST(HttpBodySink, ASuccessfulBodyOfManyMegabytesReachesTheSinkWholeAndInOrder) {
  std::string body(5 * HttpClient::kMaxBody + 12'345, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  OneShotServer server({{200, body}, {404, "<Error><Code>NoSuchKey</Code></Error>"}});
  auto ring = Ring::create(RingOptions{});
  ASSERT_TRUE(ring);
  auto client = HttpClient::create(**ring, HttpClientOptions{});
  ASSERT_TRUE(client) << client.error();

  CollectingSink sink;
  HttpResponse found = pipeline::sync_wait(**ring, get(client->get(), server.url(), &sink));
  EXPECT_EQ(found.status, 200) << found.transport_error;
  EXPECT_TRUE(found.body.empty());
  EXPECT_EQ(sink.received.size(), body.size());
  EXPECT_TRUE(sink.received == body);
  EXPECT_GT(sink.pieces, 1);  // handed over as it arrived, not at the end

  CollectingSink untouched;
  HttpResponse missing = pipeline::sync_wait(**ring, get(client->get(), server.url(), &untouched));
  EXPECT_EQ(missing.status, 404) << missing.transport_error;
  EXPECT_EQ(missing.body, "<Error><Code>NoSuchKey</Code></Error>");
  EXPECT_TRUE(untouched.received.empty());
}

}  // namespace
}  // namespace piperun::io

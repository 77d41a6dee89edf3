// Zero-timeout poll() probes answered without poll(2).
//
// libcurl 7.88 never waits in poll() under the multi-socket interface (the ring does the
// waiting: io/http_client.cpp), but it still asks poll(fds, n, 0) "is this socket readable /
// writable right now?" at three places: when a connect completes, before it reuses a pooled
// connection (is it still alive?), and when a timer runs a transfer without socket events.
// Those probes are the only poll-family system calls left in a run. This definition of poll()
// takes precedence over libc's for the whole program (libcurl included) and answers a probe of
// TCP sockets from the socket's own state, the way tcp_poll() computes it:
//   - TCP_INFO gives the connection state (it fails for anything but TCP: those calls, and
//     every call with a timeout, go to libc's poll unchanged);
//   - a peek of one byte (recv MSG_PEEK | MSG_DONTWAIT) tells whether data or EOF is waiting.
// Writability is reported for established connections without asking about send-buffer room:
// libcurl only probes POLLOUT to learn that a connect finished, and a send that finds the
// buffer full returns EAGAIN, which it handles.
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

extern "C" int __poll(struct pollfd* fds, nfds_t count, int timeout);  // glibc's own

namespace {

constexpr short kReadable = POLLIN | POLLRDNORM;
constexpr short kWritable = POLLOUT | POLLWRNORM;

// The events of one TCP socket, or -1 when `fd` is not a TCP socket.
int probe_tcp(const pollfd& entry) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(entry.fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
  switch (info.tcpi_state) {
    case TCP_LISTEN:
      return -1;
    case TCP_SYN_SENT:
    case TCP_SYN_RECV:
      return 0;  // connecting: neither readable nor writable yet
    case TCP_CLOSE:
      // A refused or reset connection: poll reports all of these, and the error is left for
      // the caller's getsockopt(SO_ERROR), as poll leaves it.
      return (entry.events & (kReadable | kWritable)) | POLLHUP | POLLERR;
    default:
      break;
  }
  int events = 0;
  if (entry.events & kReadable) {
    char byte;
    const ssize_t peeked = ::recv(entry.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked >= 0) {
      events |= entry.events & kReadable;  // data, or 0 = the peer closed: readable as EOF
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      events |= POLLERR;
    }
  }
  const bool can_send = info.tcpi_state == TCP_ESTABLISHED || info.tcpi_state == TCP_CLOSE_WAIT;
  if (can_send) events |= entry.events & kWritable;
  return events;
}

}  // namespace

extern "C" int poll(struct pollfd* fds, nfds_t count, int timeout) {
  if (timeout != 0) return __poll(fds, count, timeout);
  int ready = 0;
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].fd < 0) {
      fds[i].revents = 0;
      continue;
    }
    const int events = probe_tcp(fds[i]);
    if (events < 0) return __poll(fds, count, timeout);
    fds[i].revents = static_cast<short>(events);
    if (events != 0) ++ready;
  }
  return ready;
}

namespace piperun::io {
// Referenced by HttpClient so that the linker takes this file out of the static library.
bool socket_probe_linked() noexcept {
  return true;
}
}  // namespace piperun::io

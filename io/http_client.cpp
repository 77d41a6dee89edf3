#include "io/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <poll.h>
#include <unordered_set>

#include <liburing.h>

#include "io/curl_api.hpp"

namespace piperun::io {

bool socket_probe_linked() noexcept;  // io/socket_probe.cpp

namespace {

using Clock = std::chrono::steady_clock;

// libcurl's entry points: loaded by HttpClient::create before any client exists to call them.
const CurlApi& curl() {
  return **load_curl();
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

CURLM* multi_of(void* multi) {
  return static_cast<CURLM*>(multi);
}

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return {};
}

// One socket curl asked us to watch. It owns itself: it is deleted once curl no longer wants the
// socket and the kernel has given back both of its operations, so a completion never lands in
// freed memory, and a later socket with the same number gets a watch of its own.
struct HttpClient::SocketWatch {
  struct Op : Operation {
    SocketWatch* watch = nullptr;
  };

  SocketWatch(HttpClient& owner, Ring& ring_, int fd_) : client(&owner), ring(&ring_), fd(fd_) {
    poll.watch = this;
    poll.prepare = [](Operation& self, io_uring_sqe& sqe) {
      SocketWatch& w = *static_cast<Op&>(self).watch;
      w.armed_mask = w.wanted;
      io_uring_prep_poll_add(&sqe, w.fd, w.wanted);
    };
    poll.complete = [](Operation& self, int result, std::uint32_t) {
      static_cast<Op&>(self).watch->on_poll(result);
    };
    remove.watch = this;
    remove.prepare = [](Operation& self, io_uring_sqe& sqe) {
      SocketWatch& w = *static_cast<Op&>(self).watch;
      io_uring_prep_poll_remove(&sqe, reinterpret_cast<std::uintptr_t>(&w.poll));
    };
    remove.complete = [](Operation& self, int, std::uint32_t) {
      SocketWatch& w = *static_cast<Op&>(self).watch;
      w.removing = false;
      w.update();
    };
  }

  // Brings the kernel's view in line with `wanted` and `removed`; may delete this.
  void update() {
    const bool want_poll = !removed && wanted != 0;
    if (!want_poll) {
      if (!polling && !removing) {
        if (removed) delete this;
        return;
      }
      if (polling && !removing) start_remove();
      return;
    }
    if (!polling) {
      polling = true;
      ring->submit(poll);
    } else if (armed_mask != wanted && !removing) {
      start_remove();  // the poll completes with -ECANCELED and is armed again with `wanted`
    }
  }

  void start_remove() {
    removing = true;
    ring->submit(remove);
  }

  void on_poll(int result) {
    polling = false;
    if (result >= 0 && !removed && client != nullptr) {
      int events = 0;
      if (result & (POLLIN | POLLHUP)) events |= CURL_CSELECT_IN;
      if (result & POLLOUT) events |= CURL_CSELECT_OUT;
      if (result & POLLERR) events |= CURL_CSELECT_ERR;
      dispatching = true;
      client->act(fd, events);
      dispatching = false;
    }
    update();
  }

  HttpClient* client;  // null once the client is gone
  Ring* ring;
  int fd;
  unsigned wanted = 0;      // POLLIN | POLLOUT, as curl last asked
  unsigned armed_mask = 0;  // what the poll in flight waits for
  bool polling = false;
  bool removing = false;
  bool removed = false;      // curl is done with the socket
  bool dispatching = false;  // inside curl for this socket: update() comes after
  Op poll;
  Op remove;
};

// Curl's single timer as one io_uring timeout. Owns itself like SocketWatch: it may outlive the
// client while the kernel still holds it.
struct HttpClient::TimerOp : Operation {
  struct Remover : Operation {
    TimerOp* timer = nullptr;
  };

  TimerOp(HttpClient& owner, Ring& ring_) : client(&owner), ring(&ring_) {
    prepare = [](Operation& self, io_uring_sqe& sqe) {
      auto& t = static_cast<TimerOp&>(self);
      const auto wait = std::max(Clock::duration::zero(), *t.deadline - Clock::now());
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      t.spec.tv_sec = ns / 1'000'000'000;
      t.spec.tv_nsec = ns % 1'000'000'000;
      t.armed_deadline = *t.deadline;
      io_uring_prep_timeout(&sqe, &t.spec, 0, 0);
    };
    complete = [](Operation& self, int, std::uint32_t) {
      static_cast<TimerOp&>(self).on_expired();
    };
    remover.timer = this;
    remover.prepare = [](Operation& self, io_uring_sqe& sqe) {
      io_uring_prep_timeout_remove(
          &sqe, reinterpret_cast<std::uintptr_t>(static_cast<Remover&>(self).timer), 0);
    };
    remover.complete = [](Operation& self, int, std::uint32_t) {
      TimerOp& t = *static_cast<Remover&>(self).timer;
      t.removing = false;
      t.update();
    };
  }

  void update() {
    if (client == nullptr) {
      if (armed && !removing) {
        removing = true;
        ring->submit(remover);
      } else if (!armed && !removing) {
        delete this;
      }
      return;
    }
    if (!deadline) return;  // an armed timer with no deadline expires harmlessly
    if (!armed) {
      armed = true;
      ring->submit(*this);
    } else if (*deadline < armed_deadline && !removing) {
      removing = true;  // expires with -ECANCELED and is armed again for the new deadline
      ring->submit(remover);
    }
  }

  void on_expired() {
    armed = false;
    if (client != nullptr && deadline && Clock::now() >= *deadline) {
      deadline.reset();
      client->act(CURL_SOCKET_TIMEOUT, 0);
    }
    update();
  }

  HttpClient* client;
  Ring* ring;
  std::optional<Clock::time_point> deadline;  // when curl wants to be called; none = never
  Clock::time_point armed_deadline;
  __kernel_timespec spec{};
  bool armed = false;
  bool removing = false;
  Remover remover;
};

// The bandwidth limiter's refill timer. Owns itself like TimerOp.
struct HttpClient::RefillOp : Operation {
  RefillOp(HttpClient& owner, Ring& ring_) : client(&owner), ring(&ring_) {
    prepare = [](Operation& self, io_uring_sqe& sqe) {
      io_uring_prep_timeout(&sqe, &static_cast<RefillOp&>(self).spec, 0, 0);
    };
    complete = [](Operation& self, int, std::uint32_t) {
      auto& refill = static_cast<RefillOp&>(self);
      refill.armed = false;
      if (refill.client == nullptr) {
        delete &refill;
        return;
      }
      refill.client->resume_paused();
    };
  }

  void arm(std::chrono::nanoseconds wait) {
    if (armed) return;
    armed = true;
    spec.tv_sec = wait.count() / 1'000'000'000;
    spec.tv_nsec = wait.count() % 1'000'000'000;
    ring->submit(*this);
  }

  HttpClient* client;
  Ring* ring;
  __kernel_timespec spec{};
  bool armed = false;
};

struct HttpClient::Callbacks {
  static int on_socket(CURL*, curl_socket_t fd, int what, void* user, void* socket_data) {
    auto& client = *static_cast<HttpClient*>(user);
    auto* watch = static_cast<SocketWatch*>(socket_data);
    if (what == CURL_POLL_REMOVE) {
      if (watch != nullptr) {
        curl().multi_assign(multi_of(client.multi_), fd, nullptr);
        client.watches_.erase(watch);
        watch->removed = true;
        if (!watch->dispatching) watch->update();
      }
      return 0;
    }
    if (watch == nullptr) {
      watch = new SocketWatch(client, client.ring_, fd);
      client.watches_.insert(watch);
      curl().multi_assign(multi_of(client.multi_), fd, watch);
    }
    watch->wanted = ((what & CURL_POLL_IN) ? POLLIN : 0u) | ((what & CURL_POLL_OUT) ? POLLOUT : 0u);
    if (!watch->dispatching) watch->update();
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) {
    auto& client = *static_cast<HttpClient*>(user);
    if (timeout_ms < 0) {
      client.timer_->deadline.reset();
    } else {
      client.timer_->deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
      client.timer_->update();
    }
    return 0;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& response = *static_cast<HttpResponse*>(user);
    const std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      response.headers.clear();  // a new answer (after 100 Continue, or a redirect)
    } else if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
      response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                    std::string(trim(line.substr(colon + 1))));
    }
    return size * count;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    HttpResponse& response = transfer.response_;
    if (BodySink* sink = transfer.request_.sink; sink != nullptr) {
      // The status line has arrived by now: only a success's body is the object's.
      long status = 0;
      curl().easy_getinfo(transfer.easy_, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200 && status < 300) {
        sink->consume(std::as_bytes(std::span(data, size * count)));
        return size * count;
      }
    }
    const std::size_t room = kMaxBody - std::min(kMaxBody, response.body.size());
    response.body.append(data, std::min(room, size * count));
    return size * count;
  }

  static std::size_t on_read(char* out, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const auto body = transfer.request_.body;
    std::size_t n = std::min(size * count, body.size() - transfer.body_sent_);
    if (n > 0) {
      n = transfer.client_->take_tokens(transfer, n);
      if (n == 0) return CURL_READFUNC_PAUSE;
    }
    std::memcpy(out, body.data() + transfer.body_sent_, n);
    transfer.body_sent_ += n;
    return n;
  }

  // A retried or redirected request sends the body again from the start.
  static int on_seek(void* user, curl_off_t offset, int origin) {
    auto& transfer = *static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0 ||
        static_cast<std::size_t>(offset) > transfer.request_.body.size())
      return CURL_SEEKFUNC_CANTSEEK;
    transfer.body_sent_ = static_cast<std::size_t>(offset);
    return CURL_SEEKFUNC_OK;
  }
};

std::expected<std::unique_ptr<HttpClient>, std::string> HttpClient::create(
    Ring& ring, const HttpClientOptions& options) {
  if (!socket_probe_linked()) return std::unexpected(std::string("socket probes missing"));
  if (auto loaded = load_curl(); !loaded) return std::unexpected(std::move(loaded.error()));
  std::unique_ptr<HttpClient> client(new HttpClient(ring, options));
  if (client->multi_ == nullptr) return std::unexpected(std::string("libcurl: no multi handle"));
  return client;
}

HttpClient::HttpClient(Ring& ring, HttpClientOptions options)
    : ring_(ring),
      options_(std::move(options)),
      timer_(new TimerOp(*this, ring)),
      refilled_(Clock::now()),
      refill_(new RefillOp(*this, ring)) {
  CURLM* multi = curl().multi_init();
  multi_ = multi;
  if (multi == nullptr) return;
  curl().multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Callbacks::on_socket);
  curl().multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl().multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Callbacks::on_timer);
  curl().multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  curl().multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      static_cast<long>(std::max(1u, options_.max_connections)));
  curl().multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                      static_cast<long>(std::max(1u, options_.max_connections)));
}

HttpClient::~HttpClient() {
  for (CURL* easy : idle_easy_)
    curl().easy_cleanup(easy);
  if (multi_ != nullptr) curl().multi_cleanup(multi_of(multi_));
  // What the kernel still holds finishes on its own and frees itself.
  for (SocketWatch* watch : watches_) {
    watch->client = nullptr;
    watch->removed = true;
    watch->update();
  }
  TimerOp* timer = timer_.release();
  timer->client = nullptr;
  timer->update();
  if (refill_->armed) {
    refill_->client = nullptr;
  } else {
    delete refill_;
  }
}

std::size_t HttpClient::take_tokens(Transfer& transfer, std::size_t wanted) {
  if (options_.max_send_speed == 0) return wanted;
  const double rate = static_cast<double>(options_.max_send_speed);
  // A tenth of a second of bursts: smooth enough, and few timer wake-ups.
  const double burst = std::max(16384.0, rate / 10);
  const auto now = Clock::now();
  tokens_ =
      std::min(burst, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
  refilled_ = now;
  if (tokens_ < 1) {
    paused_.push_back(&transfer);
    const double need = std::min(static_cast<double>(wanted), burst / 4) - tokens_;
    refill_->arm(std::chrono::nanoseconds(static_cast<std::int64_t>(need / rate * 1e9)));
    return 0;
  }
  const auto granted = std::min(wanted, static_cast<std::size_t>(tokens_));
  tokens_ -= static_cast<double>(granted);
  return granted;
}

void HttpClient::resume_paused() {
  std::vector<Transfer*> waiting;
  waiting.swap(paused_);
  for (Transfer* transfer : waiting)
    curl().easy_pause(transfer->easy_, CURLPAUSE_CONT);  // may pause it again at once
  collect_done();
}

CURL* HttpClient::take_easy() {
  if (idle_easy_.empty()) return curl().easy_init();
  CURL* easy = idle_easy_.back();
  idle_easy_.pop_back();
  curl().easy_reset(easy);
  return easy;
}

void HttpClient::give_back(CURL* easy) {
  idle_easy_.push_back(easy);
}

void HttpClient::start(Transfer& transfer) {
  ++active_;
  CURL* easy = take_easy();
  transfer.easy_ = easy;
  HttpRequest& request = transfer.request_;
  curl_slist* list = nullptr;
  for (const std::string& header : request.headers)
    list = curl().slist_append(list, header.c_str());
  transfer.header_list_ = list;

  curl().easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl().easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
  curl().easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl().easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error_);
  curl().easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  curl().easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Callbacks::on_header);
  curl().easy_setopt(easy, CURLOPT_HEADERDATA, &transfer.response_);
  curl().easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Callbacks::on_body);
  curl().easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  const long stall_s = std::max<long>(
      1, static_cast<long>(
             std::chrono::duration_cast<std::chrono::seconds>(options_.stall_timeout).count()));
  curl().easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.stall_timeout.count()));
  curl().easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl().easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, stall_s);
  if (!options_.user_password.empty()) {
    curl().easy_setopt(easy, CURLOPT_USERPWD, options_.user_password.c_str());
  } else if (options_.netrc) {
    curl().easy_setopt(easy, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_OPTIONAL));
  }
  if (!options_.ca_bundle.empty())
    curl().easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());

  if (request.method == "HEAD") {
    curl().easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl().easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl().easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    curl().easy_setopt(easy, CURLOPT_READFUNCTION, &Callbacks::on_read);
    curl().easy_setopt(easy, CURLOPT_READDATA, &transfer);
    curl().easy_setopt(easy, CURLOPT_SEEKFUNCTION, &Callbacks::on_seek);
    curl().easy_setopt(easy, CURLOPT_SEEKDATA, &transfer);
  } else if (request.method == "POST") {
    curl().easy_setopt(easy, CURLOPT_POST, 1L);
    curl().easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl().easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl().easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLMcode added = curl().multi_add_handle(multi_of(multi_), easy);
  if (added != CURLM_OK) {
    transfer.response_.transport_error = std::string("libcurl: ") + curl().multi_strerror(added);
    finish(transfer);
  }
}

void HttpClient::finish(Transfer& transfer) {
  std::erase(paused_, &transfer);
  curl().multi_remove_handle(multi_of(multi_), transfer.easy_);
  curl().slist_free_all(static_cast<curl_slist*>(transfer.header_list_));
  transfer.header_list_ = nullptr;
  give_back(std::exchange(transfer.easy_, nullptr));
  --active_;
  ring_.schedule(transfer.waiter_);
}

void HttpClient::act(int fd, int events) {
  int running = 0;
  curl().multi_socket_action(multi_of(multi_), fd, events, &running);
  collect_done();
}

void HttpClient::collect_done() {
  int left = 0;
  while (CURLMsg* message = curl().multi_info_read(multi_of(multi_), &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl().easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
    HttpResponse& response = transfer->response_;
    const CURLcode result = message->data.result;
    if (result == CURLE_OK) {
      curl().easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &response.status);
    } else {
      response.status = 0;
      response.timed_out = result == CURLE_OPERATION_TIMEDOUT;
      response.transport_error =
          transfer->error_[0] != '\0' ? transfer->error_ : curl().easy_strerror(result);
    }
    finish(*transfer);
  }
}

}  // namespace piperun::io

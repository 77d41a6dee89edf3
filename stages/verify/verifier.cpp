// How verify spreads its work, and why so.
//
// The manifest is read in batches of kBatchOutputs outputs, between runs of the loop, so the
// I/O thread never blocks on it and memory does not grow with the manifest's length. Each
// batch is checked by coroutines on one io_uring ring, as the main command runs:
//  - Local outputs (the tree, a file:// store): `cpu_threads` coroutines each hand one file at a
//    time to the CPU pool (oneTBB), where a worker reads it with plain read()s into a 1 MiB
//    buffer, decompresses and hashes it. Reading, decompressing and hashing one file is a single
//    sequential pass that a core does faster than the page cache or a disk delivers; reading
//    through the ring would add a hand-off per chunk to overlap what is already overlapped by
//    running one file per core. So both cores work, and memory is a buffer and a zstd window
//    per worker, whatever the file sizes.
//  - Objects in a network store: `concurrency` coroutines ask the store through libcurl on the
//    same ring (no second event loop): a HEAD when the store keeps pipe-run's digest as
//    metadata, else a GET whose body is decompressed and hashed as it arrives, on the I/O
//    thread: the network delivers it slower than one core decodes it, and curl hands it over
//    in 16 KiB pieces that would cost more to send to a worker than to hash. Nothing of an
//    object is held whole.
// A check never throws: every failure becomes a Problem (or, for credentials the store refuses,
// the one fatal error that ends the run).
#include "stages/verify/verifier.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <fmt/core.h>

#include "io/http_client.hpp"
#include "io/ring.hpp"
#include "pipeline/offload.hpp"
#include "pipeline/task.hpp"
#include "stages/crypto_api.hpp"
#include "stages/upload/object_store.hpp"
#include "stages/upload/retrying_client.hpp"
#include "stages/upload/store_access.hpp"
#include "stages/upload/throttle.hpp"
#include "stages/verify/content_hasher.hpp"
#include "stages/verify/expected_output.hpp"
#include "stages/verify/manifest_scan.hpp"

namespace piperun::stages::verify {
namespace {

constexpr std::size_t kBatchOutputs = 4096;
constexpr std::size_t kReadBytes = 1 << 20;

// What a local worker owns: its hasher and read buffer, reused from file to file.
struct LocalWorker {
  explicit LocalWorker(std::optional<HashAlgorithm> algorithm) : hasher(algorithm) {}
  ContentHasher hasher;
  std::vector<std::byte> buffer;
};

// Runs on a CPU worker: reads, decompresses and hashes one local output (blocking reads, off
// the I/O thread). Pointers only: g++ 12 destroys a temporary that owns memory twice when it is
// built inside a co_await expression.
struct ReadOutput {
  const ExpectedOutput* output;  // lives in the batch until the check ends
  LocalWorker* worker;

  FoundContent operator()() const {
    FoundContent found;
    const int fd = ::open(output->location.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      // Gone is what "missing" means; anything else is a reason we could not look.
      if (errno == ENOENT) {
        found.exists = false;
      } else {
        found.error = fmt::format("cannot open: {}", std::strerror(errno));
      }
      return found;
    }
    found.error = read_all(fd, found);
    ::close(fd);
    return found;
  }

  std::string read_all(int fd, FoundContent& found) const {
    const ExpectedContent& expected = output->content;
    struct stat status {};
    if (::fstat(fd, &status) != 0) return fmt::format("cannot stat: {}", std::strerror(errno));
    if (!S_ISREG(status.st_mode)) return "not a regular file";
    found.stored_bytes = static_cast<std::uint64_t>(status.st_size);
    // A size that differs already says it all: no need to read the bytes.
    if (*found.stored_bytes != expected.stored_bytes) return {};
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (worker->buffer.empty()) worker->buffer.resize(kReadBytes);
    ContentHasher& hasher = worker->hasher;
    hasher.start(expected.compressed);
    for (;;) {
      const ssize_t n = ::read(fd, worker->buffer.data(), worker->buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;  // a signal, not a failure of the file
        return fmt::format("read: {}", std::strerror(errno));
      }
      if (n == 0) break;
      hasher.update(std::span(worker->buffer).first(static_cast<std::size_t>(n)));
    }
    // The file changed size while we read it: report what was read.
    found.stored_bytes = hasher.stored_bytes();
    auto content = hasher.finish();
    if (!content) return content.error();
    found.size = content->size;
    found.digest_hex = std::move(content->digest_hex);
    return {};
  }
};

// A download's bytes, decompressed and hashed as they arrive (on the I/O thread).
class HashingSink final : public upload::DownloadSink {
 public:
  explicit HashingSink(std::optional<HashAlgorithm> algorithm) : hasher_(algorithm) {}
  void begin(bool compressed) {
    compressed_ = compressed;
    hasher_.start(compressed_);
  }
  void restart() override { hasher_.start(compressed_); }
  void consume(std::span<const std::byte> bytes) override { hasher_.update(bytes); }
  ContentHasher& hasher() noexcept { return hasher_; }

 private:
  ContentHasher hasher_;
  bool compressed_ = false;
};

// A network store and what it needs, built on the ring's thread. Destroyed in reverse order:
// the store, then the clients, then curl.
struct NetworkStore {
  std::unique_ptr<io::HttpClient> http;
  std::unique_ptr<upload::Throttle> throttle;
  std::unique_ptr<upload::RetryingClient> client;
  std::unique_ptr<upload::ObjectStore> store;
  ~NetworkStore() {
    store.reset();
    client.reset();
    throttle.reset();
    http.reset();
  }
};

std::expected<std::unique_ptr<NetworkStore>, std::string> open_store(
    io::Ring& ring, const VerifyOptions& options, const OutputSettings& settings) {
  io::HttpClientOptions http_options =
      upload::http_options_for(settings.upload_url, options.access);
  http_options.max_connections = options.concurrency;
  http_options.stall_timeout = options.timeout;
  auto http = io::HttpClient::create(ring, http_options);
  if (!http) return std::unexpected(http.error());
  auto network = std::make_unique<NetworkStore>();
  network->http = std::move(*http);
  network->throttle = std::make_unique<upload::Throttle>(ring, options.concurrency);
  network->client = std::make_unique<upload::RetryingClient>(
      ring, *network->http, *network->throttle, upload::RetryPolicy{options.retries});
  auto store = upload::make_network_store(*network->client, settings.upload_url, options.endpoint,
                                          options.region, options.access, TransportChecksum::none,
                                          settings.algorithm_name);
  if (!store) return std::unexpected(store.error());
  network->store = std::move(*store);
  return network;
}

class Verifier {
 public:
  Verifier(io::Ring& ring, pipeline::CpuPool& cpu, upload::ObjectStore* store,
           const OutputSettings& settings, const VerifyOptions& options,
           const std::function<void(const Problem&)>& on_problem)
      : ring_(ring),
        cpu_(cpu),
        store_(store),
        settings_(settings),
        options_(options),
        on_problem_(on_problem) {
    for (unsigned i = 0; i < std::max(1u, options_.cpu_threads); ++i)
      local_workers_.push_back(std::make_unique<LocalWorker>(settings_.algorithm));
    if (store_ != nullptr) {
      for (unsigned i = 0; i < std::max(1u, options_.concurrency); ++i)
        sinks_.push_back(std::make_unique<HashingSink>(settings_.algorithm));
    }
  }

  VerifyCounts& counts() noexcept { return counts_; }
  const std::optional<std::string>& fatal() const noexcept { return fatal_; }

  void report(std::string location, std::string what) {
    ++counts_.problems;
    on_problem_(Problem{std::move(location), std::move(what)});
  }

  // Checks the batch; returns when every check has ended.
  void run(std::vector<ExpectedOutput> local, std::vector<ExpectedOutput> objects) {
    local_ = std::move(local);
    objects_ = std::move(objects);
    next_local_ = 0;
    next_object_ = 0;
    for (auto& worker : local_workers_)
      start(check_local_files(worker.get()));
    for (auto& sink : sinks_)
      start(check_objects(sink.get()));
    ring_.run_until([this] { return running_ == 0; });
  }

 private:
  void start(pipeline::task<void> work) {
    ++running_;
    pipeline::spawn(counted(std::move(work)));
  }
  pipeline::task<void> counted(pipeline::task<void> work) {
    co_await std::move(work);
    --running_;
  }

  pipeline::task<void> check_local_files(LocalWorker* worker) {
    while (!fatal_ && next_local_ < local_.size()) {
      ExpectedOutput& output = local_[next_local_++];
      ++counts_.outputs;
      const FoundContent found = co_await cpu_.offload(ReadOutput{&output, worker});
      if (auto problem = compare(output.content, found, settings_.algorithm_name))
        report(output.location, std::move(*problem));
    }
  }

  pipeline::task<void> check_objects(HashingSink* sink) {
    while (!fatal_ && next_object_ < objects_.size()) {
      const ExpectedOutput* output = &objects_[next_object_++];
      ++counts_.objects;
      co_await check_object(output, sink);
    }
  }

  // `output` lives in the batch until the check ends.
  pipeline::task<void> check_object(const ExpectedOutput* output, HashingSink* sink) {
    const std::string url = store_->url_for(output->location);
    unsigned attempts = 0;
    if (!options_.download && store_->can_lookup() && !output->content.digest_hex.empty()) {
      auto stored = co_await store_->lookup(output->location, attempts);
      if (!stored) {
        failed(url, stored.error());
        co_return;
      }
      if (!stored->exists) {
        report(url, "missing");
        co_return;
      }
      // Without pipe-run's digest (another tool wrote it, or metadata was lost), only its
      // bytes can tell: download it.
      if (!stored->digest_hex.empty()) {
        FoundContent found;
        found.size = stored->size;
        found.digest_hex = stored->digest_hex;
        if (auto problem = compare(output->content, found, settings_.algorithm_name))
          report(url, std::move(*problem));
        co_return;
      }
    }
    sink->begin(output->content.compressed);
    auto got = co_await store_->get(output->location, *sink, attempts);
    if (!got) {
      failed(url, got.error());
      co_return;
    }
    FoundContent found;
    found.exists = *got;
    found.stored_bytes = sink->hasher().stored_bytes();
    if (auto content = sink->hasher().finish()) {
      found.size = content->size;
      found.digest_hex = std::move(content->digest_hex);
    } else {
      found.error = std::move(content.error());
    }
    if (auto problem = compare(output->content, found, settings_.algorithm_name))
      report(url, std::move(*problem));
  }

  // A request that failed after its retries. Refused credentials would refuse every object
  // alike: that ends the run, once.
  void failed(const std::string& url, const upload::StoreError& error) {
    if (error.kind == upload::ErrorKind::refused) {
      if (!fatal_) fatal_ = error.message;
      return;
    }
    report(url, "cannot check: " + error.message);
  }

  io::Ring& ring_;
  pipeline::CpuPool& cpu_;
  upload::ObjectStore* store_;
  const OutputSettings& settings_;
  const VerifyOptions& options_;
  const std::function<void(const Problem&)>& on_problem_;
  std::vector<std::unique_ptr<LocalWorker>> local_workers_;
  std::vector<std::unique_ptr<HashingSink>> sinks_;
  std::vector<ExpectedOutput> local_;
  std::vector<ExpectedOutput> objects_;
  std::size_t next_local_ = 0;
  std::size_t next_object_ = 0;
  unsigned running_ = 0;
  VerifyCounts counts_;
  std::optional<std::string> fatal_;
};

}  // namespace

std::expected<VerifyCounts, VerifyError> verify_manifest(
    const VerifyOptions& options, const std::function<void(const Problem&)>& on_problem) {
  using Kind = VerifyError::Kind;
  auto scan = ManifestScan::open(options.manifest);
  if (!scan) return std::unexpected(VerifyError{Kind::bad_manifest, scan.error()});
  auto settings = output_settings(scan->settings());
  if (!settings) {
    return std::unexpected(
        VerifyError{Kind::bad_manifest, options.manifest.string() + ": " + settings.error()});
  }
  if (settings->algorithm == HashAlgorithm::sha256) {
    if (auto loaded = load_crypto(); !loaded) {
      return std::unexpected(VerifyError{Kind::fatal, loaded.error()});
    }
  }
  auto ring = io::Ring::create(io::RingOptions{});
  if (!ring) {
    return std::unexpected(
        VerifyError{Kind::fatal, "cannot set up io_uring: " + ring.error().message()});
  }
  {
    pipeline::CpuPool cpu(**ring, std::max(1u, options.cpu_threads));
    std::unique_ptr<NetworkStore> network;
    if (!settings->upload_url.empty() && !settings->upload_url.starts_with("file://")) {
      auto opened = open_store(**ring, options, *settings);
      if (!opened) return std::unexpected(VerifyError{Kind::fatal, opened.error()});
      network = std::move(*opened);
    }
    Verifier verifier(**ring, cpu, network ? network->store.get() : nullptr, *settings, options,
                      on_problem);
    for (bool more = true; more && !verifier.fatal();) {
      std::vector<ExpectedOutput> local;
      std::vector<ExpectedOutput> objects;
      while (local.size() + objects.size() < kBatchOutputs) {
        auto record = scan->next();
        if (!record) return std::unexpected(VerifyError{Kind::bad_manifest, record.error()});
        if (!*record) {
          more = false;
          break;
        }
        auto outputs = expected_outputs(**record, *settings);
        if (!outputs) {
          verifier.report((*record)->rel_path, outputs.error());
          continue;
        }
        if (outputs->empty()) continue;
        ++verifier.counts().files;
        for (ExpectedOutput& output : *outputs)
          (output.kind == OutputKind::object ? objects : local).push_back(std::move(output));
      }
      verifier.run(std::move(local), std::move(objects));
    }
    if (verifier.fatal()) return std::unexpected(VerifyError{Kind::fatal, *verifier.fatal()});
    return verifier.counts();
  }
}

}  // namespace piperun::stages::verify

// The real servers the upload tests run against (tests/servers/test-servers.sh starts them) and
// independent clients to check what pipe-run stored: rclone for S3 objects, curl for S3
// metadata and in-progress multipart uploads, the file system for nginx's WebDAV tree.
#pragma once

#include <chrono>
#include <fcntl.h>
#include <map>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "integration/harness.hpp"

namespace piperun::itest {

inline constexpr std::string_view kS3Endpoint = "http://127.0.0.1:7480";
inline constexpr int kS3Port = 7480;
inline constexpr std::string_view kS3Bucket = "test-bucket";
inline constexpr std::string_view kS3AccessKey = "CIACCESSKEY";
inline constexpr std::string_view kS3SecretKey = "CISECRETKEY";
inline constexpr std::string_view kDavUrl = "http://127.0.0.1:8080/artifacts/";
inline const fs::path kDavRoot = "/tmp/pipe-run-test-servers/nginx/www/artifacts";

// Starts the servers unless they answer already. A test that needs them fails (not skips) when
// they cannot start.
inline void ensure_test_servers() {
  static bool up = false;
  if (up) return;
  RunResult started =
      run({"bash", std::string(PIPE_RUN_SOURCE_DIR) + "/tests/servers/test-servers.sh", "start"},
          RunOptions{.timeout = std::chrono::minutes(10)});
  ASSERT_EQ(started.exit_code, 0) << "the test servers did not start\n" << started.describe();
  up = true;
}

// rclone with an S3 remote "prtest:" configured from the environment. Debian's rclone 1.60
// fails when AWS_CA_BUNDLE is set, which it is on these machines.
inline std::vector<std::string> rclone(std::vector<std::string> arguments) {
  std::vector<std::string> argv{
      "env",
      "-u",
      "AWS_CA_BUNDLE",
      "RCLONE_CONFIG_PRTEST_TYPE=s3",
      "RCLONE_CONFIG_PRTEST_PROVIDER=Ceph",
      "RCLONE_CONFIG_PRTEST_ENDPOINT=" + std::string(kS3Endpoint),
      "RCLONE_CONFIG_PRTEST_ACCESS_KEY_ID=" + std::string(kS3AccessKey),
      "RCLONE_CONFIG_PRTEST_SECRET_ACCESS_KEY=" + std::string(kS3SecretKey),
      "RCLONE_CONFIG_PRTEST_FORCE_PATH_STYLE=true",
      "RCLONE_CONFIG_PRTEST_REGION=us-east-1",
      "rclone",
      "--config",
      "/dev/null"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return argv;
}

// A fresh key prefix per test ("it/<name>-<time>"): tests share the bucket and the WebDAV
// root, and run side by side.
inline std::string unique_prefix(std::string_view name) {
  return "it/" + std::string(name) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

// The bytes of test-bucket/<key>, downloaded by rclone.
inline std::string s3_cat(std::string_view key) {
  RunResult result =
      run(rclone({"cat", "prtest:" + std::string(kS3Bucket) + "/" + std::string(key)}));
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  return result.out;
}

// Keys (relative to test-bucket) below `prefix`, listed by rclone.
inline std::vector<std::string> s3_list(std::string_view prefix) {
  RunResult result = run(rclone({"lsf", "-R", "--files-only",
                                 "prtest:" + std::string(kS3Bucket) + "/" + std::string(prefix)}));
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start < result.out.size()) {
    const std::size_t end = result.out.find('\n', start);
    keys.push_back(std::string(prefix) + "/" + result.out.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return keys;
}

// `key` with every byte but unreserved ones and '/' percent-encoded, as URLs need it.
inline std::string url_path(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// curl signing with SigV4 (an independent implementation of it).
inline std::vector<std::string> signed_curl(std::vector<std::string> arguments) {
  std::vector<std::string> argv{
      "curl",        "-s",
      "--aws-sigv4", "aws:amz:us-east-1:s3",
      "--user",      std::string(kS3AccessKey) + ":" + std::string(kS3SecretKey),
      "-H",          "x-amz-content-sha256: UNSIGNED-PAYLOAD"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return argv;
}

// The headers of HEAD test-bucket/<key>, names in lower case ("x-amz-meta-size", "etag"...).
inline std::map<std::string, std::string> s3_metadata(std::string_view key) {
  RunResult result = run(signed_curl(
      {"-I", std::string(kS3Endpoint) + "/" + std::string(kS3Bucket) + "/" + url_path(key)}));
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  std::map<std::string, std::string> headers;
  std::size_t start = 0;
  while (start < result.out.size()) {
    std::size_t end = result.out.find('\n', start);
    if (end == std::string::npos) end = result.out.size();
    std::string line = result.out.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto colon = line.find(": "); colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      headers[name] = line.substr(colon + 2);
    }
    start = end + 1;
  }
  return headers;
}

// Keys of the multipart uploads of test-bucket still in progress (neither completed nor
// aborted).
inline std::vector<std::string> s3_list_multipart_uploads() {
  RunResult result =
      run(signed_curl({std::string(kS3Endpoint) + "/" + std::string(kS3Bucket) + "?uploads"}));
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  std::vector<std::string> keys;
  for (std::size_t at = result.out.find("<Key>"); at != std::string::npos;
       at = result.out.find("<Key>", at + 5)) {
    const std::size_t end = result.out.find("</Key>", at);
    keys.push_back(result.out.substr(at + 5, end - at - 5));
  }
  return keys;
}

// tests/servers/fault_proxy.py in front of 127.0.0.1:<target_port>, running until destroyed.
class FaultProxy {
 public:
  FaultProxy(std::vector<std::string> faults, int target_port)
      : faults_(std::move(faults)), target_port_(target_port) {
    start(0);
  }
  ~FaultProxy() { stop(); }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // On the same port, with its fault counters from zero.
  void restart() {
    stop();
    start(port_);
  }

 private:
  void start(int port) {
    std::vector<std::string> argv{
        "python3",       std::string(PIPE_RUN_SOURCE_DIR) + "/tests/servers/fault_proxy.py",
        "--port",        std::to_string(port),
        "--target-port", std::to_string(target_port_)};
    argv.insert(argv.end(), faults_.begin(), faults_.end());
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<char*> args;
    for (auto& arg : argv)
      args.push_back(arg.data());
    args.push_back(nullptr);
    ASSERT_EQ(::posix_spawnp(&pid_, "python3", &actions, nullptr, args.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    ::close(out[0]);
    ASSERT_FALSE(line.empty()) << "fault_proxy.py did not start";
    port_ = std::stoi(line);
  }

  std::vector<std::string> faults_;
  int target_port_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace piperun::itest

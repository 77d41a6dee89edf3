#include "stages/upload/digest_cache.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/core.h>

namespace piperun::stages::upload {

std::filesystem::path DigestCache::default_path() {
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache != nullptr && *cache == '/')
    return std::filesystem::path(cache) / "pipe-run" / "digests.tsv";
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/')
    return std::filesystem::path(home) / ".cache" / "pipe-run" / "digests.tsv";
  return {};
}

std::string DigestCache::key_of(const FileIdentity& file, std::string_view algorithm) {
  return fmt::format("{} {} {} {} {} {}", file.device, file.inode, file.size, file.mtime_ns,
                     file.ctime_ns, algorithm);
}

void DigestCache::load() {
  if (file_.empty()) return;
  std::ifstream in(file_);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t last = line.rfind(' ');
    if (last == std::string::npos) continue;
    digests_[line.substr(0, last)] = line.substr(last + 1);
  }
}

void DigestCache::save() const {
  if (file_.empty() || !changed_) return;
  std::error_code error;
  std::filesystem::create_directories(file_.parent_path(), error);
  const std::filesystem::path temporary =
      file_.string() + fmt::format(".{}.tmp", static_cast<long>(::getpid()));
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& [key, digest] : digests_)
      out << key << ' ' << digest << '\n';
    if (!out) {
      std::filesystem::remove(temporary, error);
      return;
    }
  }
  std::filesystem::rename(temporary, file_, error);
  if (error) std::filesystem::remove(temporary, error);
}

std::optional<std::string> DigestCache::find(const FileIdentity& file,
                                             std::string_view algorithm) const {
  if (!file.known()) return std::nullopt;
  const auto found = digests_.find(key_of(file, algorithm));
  if (found == digests_.end()) return std::nullopt;
  return found->second;
}

void DigestCache::add(const FileIdentity& file, std::string_view algorithm, std::string digest) {
  if (!file.known()) return;
  std::string& stored = digests_[key_of(file, algorithm)];
  if (stored != digest) {
    stored = std::move(digest);
    changed_ = true;
  }
}

}  // namespace piperun::stages::upload

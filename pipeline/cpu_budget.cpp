#include "pipeline/cpu_budget.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <string>

namespace piperun::pipeline {
namespace {

std::string read_first_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

unsigned quota_to_cpus(double quota, double period) {
  if (quota <= 0 || period <= 0) return 0;
  return std::max(1u, static_cast<unsigned>(std::ceil(quota / period)));
}

// cgroup v2: "max 100000" or "200000 100000" in cpu.max of our cgroup or any ancestor.
unsigned v2_limit(const std::filesystem::path& root, std::string group) {
  unsigned best = 0;
  for (;;) {
    std::istringstream fields(
        read_first_line(root / group.substr(group.starts_with('/') ? 1 : 0) / "cpu.max"));
    std::string quota;
    double period = 0;
    if (fields >> quota >> period && quota != "max") {
      const unsigned cpus = quota_to_cpus(std::stod(quota), period);
      if (cpus > 0) best = best == 0 ? cpus : std::min(best, cpus);
    }
    if (group.empty() || group == "/") break;
    const auto slash = group.find_last_of('/');
    group = slash == std::string::npos ? std::string() : group.substr(0, slash);
  }
  return best;
}

// cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller.
unsigned v1_limit(const std::filesystem::path& root, const std::string& group) {
  for (const char* controller : {"cpu,cpuacct", "cpu"}) {
    const auto dir = root / controller / (group.starts_with('/') ? group.substr(1) : group);
    const std::string quota = read_first_line(dir / "cpu.cfs_quota_us");
    const std::string period = read_first_line(dir / "cpu.cfs_period_us");
    if (!quota.empty() && !period.empty()) {
      return quota_to_cpus(std::stod(quota), std::stod(period));
    }
  }
  return 0;
}

}  // namespace

unsigned cgroup_cpu_limit(const std::filesystem::path& cgroup_root,
                          const std::string& self_cgroup) {
  std::istringstream lines(self_cgroup);
  std::string line;
  unsigned limit = 0;
  while (std::getline(lines, line)) {
    // "hierarchy-id:controllers:path"
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    unsigned found = 0;
    if (controllers.empty()) {
      found = v2_limit(cgroup_root, path);
    } else if (("," + controllers + ",").find(",cpu,") != std::string::npos) {
      found = v1_limit(cgroup_root, path);
    }
    if (found > 0) limit = limit == 0 ? found : std::min(limit, found);
  }
  return limit;
}

unsigned usable_cpus() {
  unsigned cpus = 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    cpus = std::max(1, CPU_COUNT(&set));
  }
  std::ifstream self("/proc/self/cgroup");
  std::stringstream text;
  text << self.rdbuf();
  const unsigned quota = cgroup_cpu_limit("/sys/fs/cgroup", text.str());
  return quota > 0 ? std::min(cpus, quota) : cpus;
}

}  // namespace piperun::pipeline

// How many CPUs this process may really use: the affinity mask, capped by a cgroup CPU quota
// (CI containers often allow fewer CPUs than the machine has).
#pragma once

#include <filesystem>
#include <string>

namespace piperun::pipeline {

unsigned usable_cpus();

// The parts, for tests: `cgroup_root` is normally /sys/fs/cgroup, `self_cgroup` the text of
// /proc/self/cgroup. Returns 0 when there is no quota.
unsigned cgroup_cpu_limit(const std::filesystem::path& cgroup_root, const std::string& self_cgroup);

}  // namespace piperun::pipeline

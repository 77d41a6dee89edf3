// threads = 0: the CPUs we may use, from the affinity mask and the cgroup quota.
#include "pipeline/cpu_budget.hpp"

#include <sched.h>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace piperun::pipeline {
namespace {

TEST(CpuBudget, NeverMoreThanTheAffinityMask) {
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const unsigned cpus = usable_cpus();
  EXPECT_GE(cpus, 1u);
  EXPECT_LE(cpus, static_cast<unsigned>(CPU_COUNT(&set)));
}

TEST(CpuBudget, ReadsACgroupV2Quota) {
  testing::TempDir root;
  root.write("ci/job/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root.path(), "0::/ci/job\n"), 2u);  // 1.5 CPUs round up
}

TEST(CpuBudget, TakesTheTightestAncestorQuota) {
  testing::TempDir root;
  root.write("ci/cpu.max", "100000 100000\n");
  root.write("ci/job/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root.path(), "0::/ci/job\n"), 1u);
}

TEST(CpuBudget, NoQuotaMeansNoLimit) {
  testing::TempDir root;
  root.write("job/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root.path(), "0::/job\n"), 0u);
}

TEST(CpuBudget, ReadsACgroupV1Quota) {
  testing::TempDir root;
  root.write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  root.write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root.path(), "4:cpu,cpuacct:/docker/abc\n"), 3u);
  root.write("cpu,cpuacct/docker/def/cpu.cfs_quota_us", "-1\n");
  root.write("cpu,cpuacct/docker/def/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root.path(), "4:cpu,cpuacct:/docker/def\n"), 0u);
}

}  // namespace
}  // namespace piperun::pipeline

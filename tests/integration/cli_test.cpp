// The command line around a run: --version, --help, -q, -v.
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

TEST(ItCli, VersionPrintsTheVersion) {
  const RunResult result = run({kBinary.string(), "--version"});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.out + result.err, "pipe-run 0.")) << result.describe();
}

TEST(ItCli, HelpOfTheProgramAndEachSubcommandShowsExamples) {
  const RunResult program = run({kBinary.string(), "--help"});
  EXPECT_EQ(program.exit_code, 0) << program.describe();
  for (const char* expected : {"CONFIG", "--set", "--dry-run", "--json", "--progress", "--shard",
                               "bench", "verify", "Examples:", "Exit codes:"}) {
    EXPECT_TRUE(contains(program.out, expected)) << expected << "\n" << program.describe();
  }
  for (const char* subcommand : {"bench", "verify"}) {
    const RunResult help = run({kBinary.string(), subcommand, "--help"});
    EXPECT_EQ(help.exit_code, 0) << help.describe();
    EXPECT_TRUE(contains(help.out, "Examples:\n  pipe-run " + std::string(subcommand)))
        << help.describe();
  }
}

TEST(ItCli, WithoutAConfigItSaysWhatIsMissing) {
  const RunResult result = run({kBinary.string()});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "CONFIG is required")) << result.describe();
}

TEST(ItCli, QuietPrintsNothingOnSuccess) {
  Job job;
  job.file("a.txt", "alpha\n");
  const RunResult result = job.run_pipe({"-q"});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, "");
}

TEST(ItCli, QuietStillPrintsErrors) {
  Job job;
  job.set("input", "paths", "[" + toml_string((job.dir() / "missing-input").string()) + "]");
  const RunResult result = job.run_pipe({"-q"});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "missing-input")) << result.describe();
}

TEST(ItCli, VerboseNamesEveryFile) {
  Job job;
  job.file("first.txt", "1\n");
  job.file("sub/second.txt", "2\n");
  const RunResult result = job.run_pipe({"-v"});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.err, "first.txt")) << result.describe();
  EXPECT_TRUE(contains(result.err, "sub/second.txt")) << result.describe();
}

}  // namespace
}  // namespace piperun::itest

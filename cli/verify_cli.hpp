// The `pipe-run verify MANIFEST` subcommand: its arguments (the options that set them are in
// cli/main.cpp), and the run that re-checks every output a run recorded (the output tree, the
// store's files or objects) against the manifest's digests. One line per problem and a summary
// on stderr; --json prints one document on stdout.
#pragma once

#include <string>

namespace piperun::cli {

struct VerifyArguments {
  std::string manifest;
  bool download = false;
  bool json = false;
  bool quiet = false;
  std::string endpoint;
  std::string region;
  unsigned threads = 0;
  unsigned concurrency = 8;
};

// Returns the process exit code: 0 every output holds, 1 some do not (each named), 2 the
// manifest cannot be read, 3 a fatal error (no ring, credentials refused).
int run_verify_command(const VerifyArguments& arguments);

}  // namespace piperun::cli

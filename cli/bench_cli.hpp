// The `pipe-run bench` subcommand: its arguments (the options that set them are in
// cli/main.cpp), and the run that prints the table (stderr carries progress and errors; --json
// prints one document on stdout).
#pragma once

#include <string>

namespace piperun::cli {

struct BenchArguments {
  std::string dir = ".";
  std::string size = "1GiB";
  std::string block_size = "1MiB";
  unsigned queue_depth = 64;
  bool direct = false;
  bool warm = false;
  std::string stages = "hash,compress,write";
  bool json = false;
  double compressibility = 3.0;
  std::string runtime = "5s";
  int level = 3;
  unsigned threads = 0;
  std::string ring_setup = "auto";
  bool no_fixedbufs = false;
  bool registerfiles = false;
  bool no_batching = false;
};

// Returns the process exit code.
int run_bench_command(const BenchArguments& arguments);

}  // namespace piperun::cli

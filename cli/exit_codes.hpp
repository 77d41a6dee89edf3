// The process exit codes of DESIGN.md.
#pragma once

namespace piperun::cli {

enum ExitCode : int {
  kExitOk = 0,          // all done
  kExitSomeFailed = 1,  // some files failed: the manifest and stderr say which and why
  kExitUsage = 2,       // usage or configuration error: nothing was processed
  kExitFatal = 3,       // fatal runtime error
  kExitInterrupted = 130,
};

}  // namespace piperun::cli

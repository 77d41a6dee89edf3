#!/usr/bin/env bash
# The README's second command: installs what is missing, then configures, builds and runs every
# test with the release and the asan presets, the engine's under tsan, and the fuzz targets.
# Fails when any test fails. Works from any directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

scripts/install-deps.sh
# The real servers the upload tests talk to (radosgw for S3, nginx for HTTP PUT), started once
# here (the tests start them too when run alone) and stopped at the end.
tests/servers/test-servers.sh start
trap 'tests/servers/test-servers.sh stop' EXIT
# The optimised build, then the same suite under AddressSanitizer + UBSan (LeakSanitizer on):
# the integration tests run each build's own binary. Then the engine's suites (io, pipeline)
# under ThreadSanitizer: the I/O thread, the TBB workers and the walker thread. Then the
# libFuzzer targets (clang 16, ASan + UBSan), each for 10 s from its seed corpus in tests/fuzz.
# --no-tests=error: a build that registers no test must not pass.
for preset in release asan tsan fuzz; do
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset" --no-tests=error
done

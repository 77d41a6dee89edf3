#!/usr/bin/env bash
# The README's second command: installs what is missing, then configures, builds and runs every
# test with the release and the asan presets. Fails when any test fails. Works from any directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

scripts/install-deps.sh
# The real servers the upload tests talk to (radosgw for S3, nginx for HTTP PUT), started once
# here (the tests start them too when run alone) and stopped at the end.
tests/servers/test-servers.sh start
trap 'tests/servers/test-servers.sh stop' EXIT
# The optimised build, then the same suite under AddressSanitizer + UBSan (LeakSanitizer on):
# the integration tests run each build's own binary. --no-tests=error: a build that registers
# no test must not pass.
for preset in release asan; do
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset" --no-tests=error
done

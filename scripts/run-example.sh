#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release preset, hashes the
# bundled sample tree with examples/hash.toml and checks the result with the stock `xxhsum -c`.
# Works from any directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

# The paths examples/hash.toml configures (relative to examples/).
config=examples/hash.toml
sample=examples/sample
manifest=examples/out/manifest.json
checksums=examples/out/checksums.xxh128

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release

if [[ ! -d $sample ]]; then
  examples/make-sample-tree.sh "$sample"
fi

echo "+ build/release/pipe-run $config" >&2
status=0
build/release/pipe-run "$config" || status=$?
if ((status != 0)); then
  echo "run-example.sh: pipe-run exited with $status (see above and $manifest)" >&2
  exit "$status"
fi

echo
echo "manifest:      $root/$manifest"
echo "checksum file: $root/$checksums"
echo
echo "+ (cd $sample && xxhsum -c ../out/checksums.xxh128)" >&2
(cd -- "$sample" && xxhsum -c --quiet ../out/checksums.xxh128)
echo "xxhsum -c: all $(wc -l <"$checksums") files OK"

#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release preset, runs the
# main job (hash, compress, write, upload to a local file:// store) on the bundled sample tree
# with examples/artifacts.toml and checks the result with stock tools: `xxhsum -c` for the
# digests, `zstd -d` for every output and every stored object. A second run stores nothing.
# Works from any directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

# The paths examples/artifacts.toml configures (relative to examples/).
config=examples/artifacts.toml
sample=examples/sample
tree=examples/out/tree
manifest=examples/out/manifest.json
checksums=examples/out/checksums.xxh128
store=examples/out/store

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release

if [[ ! -d $sample ]]; then
  examples/make-sample-tree.sh "$sample"
fi

run=(build/release/pipe-run "$config" --set "upload.url=file://$root/$store")
echo "+ ${run[*]}" >&2
status=0
"${run[@]}" || status=$?
if ((status != 0)); then
  echo "run-example.sh: pipe-run exited with $status (see above and $manifest)" >&2
  exit "$status"
fi

echo
echo "output tree:   $root/$tree"
echo "manifest:      $root/$manifest"
echo "checksum file: $root/$checksums"
echo "store:         $root/$store"
echo
echo "+ (cd $sample && xxhsum -c ../out/checksums.xxh128)" >&2
(cd -- "$sample" && xxhsum -c --quiet ../out/checksums.xxh128)
echo "xxhsum -c: all $(wc -l <"$checksums") files OK"

echo "+ zstd -d -c $tree/<file>.zst | cmp - $sample/<file>, for every file" >&2
count=0
while IFS= read -r -d '' file; do
  rel=${file#"$sample"/}
  for output in "$tree/$rel.zst" "$store/$rel.zst"; do
    zstd -q -d -c -- "$output" | cmp -s - "$file" || {
      echo "run-example.sh: $output does not restore $file" >&2
      exit 1
    }
  done
  count=$((count + 1))
done < <(find "$sample" -type f -print0)
echo "zstd -d: all $count outputs and stored objects restore their input byte for byte"

echo "+ ${run[*]}   # again: the store already holds every file" >&2
"${run[@]}"

#!/usr/bin/env bash
# pipe-run's compress + write benchmark, one command (as root: it drops the page cache before
# every run):
#
#   bench/compress_bench.sh
#
# 1. hash + compress + write, warm page cache, at each zstd level of LEVELS (1 and 3): pipe-run
#    (stages = ["hash", "compress", "write"], XXH3-128, one .zst per file) against
#      tar:   `tar -cf - DIR | zstd -T0 -LEVEL` (one archive, no checksums; -T0:
#             a thread per core), and
#      shell: the best shell pipeline doing the same job, `find . -type f -print0 |
#             xargs -0 -P$(nproc) -n 64 sh -c 'xxhsum -H2 ... ; zstd -LEVEL --output-dir-mirror'`
#             (one checksum file per sh process, concatenated at the end: concurrent writers
#             to one file would interleave lines), and
#      copy:  `cp -r DIR` (no target in the issue: it creates the same files and neither
#             hashes nor compresses; it copies their bytes inside the kernel, with
#             copy_file_range, so on the small files it shows the file system's file-creation
#             floor, and on the large trees mostly a 1 GB in-kernel copy),
#    on the trees of TREES:
#      mixed: MIXED_FILES (4,000) files of log-uniform sizes 1 KiB..1 MiB in 256 directories,
#             plus 11 large files of 1..64 MiB (383 MiB); about 1 GiB in all. Content: pieces of
#             /usr/include (text), generated log lines, pieces of the shared libraries in
#             /usr/lib/x86_64-linux-gnu (binaries) and AES-CTR output (random, ~15% of the bytes).
#      small: SMALL_FILES (20,000) files of log-uniform sizes 1 B..64 KiB in 256 directories,
#             the same mixture of contents (about 130 MB): per-file costs, in files per second.
#      real:  a copy of about REAL_MIB (1024) MiB of regular files: /usr/include, then /usr/lib,
#             in sorted order, until the total reaches REAL_MIB.
#    Ratio = peer time / pipe-run time (> 1: pipe-run is faster). Compressed size: the sum of
#    pipe-run's .zst files against the sum of the shell pipeline's per-file .zst files.
#    The CPU limit, each round with the others: `zstd -bLEVEL` (in memory, one core) on a tar
#    of the tree, times the cores; pipe-run's MB/s against it (issue 5: at least 0.9x at level
#    3 on the mixed and real trees). The tar is made once, untimed, in BENCH_DIR/compress/tars.
# 2. One large file (LARGE_MIB, 1024 MiB: tar of /usr/share and /usr/include, repeated),
#    warm: pipe-run against `zstd -T0 -LEVEL`. pipe-run's CPU time (user + sys, from
#    /usr/bin/time) / wall time shows whether all cores worked on the one file.
# 3. Frame size (FRAME_TABLE=1): pipe-run at level 3 on the real tree with chunk_size 1, 2 (the
#    default), 4 and 16 MiB. Chunks are independent zstd frames, so the chunk size decides the ratio: total
#    compressed bytes against per-file `zstd -3`.
#
# Before every timed run: all outputs deleted, `sync`, caches dropped, the tools' binaries
# warmed and the input read once (warm page cache). Rounds alternate which tool goes first;
# tables show medians (MB = 10^6 bytes) and pipe-run's largest peak RSS (/usr/bin/time %M).
# Round 1 also checks pipe-run's outputs, untimed: one .zst per input file, `zstd -t` on all,
# a few decoded and compared with their inputs, and `xxhsum -c` from the input root.
#
# Environment: BENCH_DIR (default bench/work; a disk, not tmpfs; this script uses
# BENCH_DIR/compress), ROUNDS (3), LEVELS ("1 3"), TREES ("mixed real small"), SMALL_FILES (20000), FRAME_TABLE (1),
# MIXED_FILES (4000), REAL_MIB (1024), LARGE_MIB (1024), MEMORY_LIMIT_MIB (256, pipe-run's
# memory_limit), TIMEOUT (900: seconds before a pipe-run run counts as hung and fails the
# benchmark), OUTPUTS (delete: each run's outputs are deleted before the next; fresh: every run
# writes into a new directory, all deleted at the end), PIPE_RUN (the binary to measure;
# default: build/release/pipe-run, built first).
# Generated inputs are kept and reused by the next run; delete BENCH_DIR/compress to
# regenerate them. The table is also written to BENCH_DIR/compress-results.txt.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

BENCH_DIR=${BENCH_DIR:-$root/bench/work}
ROUNDS=${ROUNDS:-3}
LEVELS=${LEVELS:-1 3}
TREES=${TREES:-mixed real small}
SMALL_FILES=${SMALL_FILES:-20000}
FRAME_TABLE=${FRAME_TABLE:-1}
MIXED_FILES=${MIXED_FILES:-4000}
REAL_MIB=${REAL_MIB:-1024}
LARGE_MIB=${LARGE_MIB:-1024}
MEMORY_LIMIT_MIB=${MEMORY_LIMIT_MIB:-256}
TIMEOUT=${TIMEOUT:-900}
OUTPUTS=${OUTPUTS:-delete}
run_number=0

script_name=compress_bench.sh
# shellcheck source=bench/common.sh
source bench/common.sh

read -r -a levels <<<"$LEVELS"
read -r -a trees <<<"$TREES"
for level in "${levels[@]}"; do
  [[ $level =~ ^(-[1-9][0-9]*|[1-9]|1[0-9])$ ]] || die "LEVELS: not a zstd level (-N..19): $level"
done
[[ $OUTPUTS == delete || $OUTPUTS == fresh ]] || die "OUTPUTS must be delete or fresh"
for tree in "${trees[@]}"; do
  [[ $tree == mixed || $tree == real || $tree == small ]] ||
    die "TREES: unknown tree: $tree (mixed, real, small)"
done
for var in ROUNDS MIXED_FILES SMALL_FILES REAL_MIB LARGE_MIB MEMORY_LIMIT_MIB TIMEOUT; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer"
done

bench_setup

work=$BENCH_DIR/compress
mixed=$work/mixed
small=$work/small
real=$work/real
large=$work/large/large.bin
out=$work/out
conf=$work/conf
logs=$work/logs
mkdir -p -- "$conf" "$logs"
rm -rf -- "${out:?}" "$work/outs" "$work/tars"
cpus=$(nproc)
mib=1048576

# ---- inputs (generated once, kept while their parameters stay the same) ----


# take BYTES FILE COMMAND...: the first BYTES bytes of COMMAND's output into FILE, which must
# get all of them. (The command dies of SIGPIPE when head has enough: not an error here.)
take() {
  local bytes=$1 file=$2
  shift 2
  { "$@" | head -c "$bytes" >"$file"; } 2>/dev/null || true
  [[ $(stat -c %s -- "$file") == "$bytes" ]] || die "$file: could not get $bytes bytes from: $*"
}

# The content pools the mixed tree's files are cut from, 96 MiB each.
aes_stream() {
  openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
    -iv 00000000000000000000000000000000 </dev/zero
}
sorted_files() { find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 cat; }

# gen_tree DIR FILES MIN_BYTES DOUBLINGS LARGE: FILES files of log-uniform sizes MIN_BYTES ..
# MIN_BYTES * 2^DOUBLINGS cut from the content pools, in 256 directories; with LARGE = 1 also
# the 11 large files.
gen_tree() {
  local dir=$1 files=$2 min=$3 doublings=$4 with_large=$5
  local params="files=$files sizes=$min..2^$doublings large=$with_large pools=96MiB seed=20240602"
  made "$dir" "$params" && return
  log "generating $dir: $params"
  rm -rf -- "$dir" "$dir.done" "$work/pools"
  mkdir -p -- "$work/pools"
  local pool=$((96 * mib))
  take "$pool" "$work/pools/text" sorted_files /usr/include
  take "$pool" "$work/pools/bin" sorted_files /usr/lib/x86_64-linux-gnu -name '*.so*'
  take "$pool" "$work/pools/random" aes_stream
  # perl-base is Essential on Debian: no process per file, so this takes seconds.
  perl -e '
    use strict; use warnings;
    my ($root, $pools, $nfiles, $pool_size, $min, $doublings, $with_large) = @ARGV;
    srand(20240602);
    my %pool;
    for my $kind (qw(text bin random)) {
      open(my $fh, "<:raw", "$pools/$kind") or die "$pools/$kind: $!";
      local $/; $pool{$kind} = <$fh>; close($fh);
    }
    # Log lines: service logs with timestamps, levels, ids and latencies.
    my @lvl = (("INFO") x 8, "DEBUG", "DEBUG", "WARN", "ERROR");
    my @svc = qw(api auth billing cache gateway indexer mailer scheduler search storage worker);
    my @path = qw(/v1/users /v1/orders /v1/items /v2/search /health /v1/login /v1/cart /static);
    my @msg = ("request completed", "cache miss, fetching from origin", "retrying upstream",
      "connection reset by peer", "slow query detected", "user session refreshed",
      "job finished", "queue depth above threshold", "token expired", "payload validated");
    my ($t, $log) = (1717200000, "");
    while (length($log) < $pool_size) {
      $t += rand(0.05);
      my @tm = gmtime(int($t));
      $log .= sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s-%d %s[%d]: %-5s %s id=%08x path=%s status=%d dur=%.1fms\n",
        $tm[5] + 1900, $tm[4] + 1, $tm[3], $tm[2], $tm[1], $tm[0], int(($t - int($t)) * 1000),
        $svc[int(rand(@svc))], int(rand(16)), $svc[int(rand(@svc))], 1000 + int(rand(30000)),
        $lvl[int(rand(@lvl))], $msg[int(rand(@msg))], int(rand(2 ** 32)),
        $path[int(rand(@path))], (200, 200, 200, 201, 204, 304, 404, 500)[int(rand(8))],
        rand(250));
    }
    $pool{log} = substr($log, 0, $pool_size);
    my %ext = (text => "txt", log => "log", bin => "so", random => "dat");
    sub put {
      my ($path, $kind, $size) = @_;
      open(my $fh, ">:raw", $path) or die "$path: $!";
      print $fh substr($pool{$kind}, int(rand($pool_size - $size + 1)), $size);
      close($fh) or die "$path: $!";
    }
    mkdir $root or die "$root: $!";
    for my $d (0 .. 63) {
      mkdir sprintf("%s/d%02d", $root, $d) or die "$!";
      mkdir sprintf("%s/d%02d/s%d", $root, $d, $_) or die "$!" for 0 .. 3;
    }
    for my $i (0 .. $nfiles - 1) {
      my $size = int($min * 2 ** (rand() * $doublings));   # log-uniform
      my $r = rand();
      my $kind = $r < 0.15 ? "random" : $r < 0.50 ? "text" : $r < 0.75 ? "log" : "bin";
      put(sprintf("%s/d%02d/s%d/f%05d.%s", $root, $i % 64, int($i / 64) % 4, $i, $ext{$kind}),
        $kind, $size);
    }
    exit 0 unless $with_large;
    # 383 MiB of large files, 57 MiB of them random.
    mkdir "$root/large" or die "$!";
    my @large = ([1, "random"], [2, "text"], [4, "bin"], [8, "random"], [16, "random"],
      [32, "random"], [64, "text"], [64, "log"], [64, "bin"], [64, "text"], [64, "log"]);
    my $n = 0;
    for my $l (@large) {
      my ($m, $kind) = @$l;
      put(sprintf("%s/large/large%02d.%s", $root, $n++, $ext{$kind}), $kind, $m * 1048576);
    }' "$dir" "$work/pools" "$files" "$pool" "$min" "$doublings" "$with_large"
  rm -rf -- "$work/pools"
  echo "$params" >"$dir.done"
}

gen_real() {
  local params="mib=$REAL_MIB from=/usr/include,/usr/lib"
  made "$real" "$params" && return
  log "generating $real: $params, regular files in sorted order"
  rm -rf -- "$real" "$real.done"
  mkdir -p -- "$real"
  # Names with a newline or a backslash are left out: xxhsum escapes them in its output.
  { find /usr/include -type f -printf '%s\t%p\0' | LC_ALL=C sort -z -t $'\t' -k 2
    find /usr/lib -type f -printf '%s\t%p\0' | LC_ALL=C sort -z -t $'\t' -k 2; } |
    perl -0 -ne '
      BEGIN { $limit = shift(@ARGV) * 1048576; $total = 0 }
      chomp; my ($size, $path) = split(/\t/, $_, 2);
      next if $path =~ /[\n\\]/;
      next if $total >= $limit;   # read on: an early exit would fail the pipeline
      $total += $size; print substr($path, 1), "\0";' "$REAL_MIB" |
    (
      # Relative to /: cp 9.1 --parents --preserve resolves the parents from the cwd.
      cd / && xargs -0 cp --parents --preserve=mode,timestamps -t "$real" --
    )
  echo "$params" >"$real.done"
}

# repeat_file N FILE: FILE's contents N times.
repeat_file() {
  local i
  for ((i = 0; i < $1; i++)); do cat -- "$2"; done
}

gen_large() {
  local params="mib=$LARGE_MIB from=tar:/usr/share,/usr/include"
  made "$large" "$params" && return
  log "generating $large: $params, repeated to the size"
  rm -f -- "$large" "$large.done"
  mkdir -p -- "$(dirname -- "$large")"
  local want=$((LARGE_MIB * mib)) have
  # Warnings (sockets, files that changed) do not matter here: the sizes are checked.
  tar --sort=name -C /usr -cf - share include 2>/dev/null | head -c "$want" >"$large.base" || true
  have=$(stat -c %s -- "$large.base")
  ((have > 0)) || die "$large: tar of /usr/share and /usr/include gave nothing"
  take "$want" "$large" repeat_file $(((want + have - 1) / have)) "$large.base"
  rm -f -- "$large.base"
  echo "$params" >"$large.done"
}

frame_table=0
[[ $FRAME_TABLE == 1 ]] && frame_table=1
gen_mixed() { gen_tree "$mixed" "$MIXED_FILES" 1024 10 1; }
gen_small() { gen_tree "$small" "$SMALL_FILES" 1 16 0; }
for tree in "${trees[@]}"; do
  "gen_$tree"
done
if ((frame_table)); then gen_real; fi
gen_large
sync

# ---- configurations (absolute paths; outputs outside the inputs) ----

# write_conf NAME INPUT LEVEL [EXTRA PIPELINE KEYS...]
write_conf() {
  local name=$1 input=$2 level=$3
  shift 3
  {
    echo "# generated by bench/compress_bench.sh"
    echo "[input]"
    echo "paths = ['$input']"
    echo "[pipeline]"
    echo 'stages = ["hash", "compress", "write"]'
    echo "threads = 0"
    echo "memory_limit = \"${MEMORY_LIMIT_MIB}MiB\""
    if (($#)); then printf '%s\n' "$@"; fi
    echo "[compress]"
    echo "level = $level"
    echo "[output]"
    echo "dir = '$out/$name/tree'"
    echo "manifest = '$out/$name/manifest.json'"
    echo "checksums = '$out/$name/checksums.xxh128'"
  } >"$conf/$name.toml"
}
for level in "${levels[@]}"; do
  for tree in "${trees[@]}"; do
    write_conf "pr-$tree-$level" "${!tree}" "$level"
  done
  write_conf "pr-large-$level" "$large" "$level"
done
frame_sizes=(1MiB 2MiB 4MiB 16MiB)
for size in "${frame_sizes[@]}"; do
  write_conf "pr-frame-$size" "$real" 3 "chunk_size = \"$size\""
done

# ---- measurement helpers ----

# test_ EXPR: true when the awk condition holds.
test_() { awk "BEGIN { exit !($1) }"; }

# zflag LEVEL: zstd's option for LEVEL (negative levels are --fast=N).
zflag() { if (($1 < 0)); then echo "--fast=$((-$1))"; else echo "-$1"; fi; }

# Sizes: all regular files under a path (a file or a tree), or only the .zst ones.
path_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }
zst_bytes() { find "$1" -type f -name '*.zst' -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }
path_files() { find "$1" -type f | wc -l; }

# prepare INPUT: a clean, cold start; then the tools and the input warmed.
# OUTPUTS=fresh: each run writes into a new directory behind the `out` link, and all are deleted
# at the end, because ext4 creates files slowly just after many were deleted (it scans the
# recently deleted inodes, still costly after a cache drop: 2-6% of pipe-run's samples).
prepare() {
  if [[ $OUTPUTS == fresh ]]; then
    run_number=$((run_number + 1))
    mkdir -p -- "$work/outs/$run_number"
    ln -sfn -- "$work/outs/$run_number" "$out"
  else
    rm -rf -- "${out:?}"
    mkdir -p -- "$out"
  fi
  sync
  echo 3 >/proc/sys/vm/drop_caches
  "$pipe_run" --version >/dev/null 2>&1 || true
  xxhsum --version >/dev/null 2>&1 || true
  zstd --version >/dev/null
  tar --version >/dev/null
  find / -maxdepth 0 >/dev/null
  xargs --version >/dev/null
  sh -c : && cat </dev/null
  # Piped through cat: GNU tar skips reading file contents when it writes to /dev/null.
  tar -C "$(dirname -- "$1")" -cf - "$(basename -- "$1")" | cat >/dev/null
}

# run_pipe_run NAME: times pipe-run on conf/NAME.toml; sets T (seconds), RSS (KiB) and CPU
# (user + sys seconds).
run_pipe_run() {
  local name=$1 t0 t1 status=0 rss user sys
  t0=$(now)
  # timeout(1) waits for pipe-run, so time's figures include it (max RSS of both, CPU summed).
  /usr/bin/time -f '%M %U %S' -o "$logs/$name.time" \
    timeout -k 10 "$TIMEOUT" "$pipe_run" "$conf/$name.toml" \
    >"$logs/$name.stdout" 2>"$logs/$name.stderr" || status=$?
  t1=$(now)
  if ((status == 124)); then
    tail -n 20 "$logs/$name.stderr" >&2
    die "pipe-run $conf/$name.toml timed out after ${TIMEOUT}s (log: $logs/$name.stderr)"
  elif ((status != 0)); then
    tail -n 20 "$logs/$name.stderr" >&2
    die "pipe-run $conf/$name.toml exited with $status (log: $logs/$name.stderr)"
  fi
  T=$(elapsed "$t0" "$t1")
  read -r rss user sys < <(tail -n 1 "$logs/$name.time")
  RSS=$rss
  CPU=$(calc "$user + $sys")
  if grep -q '"bytes_out"' "$out/$name/manifest.json" 2>/dev/null; then
    local manifest_out
    manifest_out=$(grep -o '"bytes_out" *: *[0-9]*' "$out/$name/manifest.json" | tail -n 1 |
      grep -o '[0-9]*$')
    if [[ $manifest_out != "$(zst_bytes "$out/$name/tree")" ]]; then
      log "note: $name: manifest bytes_out $manifest_out != .zst bytes on disk"
    fi
  else
    log "note: $name: no \"bytes_out\" in $out/$name/manifest.json"
  fi
}

# run_tar DIR LEVEL: times tar | zstd -T0 into out/tar/; sets T.
run_tar() {
  local t0 t1
  mkdir -p -- "$out/tar"
  t0=$(now)
  tar -C "$(dirname -- "$1")" -cf - "$(basename -- "$1")" |
    zstd -T0 "$(zflag "$2")" -q -o "$out/tar/tree.tar.zst"
  t1=$(now)
  T=$(elapsed "$t0" "$t1")
}

# run_copy DIR: times cp -r of DIR into out/copy/; sets T.
run_copy() {
  local t0 t1
  t0=$(now)
  cp -r -- "$1" "$out/copy"
  t1=$(now)
  T=$(elapsed "$t0" "$t1")
}

# run_shell DIR LEVEL: times the batched shell pipeline into out/shell/; sets T. Each sh
# process appends its batch's digests to a file named after its own PID (unique among the
# processes running at once; appending keeps a reused PID's lines), and the files are
# concatenated at the end into one checksum file. Paths are relative (./...), run from DIR,
# so that --output-dir-mirror mirrors the tree and `xxhsum -c` works from DIR.
run_shell() {
  local t0 t1 o=$out/shell
  mkdir -p -- "$o/sums"
  t0=$(now)
  (
    cd -- "$1"
    # stderr of xxhsum to a log: xxhsum 0.8.1 writes progress-clearing blanks there.
    # shellcheck disable=SC2016 # the sh -c script expands its own variables
    find . -type f -print0 |
      SUMS=$o/sums ZOUT=$o/tree ZFLAG=$(zflag "$2") XLOG=$logs/shell-xxhsum.stderr \
        xargs -0 -P"$cpus" -n 64 sh -c '
          xxhsum -H2 "$@" >>"$SUMS/$$.xxh128" 2>>"$XLOG" &&
            exec zstd -q "$ZFLAG" --output-dir-mirror "$ZOUT" "$@"' sh
    cat -- "$o/sums/"*.xxh128 >"$o/checksums.xxh128"
  )
  t1=$(now)
  T=$(elapsed "$t0" "$t1")
}

# run_zstd_bench DIR LEVEL: zstd's own in-memory benchmark, one core, on a tar of DIR (made
# once); sets ZB (compression MB/s as zstd prints it, MB = 10^6 bytes).
run_zstd_bench() {
  local tarfile=$work/tars/$(basename -- "$1").tar line
  if [[ ! -s $tarfile ]]; then
    mkdir -p -- "$work/tars"
    tar -C "$1" -cf "$tarfile.part" . && mv -- "$tarfile.part" "$tarfile"
  fi
  # The last progress line holds the result: "3#NAME : IN -> OUT (xR), C MB/s, D MB/s".
  line=$(zstd -b"$2" -i1 -- "$tarfile" 2>&1 | tr '\r' '\n' | grep -E 'MB/s' | tail -n 1)
  ZB=$(echo "$line" | sed -nE 's/.*\), *([0-9.]+) MB\/s.*/\1/p')
  [[ -n $ZB ]] || die "zstd -b$2 on $tarfile: no speed in '$line'"
}

# run_zstd FILE LEVEL: times zstd -T0 on one file into out/zstd/; sets T.
run_zstd() {
  local t0 t1
  mkdir -p -- "$out/zstd"
  t0=$(now)
  zstd -T0 "$(zflag "$2")" -q -o "$out/zstd/$(basename -- "$1").zst" -- "$1"
  t1=$(now)
  T=$(elapsed "$t0" "$t1")
}

# check_pipe_run NAME INPUT: untimed checks of pipe-run's outputs; prints ok or what failed.
check_pipe_run() {
  local name=$1 input=$2 o=$out/$1 base dir failed=() nin nout f
  if [[ -d $input ]]; then dir=$input base=; else dir=$(dirname -- "$input") base=$(basename -- "$input"); fi
  nin=$(path_files "$input")
  nout=$(find "$o/tree" -type f -name '*.zst' | wc -l)
  ((nin == nout)) || failed+=("count:$nout/$nin")
  find "$o/tree" -type f -name '*.zst' -print0 | xargs -0 -r zstd -tq 2>"$logs/$name.check" ||
    failed+=(zstd-t)
  # Decode and compare: the first and last files in sorted order and the largest.
  local sample
  if [[ -n $base ]]; then
    sample=$base
  else
    sample=$(
      cd -- "$dir"
      find . -type f -printf '%P\n' | LC_ALL=C sort | sed -n '1p;$p'
      find . -type f -printf '%s %P\n' | LC_ALL=C sort -k1,1nr -k2 | head -n 1 | cut -d' ' -f2-
    )
  fi
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    if [[ -n $base ]]; then
      # One file as input: its output is the tree's only .zst, whatever its name.
      local z
      z=$(find "$o/tree" -type f -name '*.zst' | head -n 1)
      [[ -n $z ]] && zstd -dcq -- "$z" | cmp -s - "$input" || failed+=("cmp:$f")
    else
      zstd -dcq -- "$o/tree/$f.zst" 2>>"$logs/$name.check" | cmp -s - "$dir/$f" ||
        failed+=("cmp:$f")
    fi
  done <<<"$sample"
  (cd -- "$dir" && xxhsum -c --status "$o/checksums.xxh128" 2>>"$logs/$name.check") ||
    failed+=(xxhsum-c)
  if ((${#failed[@]})); then
    log "$name: check FAILED: ${failed[*]} (log: $logs/$name.check)"
    echo FAILED
  else
    echo ok
  fi
}

# ---- 1. trees: pipe-run vs tar | zstd vs the shell pipeline ----

declare -A res
for level in "${levels[@]}"; do
  for tree in "${trees[@]}"; do
    dir=${!tree}
    key=$tree.$level
    name=pr-$tree-$level
    pr_t=() tar_t=() sh_t=() cp_t=() pr_rss=() zb=()
    res[$key.check]=-
    for ((r = 1; r <= ROUNDS; r++)); do
      if ((r % 2)); then order=(pipe-run tar shell copy zstd-b); else order=(zstd-b copy shell tar pipe-run); fi
      for tool in "${order[@]}"; do
        prepare "$dir"
        case $tool in
          pipe-run)
            run_pipe_run "$name"
            pr_t+=("$T")
            pr_rss+=("$RSS")
            res[$key.pr_bytes]=$(zst_bytes "$out/$name/tree")
            if ((r == 1)); then res[$key.check]=$(check_pipe_run "$name" "$dir"); fi
            ;;
          tar)
            run_tar "$dir" "$level"
            tar_t+=("$T")
            res[$key.tar_bytes]=$(stat -c %s -- "$out/tar/tree.tar.zst")
            ;;
          shell)
            run_shell "$dir" "$level"
            sh_t+=("$T")
            res[$key.sh_bytes]=$(zst_bytes "$out/shell/tree")
            nout=$(find "$out/shell/tree" -type f -name '*.zst' | wc -l)
            ((nout == $(path_files "$dir"))) || die "shell pipeline: $nout outputs for $dir"
            ;;
          copy)
            run_copy "$dir"
            cp_t+=("$T")
            ;;
          zstd-b)
            run_zstd_bench "$dir" "$level"
            zb+=("$ZB")
            log "$tree level $level round $r: zstd -b$level ${ZB} MB/s"
            continue
            ;;
        esac
        log "$tree level $level round $r: $tool ${T}s"
      done
    done
    res[$key.files]=$(path_files "$dir")
    res[$key.bytes]=$(path_bytes "$dir")
    res[$key.pr]=$(median "${pr_t[@]}")
    res[$key.tar]=$(median "${tar_t[@]}")
    res[$key.sh]=$(median "${sh_t[@]}")
    res[$key.cp]=$(median "${cp_t[@]}")
    res[$key.rss]=$(maxof "${pr_rss[@]}")
    res[$key.zb]=$(median "${zb[@]}")
    # The CPU limit: the cores x zstd's one-core MB/s; pipe-run's MB/s against it.
    res[$key.limit]=$(calc "$cpus * ${res[$key.zb]}")
    res[$key.limit_ratio]=$(calc "${res[$key.bytes]} / 1e6 / ${res[$key.pr]} / ${res[$key.limit]}")
  done
done

# ---- 2. one large file: pipe-run vs zstd -T0 ----

for level in "${levels[@]}"; do
  key=large.$level
  name=pr-large-$level
  pr_t=() z_t=() pr_rss=() pr_cpu=()
  res[$key.check]=-
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(pipe-run zstd); else order=(zstd pipe-run); fi
    for tool in "${order[@]}"; do
      prepare "$large"
      if [[ $tool == pipe-run ]]; then
        run_pipe_run "$name"
        pr_t+=("$T")
        pr_rss+=("$RSS")
        pr_cpu+=("$(calc "$CPU / $T")")
        res[$key.pr_bytes]=$(zst_bytes "$out/$name/tree")
        if ((r == 1)); then res[$key.check]=$(check_pipe_run "$name" "$large"); fi
        log "large level $level round $r: $tool ${T}s (CPU ${CPU}s)"
      else
        run_zstd "$large" "$level"
        z_t+=("$T")
        res[$key.z_bytes]=$(zst_bytes "$out/zstd")
        log "large level $level round $r: $tool ${T}s"
      fi
    done
  done
  res[$key.bytes]=$(path_bytes "$large")
  res[$key.pr]=$(median "${pr_t[@]}")
  res[$key.z]=$(median "${z_t[@]}")
  res[$key.cpu]=$(median "${pr_cpu[@]}")
  res[$key.rss]=$(maxof "${pr_rss[@]}")
done

# ---- 3. frame size: pipe-run level 3 on the real tree, each chunk_size of frame_sizes ----

if ((frame_table)); then
  if [[ -z ${res[real.3.sh_bytes]:-} ]]; then
    # The per-file zstd -3 reference was not measured above: one untimed run.
    prepare "$real"
    run_shell "$real" 3
    res[real.3.sh_bytes]=$(zst_bytes "$out/shell/tree")
  fi
  declare -A fr_t=() fr_rss=()
  for ((r = 1; r <= ROUNDS; r++)); do
    order=("${frame_sizes[@]}")
    if ((r % 2 == 0)); then
      for ((i = 0; i < ${#frame_sizes[@]}; i++)); do order[i]=${frame_sizes[-1 - i]}; done
    fi
    for size in "${order[@]}"; do
      prepare "$real"
      run_pipe_run "pr-frame-$size"
      fr_t[$size]="${fr_t[$size]:-} $T"
      fr_rss[$size]="${fr_rss[$size]:-} $RSS"
      res[frame.$size.bytes]=$(zst_bytes "$out/pr-frame-$size/tree")
      log "frame $size round $r: pipe-run ${T}s"
    done
  done
  for size in "${frame_sizes[@]}"; do
    read -r -a v <<<"${fr_t[$size]}"
    res[frame.$size.t]=$(median "${v[@]}")
    read -r -a v <<<"${fr_rss[$size]}"
    res[frame.$size.rss]=$(maxof "${v[@]}")
  done
fi
rm -rf -- "${out:?}" "$work/outs" "$work/tars"

# ---- report ----

mb() { calc "$1 / 1e6"; }
pct() { calc "($1 - $2) * 100 / $2"; }
{
  echo
  echo "pipe-run compress benchmark: $cpus CPUs, $ROUNDS rounds, medians; $work ($fstype)"
  echo "pipe-run: $("$pipe_run" --version 2>&1 | head -n 1); $(zstd --version | head -n 1)"
  echo
  echo "hash + compress + write, warm cache: pipe-run [hash, compress, write] vs"
  echo "  tar:   tar -cf - DIR | zstd -T0 -L"
  echo "  shell: find | xargs -0 -P$cpus -n 64 sh -c 'xxhsum -H2; zstd -L --output-dir-mirror'"
  echo "  copy:  cp -r DIR (no hashing, no compression: the same files created and written)"
  printf '%-5s %2s %5s %7s | %7s %7s %7s | %7s %5s | %7s %5s | %8s %8s %6s | %6s | %7s %5s\n' \
    tree L files MB pr_s pr_MB/s pr_RSS tar_s ratio sh_s ratio pr_zstMB sh_zstMB delta check \
    cp_s ratio
  for level in "${levels[@]}"; do
    for tree in "${trees[@]}"; do
      k=$tree.$level b=${res[$tree.$level.bytes]} p=${res[$tree.$level.pr]}
      printf '%-5s %2s %5d %7.1f | %7.3f %7.1f %6.1fM | %7.3f %5.2f | %7.3f %5.2f | %8.1f %8.1f %5.2f%% | %6s | %7.3f %5.2f\n' \
        "$tree" "$level" "${res[$k.files]}" "$(mb "$b")" \
        "$p" "$(calc "$b / 1e6 / $p")" "$(calc "${res[$k.rss]} / 1024")" \
        "${res[$k.tar]}" "$(calc "${res[$k.tar]} / $p")" \
        "${res[$k.sh]}" "$(calc "${res[$k.sh]} / $p")" \
        "$(mb "${res[$k.pr_bytes]}")" "$(mb "${res[$k.sh_bytes]}")" \
        "$(pct "${res[$k.pr_bytes]}" "${res[$k.sh_bytes]}")" "${res[$k.check]}" \
        "${res[$k.cp]}" "$(calc "${res[$k.cp]} / $p")"
    done
  done
  echo "  ratio = peer time / pipe-run time (> 1: pipe-run is faster); delta = pipe-run's .zst"
  echo "  bytes vs the shell pipeline's per-file zstd (> 0: pipe-run's outputs are larger)"
  echo
  echo "the CPU limit: $cpus x zstd -bL (in memory, one core) on a tar of the tree"
  printf '%-8s %-5s %2s | %9s %9s | %9s | %5s\n' row tree L zb_MB/s limit pr_MB/s ratio
  for level in "${levels[@]}"; do
    for tree in "${trees[@]}"; do
      k=$tree.$level
      printf '%-8s %-5s %2s | %9.1f %9.1f | %9.1f | %5.2f\n' cpulimit "$tree" "$level" \
        "${res[$k.zb]}" "${res[$k.limit]}" "$(calc "${res[$k.bytes]} / 1e6 / ${res[$k.pr]}")" \
        "${res[$k.limit_ratio]}"
    done
  done
  echo "  ratio = pipe-run's MB/s / the limit"
  echo
  echo "one large file, warm cache: pipe-run vs zstd -T0 -L"
  printf '%-5s %2s %7s | %7s %7s %7s %8s | %7s %5s | %8s %8s %6s | %6s\n' \
    file L MB pr_s pr_MB/s pr_RSS CPU/wall zstd_s ratio pr_zstMB zs_zstMB delta check
  for level in "${levels[@]}"; do
    k=large.$level b=${res[large.$level.bytes]} p=${res[large.$level.pr]}
    printf '%-5s %2s %7.1f | %7.3f %7.1f %6.1fM %8.2f | %7.3f %5.2f | %8.1f %8.1f %5.2f%% | %6s\n' \
      large "$level" "$(mb "$b")" "$p" "$(calc "$b / 1e6 / $p")" \
      "$(calc "${res[$k.rss]} / 1024")" "${res[$k.cpu]}" \
      "${res[$k.z]}" "$(calc "${res[$k.z]} / $p")" \
      "$(mb "${res[$k.pr_bytes]}")" "$(mb "${res[$k.z_bytes]}")" \
      "$(pct "${res[$k.pr_bytes]}" "${res[$k.z_bytes]}")" "${res[$k.check]}"
  done
  echo "  ratio = zstd time / pipe-run time; CPU/wall = pipe-run's (user + sys) / wall time"
  if ((frame_table)); then
    echo
    echo "frame size: pipe-run level 3 on the real tree; compressed bytes vs per-file zstd -3"
    printf '%-10s | %7s %7s | %9s %9s %6s\n' chunk_size pr_s pr_RSS pr_zstMB ref_zstMB delta
    for size in "${frame_sizes[@]}"; do
      printf '%-10s | %7.3f %6.1fM | %9.1f %9.1f %5.2f%%\n' "$size" "${res[frame.$size.t]}" \
        "$(calc "${res[frame.$size.rss]} / 1024")" "$(mb "${res[frame.$size.bytes]}")" \
        "$(mb "${res[real.3.sh_bytes]}")" "$(pct "${res[frame.$size.bytes]}" "${res[real.3.sh_bytes]}")"
    done
  fi
  # Acceptance targets (the issue's, at level 3).
  verdict() { if test_ "$1"; then echo pass; else echo FAIL; fi; }
  rss_limit=$(((MEMORY_LIMIT_MIB + 48) * 1024))
  if [[ " ${levels[*]} " == *" 3 "* ]]; then
    echo
    echo "targets, level 3:"
    for tree in "${trees[@]}"; do
      k=$tree.3 p=${res[$tree.3.pr]}
      # Issue 5's targets: 1.3x tar | zstd, 1.5x the shell pipeline (2x on the small files).
      min_sh=1.5
      [[ $tree == small ]] && min_sh=2.0
      printf '  %-5s tar ratio %5.2f >= 1.3: %s; shell ratio %5.2f >= %s: %s;' "$tree" \
        "$(calc "${res[$k.tar]} / $p")" "$(verdict "${res[$k.tar]} / $p >= 1.3")" \
        "$(calc "${res[$k.sh]} / $p")" "$min_sh" "$(verdict "${res[$k.sh]} / $p >= $min_sh")"
      d=$(pct "${res[$k.pr_bytes]}" "${res[$k.sh_bytes]}")
      printf ' size delta %.2f%% <= 2%%: %s; RSS %.1fM < %dM: %s' "$d" \
        "$(verdict "$d <= 2")" "$(calc "${res[$k.rss]} / 1024")" "$((rss_limit / 1024))" \
        "$(verdict "${res[$k.rss]} < $rss_limit")"
      if [[ $tree != small ]]; then
        f=${res[$k.limit_ratio]}
        printf '; CPU limit %.2f >= 0.9: %s' "$f" "$(verdict "$f >= 0.9")"
      fi
      echo
    done
    k=large.3 p=${res[large.3.pr]}
    printf '  large zstd ratio %5.2f >= 1.0: %s; CPU/wall %.2f >= 1.5: %s; RSS %.1fM < %dM: %s\n' \
      "$(calc "${res[$k.z]} / $p")" "$(verdict "${res[$k.z]} / $p >= 1.0")" \
      "${res[$k.cpu]}" "$(verdict "${res[$k.cpu]} >= 1.5")" \
      "$(calc "${res[$k.rss]} / 1024")" "$((rss_limit / 1024))" \
      "$(verdict "${res[$k.rss]} < $rss_limit")"
  fi
} | tee "$BENCH_DIR/compress-results.txt"

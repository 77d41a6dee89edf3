#!/usr/bin/env bash
# pipe-run's disk benchmark against fio, one command (as root: it drops the page cache before
# every run):
#
#   bench/disk_bench.sh
#
# `pipe-run bench --stages none` (raw I/O through pipe-run's own ring and buffers) against fio's
# io_uring engine with the same parameters (registered buffers, batched submission) on the same file, BENCH_DIR/disk/data/
# pipe-run-bench.dat of DISK_MIB MiB (laid out by pipe-run bench itself, kept and reused):
#   seq read:   the whole file, BLOCK x QD in flight        fio --rw=read
#   seq write:  DISK_MIB MiB to a separate file, BLOCK x QD, then a flush that neither rate
#               counts (fio leaves end_fsync out)          fio --rw=write --end_fsync=1
#   rand read:  4 KiB at queue depth 64 for RUNTIME, uniform offsets (repeats allowed, as
#               pipe-run's)                               fio --rw=randread --bs=4k --iodepth=64
#                                                              --time_based --norandommap
# O_DIRECT (DIRECT=1, the default) on both; DIRECT=0 measures buffered I/O, where both drop the
# file's page cache before each row (pipe-run bench does, and fio's default --invalidate=1).
# Nothing here is a warm read: a warm fio read would need --invalidate=0.
# Ratio = pipe-run / fio (MB/s, or IOPS): 0.90..1.10 means the two agree; the sequential read
# must also reach 0.95 (the raw-read target).
#
# Each round runs pipe-run bench once (all three rows) and fio three times; rounds alternate
# which tool goes first. Before every timed run: the write outputs deleted, `sync`, caches
# dropped, the tools' binaries warmed. The table shows medians (MB = 10^6 bytes) and the exact
# commands; it is also written to BENCH_DIR/disk-results.txt.
#
# Until the binary has the bench subcommand (`pipe-run bench --help`), only fio runs, on a file
# of random data this script lays out; pipe-run's columns then read "-" and the verdicts "n/a".
#
# Environment: BENCH_DIR (default bench/work; a disk, not tmpfs: O_DIRECT needs a real file
# system; this script uses BENCH_DIR/disk), ROUNDS (3), DISK_MIB (2048), BLOCK (1MiB: bytes or
# pipe-run's units K/KiB/KB, M/MiB/MB, G/GiB/GB; fio gets the byte count, since fio reads "MiB"
# as 10^6), QD (64), RUNTIME (5s: whole seconds), DIRECT (1), PIPE_RUN (the binary to measure;
# default: build/release/pipe-run, built first).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

BENCH_DIR=${BENCH_DIR:-$root/bench/work}
ROUNDS=${ROUNDS:-3}
DISK_MIB=${DISK_MIB:-2048}
BLOCK=${BLOCK:-1MiB}
QD=${QD:-64}
RUNTIME=${RUNTIME:-5s}
DIRECT=${DIRECT:-1}

script_name=disk_bench.sh
# shellcheck source=bench/common.sh
source bench/common.sh

for var in ROUNDS DISK_MIB QD; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer"
done
[[ $RUNTIME =~ ^[1-9][0-9]*s$ ]] || die "RUNTIME must be whole seconds, such as 5s"
[[ $DIRECT == 0 || $DIRECT == 1 ]] || die "DIRECT must be 0 or 1"

# size_bytes SIZE: SIZE in bytes, with pipe-run's units (K, KiB = 1024; KB = 1000; and so on).
size_bytes() {
  local s=${1,,} n unit
  [[ $s =~ ^([0-9]+)\ *([a-z]*)$ ]] || return 1
  n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  case $unit in
    "" | b) echo $((n)) ;;
    k | kib) echo $((n * 1024)) ;;
    kb) echo $((n * 1000)) ;;
    m | mib) echo $((n * 1024 * 1024)) ;;
    mb) echo $((n * 1000 * 1000)) ;;
    g | gib) echo $((n * 1024 * 1024 * 1024)) ;;
    gb) echo $((n * 1000 * 1000 * 1000)) ;;
    *) return 1 ;;
  esac
}
block=$(size_bytes "$BLOCK") || die "BLOCK: not a size: $BLOCK"
((block > 0 && block % 4096 == 0)) || die "BLOCK must be a multiple of 4 KiB (O_DIRECT): $BLOCK"
size=$((DISK_MIB * 1048576))
((size >= block)) || die "DISK_MIB must hold at least one BLOCK"

bench_setup
command -v jq >/dev/null || die "needs jq (scripts/install-deps.sh --bench installs it)"

work=$BENCH_DIR/disk
data=$work/data
dat=$data/pipe-run-bench.dat
logs=$work/logs
mkdir -p -- "$data" "$logs"
cpus=$(nproc)

# Does this binary have the bench subcommand? (Without it, `pipe-run bench --help` prints the
# main help and succeeds, so look for one of its options.)
have_pr=0
if "$pipe_run" bench --help 2>&1 | grep -q -- '--queue-depth'; then have_pr=1; fi

# ---- the commands (arrays: run as they are, and printed in the report) ----

direct_flag=()
((DIRECT)) && direct_flag=(--direct)
pr_cmd=("$pipe_run" bench --dir "$data" --size "$size" --block-size "$block" --queue-depth "$QD"
  "${direct_flag[@]}" --stages none --json --runtime "$RUNTIME")
# Like with like: pipe-run bench reads into registered huge-page buffers and submits what is
# ready in one io_uring_enter; fio's defaults submit one request per call
# (iodepth_batch_submit=1) into plain buffers, which measured 0.5-1.0x of the same fio with these
# options on this disk (huge pages: fio_hugepages in common.sh). Writes too: from its own 4 KiB
# pages fio wrote 3.5-3.7 GB/s, from huge pages 5.3 (2 GiB, 2026-12-05), and what it wrote
# from them is its usual random bytes (1 MiB blocks read back compress to 0.92-1.0 MB with
# zstd -3; --zero_buffers wrote 6.3 GB/s). --refill_buffers makes fio CPU-bound (3.8 GB/s).
fio_hugepages $((QD * block))
fio_common=(--ioengine=io_uring --direct="$DIRECT" --size="$size" --output-format=json
  --fixedbufs --iodepth_batch_submit="$QD" --iodepth_batch_complete_max="$QD")
fio_read=(fio --name=seq-read --filename="$dat" --rw=read --bs="$block" --iodepth="$QD"
  "${fio_common[@]}" "${FIO_IOMEM[@]}")
fio_write=(fio --name=seq-write --filename="$data/fio-write.dat" --rw=write --bs="$block"
  --iodepth="$QD" --end_fsync=1 "${fio_common[@]}" "${FIO_IOMEM[@]}")
fio_rand=(fio --name=rand-read-4k --filename="$dat" --rw=randread --bs=4096 --iodepth=64
  --time_based --runtime="$RUNTIME" --norandommap "${fio_common[@]}" "${FIO_IOMEM[@]}")

# ---- the file (pipe-run bench lays it out, or reuses it; fio reads the same one) ----

if ((have_pr)); then
  # Untimed: a short run that lays the file out (or finds it reusable), so that every timed
  # round, whichever tool goes first, reads the same laid-out file.
  log "laying out $dat ($DISK_MIB MiB) with pipe-run bench (untimed)"
  layout_cmd=("${pr_cmd[@]}")
  layout_cmd[-1]=1s
  "${layout_cmd[@]}" >"$logs/layout.json" 2>"$logs/layout.stderr" ||
    die "pipe-run bench failed (log: $logs/layout.stderr)"
  got_path=$(jq -r '.file.path' "$logs/layout.json")
  got_size=$(jq -r '.file.size' "$logs/layout.json")
  [[ $(realpath -m -- "$got_path") == "$dat" ]] ||
    die "pipe-run bench used $got_path, not $dat: fio would read another file"
  [[ $got_size == "$size" ]] || die "pipe-run bench's file has $got_size bytes, not $size"
else
  log "WARNING: $pipe_run has no bench subcommand: fio only, pipe-run's figures are n/a"
  if ! made "$dat" "bytes=$size random"; then
    log "generating $dat: $DISK_MIB MiB of random data"
    rm -f -- "$dat" "$dat.done"
    head -c "$size" /dev/urandom >"$dat"
    echo "bytes=$size random" >"$dat.done"
  fi
fi
[[ $(stat -c %s -- "$dat") == "$size" ]] || die "$dat does not have $size bytes"
sync

# ---- measurement helpers ----

# clean: the write outputs deleted (everything in the data directory but the test file).
clean() {
  find "$data" -mindepth 1 -maxdepth 1 ! -name pipe-run-bench.dat ! -name pipe-run-bench.dat.done \
    -exec rm -rf -- {} +
}

# prepare: a clean, cold start: outputs deleted, caches dropped, the tools' binaries warmed.
prepare() {
  clean
  sync
  echo 3 >/proc/sys/vm/drop_caches
  "$pipe_run" --version >/dev/null 2>&1 || true
  fio --version >/dev/null
  jq --version >/dev/null
}

# json_of FILE: FILE from its first line that opens a JSON document (fio may print notes first).
json_of() { sed -n '/^{/,$p' -- "$1"; }

# run_pr: pipe-run bench, all three rows; sets PR_READ, PR_WRITE (MB/s), PR_IOPS, PR_LIMIT.
run_pr() {
  local status=0 j=$logs/pipe-run.json
  "${pr_cmd[@]}" >"$j" 2>"$logs/pipe-run.stderr" || status=$?
  if ((status != 0)); then
    tail -n 20 "$logs/pipe-run.stderr" >&2
    die "pipe-run bench exited with $status (log: $logs/pipe-run.stderr)"
  fi
  row() { jq -er --arg n "$1" ".rows[] | select(.name == \$n) | .$2" "$j" ||
    die "no $1 $2 in $j"; }
  PR_READ=$(row seq-read mb_per_s)
  PR_WRITE=$(row seq-write mb_per_s)
  PR_IOPS=$(row rand-read-4k iops)
  PR_LIMIT="$(row seq-read limited_by)/$(row seq-write limited_by)/$(row rand-read-4k limited_by)"
}

# run_fio NAME FIELD: the fio command fio_NAME; prints FIELD (a jq path) of its only job.
run_fio() {
  local -n cmd=fio_$1
  local out=$logs/fio-$1.json value
  "${cmd[@]}" --output="$out" >/dev/null 2>"$logs/fio-$1.stderr" ||
    die "fio $1 failed (log: $logs/fio-$1.stderr)"
  value=$(json_of "$out" | jq -er ".jobs[0].$2") || die "no .jobs[0].$2 in $out"
  echo "$value"
}

# ---- rounds ----

pr_read=() pr_write=() pr_iops=() fio_read_mb=() fio_write_mb=() fio_iops=() pr_limit=-
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order=(pipe-run fio); else order=(fio pipe-run); fi
  for tool in "${order[@]}"; do
    if [[ $tool == pipe-run ]]; then
      ((have_pr)) || continue
      prepare
      run_pr
      pr_read+=("$PR_READ") pr_write+=("$PR_WRITE") pr_iops+=("$PR_IOPS") pr_limit=$PR_LIMIT
      log "disk round $r: pipe-run read $PR_READ MB/s, write $PR_WRITE MB/s, $PR_IOPS IOPS"
    else
      # (v=$(...) on a line of its own: a failed run_fio then stops the script.)
      prepare
      v=$(run_fio read read.bw_bytes)
      fio_read_mb+=("$(calc "$v / 1e6")")
      prepare
      v=$(run_fio write write.bw_bytes)
      fio_write_mb+=("$(calc "$v / 1e6")")
      prepare
      v=$(run_fio rand read.iops)
      fio_iops+=("$v")
      log "disk round $r: fio read ${fio_read_mb[-1]} MB/s, write ${fio_write_mb[-1]} MB/s," \
        "${fio_iops[-1]} IOPS"
    fi
  done
done
clean

# ---- report ----

# line ROW UNIT PR_VALUES FIO_VALUES LOW HIGH: one table row of medians, ratio and verdict.
line() {
  local name=$1 unit=$2 low=$5 high=$6 p f ratio verdict pv fv
  read -r -a pv <<<"$3"
  read -r -a fv <<<"$4"
  f=$(median "${fv[@]}")
  if ((${#pv[@]})); then
    p=$(median "${pv[@]}")
    ratio=$(calc "$p / $f")
    if awk -v r="$ratio" -v lo="$low" -v hi="$high" 'BEGIN { exit !(r >= lo && r <= hi) }'; then
      verdict=pass
    else
      verdict=FAIL
    fi
    printf '%-12s %-4s | %10.1f %10.1f | %5.2f %-7s | %s..%s\n' "$name" "$unit" "$p" "$f" \
      "$ratio" "$verdict" "$low" "$high"
  else
    printf '%-12s %-4s | %10s %10.1f | %5s %-7s | %s..%s\n' "$name" "$unit" - "$f" - n/a \
      "$low" "$high"
  fi
}
mode=direct
((DIRECT)) || mode=buffered
{
  echo
  echo "pipe-run disk benchmark: $cpus CPUs, $ROUNDS rounds, medians; $work ($fstype)"
  echo "pipe-run bench [--stages none] vs fio io_uring on $dat ($(printf '%.1f' "$(calc "$size / 1e6")") MB), $mode"
  echo "  seq: $block B x QD$QD; rand: 4096 B x QD64 for $RUNTIME"
  printf '%-12s %-4s | %10s %10s | %5s %-7s | %s\n' row unit pipe-run fio ratio verdict target
  line seq-read MB/s "${pr_read[*]}" "${fio_read_mb[*]}" 0.95 1.10
  line seq-write MB/s "${pr_write[*]}" "${fio_write_mb[*]}" 0.90 1.10
  line rand-read-4k IOPS "${pr_iops[*]}" "${fio_iops[*]}" 0.90 1.10
  echo "  ratio = pipe-run / fio; target: agree within 10% (0.90..1.10), and seq-read >= 0.95"
  if ((have_pr)); then
    echo "  pipe-run limited_by (read/write/rand, last round): $pr_limit"
  else
    echo "  pipe-run: no bench subcommand in $pipe_run: fio only"
  fi
  echo "commands:"
  echo "  pipe-run: $(printf '%q ' "${pr_cmd[@]}")"
  echo "  fio-read: $(printf '%q ' "${fio_read[@]}")"
  echo "  fio-write: $(printf '%q ' "${fio_write[@]}")"
  echo "  fio-rand: $(printf '%q ' "${fio_rand[@]}")"
} | tee "$BENCH_DIR/disk-results.txt"

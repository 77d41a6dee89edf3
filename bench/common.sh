# shellcheck shell=bash disable=SC2154
# Shared by the bench/*.sh scripts: sourced after `set -euo pipefail`, with $root the repository
# and $script_name set. Defines the helpers below and, through bench_setup, $pipe_run and a
# checked, absolute $BENCH_DIR.

die() {
  echo "$script_name: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# made PATH PARAMS: true when PATH was completely generated with PARAMS.
made() { [[ -f $1.done && $(cat -- "$1.done") == "$2" ]]; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
# calc EXPR: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# Root (it drops caches), the bench tools, the binary to measure (PIPE_RUN, or the release build,
# built first) and BENCH_DIR on a real disk.
bench_setup() {
  [[ -w /proc/sys/vm/drop_caches ]] || die "needs root (writes /proc/sys/vm/drop_caches)"
  scripts/install-deps.sh --bench
  if [[ -n ${PIPE_RUN:-} ]]; then
    pipe_run=$(realpath -- "$PIPE_RUN")
  else
    if [[ ! -f build/release/build.ninja ]]; then
      cmake --preset release
    fi
    cmake --build --preset release --target pipe-run
    pipe_run=$root/build/release/pipe-run
  fi
  [[ -x $pipe_run ]] || die "not an executable: $pipe_run"

  mkdir -p -- "$BENCH_DIR"
  BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)
  [[ $BENCH_DIR != *"'"* ]] || die "BENCH_DIR must not contain a single quote"
  # findmnt names ext4 as such; statfs's magic number cannot tell it from ext2 and ext3.
  fstype=$(findmnt -n -o FSTYPE -T "$BENCH_DIR" 2>/dev/null || stat -f -c %T -- "$BENCH_DIR")
  [[ $fstype != tmpfs && $fstype != ramfs ]] || die "BENCH_DIR is on $fstype; use a disk"
}

# fio_hugepages BYTES: sets FIO_IOMEM to the fio options that give fio's I/O buffers huge pages
# (--iomem=shmhuge), reserving enough of them (vm.nr_hugepages, put back when the script exits),
# or to nothing when the kernel cannot reserve them. pipe-run's buffers are transparent huge
# pages: on a virtio disk a 1 MiB request from them is one segment, where fio's default buffers
# give 256 page-sized ones, and fio read 3.9-5.5 GB/s with its default buffers against 5.5-6.0
# with huge pages in the same minutes here. Like is compared with like: the stronger fio.
fio_hugepages() {
  local want have
  want=$((($1 + 2097151) / 2097152 + 2))
  have=$(cat /proc/sys/vm/nr_hugepages)
  FIO_IOMEM=()
  if ((have < want)); then
    if [[ -z ${hugepages_before:-} ]]; then
      hugepages_before=$have
      trap 'echo "$hugepages_before" >/proc/sys/vm/nr_hugepages' EXIT
    fi
    echo "$want" >/proc/sys/vm/nr_hugepages
    have=$(cat /proc/sys/vm/nr_hugepages)
  fi
  if ((have >= want)); then
    FIO_IOMEM=(--iomem=shmhuge)
  else
    log "could not reserve $want huge pages (got $have): fio runs with its default buffers"
  fi
}

#!/bin/sh
# run.sh [sched args...]: builds the Go side of the scheduler comparison
# (sched.go, see README.md) and runs it with 1 and then 2 workers
# (GOMAXPROCS), printing its lines as "go1 <name> ..." / "go2 <name> ...",
# so both counts can sit next to the C side's rows. Extra arguments (e.g.
# -n 100000, -only spawn) are passed to the program.
#
# Go is optional for the project: without it this prints a note on stderr
# and exits 0, so a caller can run it unconditionally.
#
# The build is offline and needs no writable home (env.sh). The binary
# goes to ${BUILD_DIR:-/tmp}/corun-go-sched, not into the source tree.
set -eu

if ! command -v go >/dev/null 2>&1; then
  echo "go: not installed" >&2
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
build_dir=${BUILD_DIR:-/tmp}
bin=$build_dir/corun-go-sched
. "$here/env.sh"

mkdir -p "$build_dir"
(cd "$here" && go build -o "$bin" .)

for procs in 1 2; do
  # Pin to as many CPUs as workers, so GOMAXPROCS=1 cannot borrow the other
  # core for GC or timers; skip pinning where those CPUs are not allowed.
  if [ "$procs" = 1 ]; then cpus=0; else cpus=0,1; fi
  pin=
  if command -v taskset >/dev/null 2>&1 && taskset -c "$cpus" true 2>/dev/null; then
    pin="taskset -c $cpus"
  fi
  # Captured rather than piped, so that a failing run (e.g. the mutex
  # count check) stops the script under set -e.
  out=$(GOMAXPROCS=$procs $pin "$bin" "$@")
  printf '%s\n' "$out" | sed "s/^go /go$procs /"
done

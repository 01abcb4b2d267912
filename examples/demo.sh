#!/bin/sh
# demo.sh: runs every example once, each under a one-line header, and exits
# non-zero if any of them fails. `make demo` calls it.
# Usage: sh examples/demo.sh BUILD_DIR/examples SOURCE_DIR
# SOURCE_DIR is the top of the source tree (its examples/ folder is accepted
# too). switch_cost runs last: its one line is the benchmark.
bin=${1:?usage: demo.sh BUILD_DIR/examples SOURCE_DIR}
src=${2:?usage: demo.sh BUILD_DIR/examples SOURCE_DIR}
calc=$src/examples/program.calc
[ -f "$calc" ] || calc=$src/program.calc

failed=
# run NAME TITLE [ARG...]: runs one example, remembers a failure.
run() {
  name=$1 title=$2
  shift 2
  echo "== $name: $title"
  "$bin/$name" "$@"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "demo: $name failed (exit $rc)" >&2
    failed="$failed $name"
  fi
}

run running_avg "a Python generator driven by next/send/close (seeds/000)"
run producer_consumer "symmetric transfer over a bounded queue (seeds/004)"
run dispatcher "generators and a trampoline dispatcher (seeds/004)"
run tokenizer_parser "a parser pulling tokens from a tokenizer (seeds/000)" \
  "$calc"
run ten_million "idle coroutines on shared stacks (N=10000000 for the full story)" \
  200000
run asyncio_queue "asyncio producers and consumers as tasks on a channel (seeds/004)" \
  10
run prime_sieve "the CSP prime sieve, one task per prime (seeds/004, seeds/000)" \
  100
run fan_out "fan-out/fan-in of CPU-bound tasks on 1 and 2 workers (seeds/000)" \
  300000
run bank "mutex, condition variable, semaphore, once and wait group: tellers and accounts"
run first_reply "select with a deadline over replicated queries; the losers cancelled"
run udp_log "datagrams, a log file, SIGTERM through a signalfd, fsync offloaded"
run echo_server "a TCP echo server, a task per connection, checked by client tasks" \
  50 200
# The HTTP examples need libhttp-parser; the build leaves them out without it.
if [ -x "$bin/http_server" ]; then
  run http_server "an HTTP/1.1 keep-alive server, a task per connection, checked by client tasks" \
    50 100
  run ab_service "service A calls service B (100 ms) per request: 1,000 requests at once"
fi
# hooked_redis needs hiredis to build and redis-server to run.
if [ ! -x "$bin/hooked_redis" ]; then
  echo "== hooked_redis: skipped (not built: libhiredis-dev missing)"
elif [ ! -x /usr/bin/redis-server ]; then
  echo "== hooked_redis: skipped (/usr/bin/redis-server missing; Debian: redis-server)"
else
  run hooked_redis "unchanged blocking hiredis code, 200 visits at once through libcorun_hook" \
    200
fi
run switch_cost "one resume+yield round trip"

if [ -n "$failed" ]; then
  echo "demo: failed:$failed" >&2
  exit 1
fi

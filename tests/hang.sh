#!/bin/bash
# hang.sh SECONDS CMD [ARG ...]: runs one test program (CMD, maybe behind
# valgrind or qemu) and exits with its status. If it is still running
# after SECONDS (ctest's own timeout comes later: tests/CMakeLists.txt),
# it prints what a developer needs to find out why, then kills it:
#  - every thread's stack (gdb; under Valgrind gdb through vgdb, Valgrind's
#    gdb server, since the process is Valgrind's; not under qemu, where
#    gdb would see the emulator);
#  - the scheduler's state (corun__S: the idle, spinning and asleep counts,
#    each worker's queues) and the unfinished tasks with their wait states
#    and reasons (tests/hang.gdb), where the program has the runtime's
#    debug symbols.
# ctest itself would only kill the program, and a hang seen once in many
# CI runs (valgrind sync/sem, TSan sync/bias) left nothing to look at.
# bash, not sh: arrays.
secs=$1
shift
hung=
trap 'hung=1' USR1
"$@" &
prog=$!
# The timer: a subshell that signals this script when the time is up, and
# takes its sleep with it when it is stopped first.
(
  trap 'kill "$nap" 2> /dev/null; exit 0' TERM
  sleep "$secs" &
  nap=$!
  wait "$nap" && kill -USR1 $$
) > /dev/null 2>&1 < /dev/null &
timer=$!
# (ctest, should its later timeout strike, stops this script: not the
# test with it, unless told)
trap 'kill -9 "$prog" 2> /dev/null; kill "$timer" 2> /dev/null; exit 143' TERM INT
# wait returns the test's status, also when bash has already reaped it
# (wait -n would not: a test that dies at once of a signal), or early,
# when the timer's signal comes.
wait "$prog"
rc=$?
if [ -z "$hung" ] || ! kill -0 "$prog" 2> /dev/null; then
  [ -n "$hung" ] && { wait "$prog"; rc=$?; } # it ended as time ran out
  kill "$timer" 2> /dev/null
  exit "$rc"
fi

exec 1>&2
echo "hang.sh: $* still running after $secs s; its state follows"
bin=
for a in "$@"; do bin=$a; done # the test program is the last word
gdb_cmds=(-ex "set pagination off" -ex "info threads"
  -ex "thread apply all bt 40" -x "$(dirname "$0")/hang.gdb")
case "$1" in
  valgrind)
    timeout 120 gdb -nx -batch -ex "target remote | vgdb --pid=$prog" \
      "${gdb_cmds[@]}" "$bin"
    ;;
  qemu-*) echo "hang.sh: under qemu: no stacks" ;;
  *) timeout 60 gdb -nx -batch -p "$prog" "${gdb_cmds[@]}" ;;
esac
kill -9 "$prog" 2> /dev/null
wait "$prog"
echo "hang.sh: killed after $secs s"
exit 124

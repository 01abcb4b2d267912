#!/bin/sh
# gdb_bt.sh: proves that gdb can walk the stack of a running coroutine:
# `bt` at a breakpoint inside a function called from a coroutine body
# shows the body and ends at the coroutine's first frame (on the assembly
# backend corun__ctx_trampoline, whose CFI marks the return address
# undefined) with no "Backtrace stopped: previous frame inner to this
# frame (corrupt stack?)" or other unwinder error. Three stops: the body's
# first run, after a yield and resume, and a coroutine resumed by another
# coroutine (the walk must not continue into the resumer's frames).
# Usage: gdb_bt.sh <gdb_prog> <backend: asm|ucontext>. Skips (77) without gdb.
prog=$1
backend=$2
command -v gdb >/dev/null 2>&1 || { echo "SKIP: gdb not installed"; exit 77; }
[ -x "$prog" ] || { echo "FAIL: no program $prog"; exit 1; }

# LeakSanitizer cannot run under ptrace (ASan builds).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
out=$(gdb -nx -batch \
  -ex 'set debuginfod enabled off' \
  -ex 'set pagination off' \
  -ex 'set width 0' \
  -ex 'break gdb_leaf' \
  -ex 'run' \
  -ex 'echo ==STOP==\n' -ex 'bt' \
  -ex 'continue' \
  -ex 'echo ==STOP==\n' -ex 'bt' \
  -ex 'continue' \
  -ex 'echo ==STOP==\n' -ex 'bt' \
  -ex 'continue' \
  -ex 'echo ==STOP==\n' -ex 'bt' \
  -ex 'continue' \
  "$prog" 2>&1)
rc=$?
printf '%s\n' "$out"
fail() { echo "FAIL: $*"; exit 1; }

# Could gdb run the program at all (ptrace may be forbidden in a sandbox)?
case $out in
*"ptrace: Operation not permitted"*|*"Could not trace the inferior"*|\
*"couldn't get PID of"*|*"Warning: Cannot insert breakpoint"*)
  echo "SKIP: gdb cannot trace processes here"; exit 77 ;;
esac
[ $rc -eq 0 ] || fail "gdb exited with $rc"

case $out in
*"Backtrace stopped"*|*"corrupt stack"*|*"previous frame inner"*|\
*"previous frame identical"*|*"Cannot access memory"*)
  fail "unwinder error in a backtrace" ;;
esac
printf '%s\n' "$out" | grep -q 'exited normally' || fail "program did not exit 0"

# Each stop's backtrace: the lines between one ==STOP== and the next.
nstops=$(printf '%s\n' "$out" | grep -c '^==STOP==$')
[ "$nstops" -eq 4 ] || fail "expected 4 stops, saw $nstops"
printf '%s\n' "$out" | awk '
  /^==STOP==$/ { n++; next }
  n && /^#[0-9]/ { print n "\t" $0 }' > "${TMPDIR:-/tmp}/gdb_bt.$$"
trap 'rm -f "${TMPDIR:-/tmp}/gdb_bt.$$"' EXIT
frames=${TMPDIR:-/tmp}/gdb_bt.$$
for i in 1 2 3 4; do
  bt=$(awk -F'\t' -v n=$i '$1 == n { print $2 }' "$frames")
  [ -n "$bt" ] || fail "stop $i: empty backtrace"
  first=$(printf '%s\n' "$bt" | head -n 1)
  last=$(printf '%s\n' "$bt" | tail -n 1)
  count=$(printf '%s\n' "$bt" | wc -l)
  case $first in *gdb_leaf*) ;; *) fail "stop $i: frame #0 is not gdb_leaf: $first" ;; esac
  printf '%s\n' "$bt" | grep -q 'gdb_middle' || fail "stop $i: no gdb_middle"
  printf '%s\n' "$bt" | grep -q 'gdb_body' || fail "stop $i: no gdb_body"
  # The walk stays inside the coroutine: never main, nor the resumer.
  printf '%s\n' "$bt" | grep -q ' main ' && fail "stop $i: walked into main"
  printf '%s\n' "$bt" | grep -q 'gdb_outer' && fail "stop $i: walked into the resumer"
  [ "$count" -le 8 ] || fail "stop $i: $count frames, expected a short walk"
  if [ "$backend" = asm ]; then
    case $last in
    # gdb prints the symbol as corun.ctx_trampoline when the assembly was
    # assembled by clang (its DWARF language makes gdb demangle "__").
    *corun__ctx_trampoline* | *corun.ctx_trampoline*) ;;
    *) fail "stop $i: last frame is not corun__ctx_trampoline: $last" ;;
    esac
  fi
done
echo "PASS: 4 backtraces end at the coroutine's first frame ($backend)"

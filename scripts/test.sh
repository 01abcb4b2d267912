#!/bin/sh
# test.sh <builddir>: the whole test suite, as `make test` runs it.
# Configurations (each its own build directory under <builddir>/):
#   plain     asm context switch, -O2 -g             all tests
#   ucontext  portable ucontext backend              all tests
#   asan      asm backend, ASan + UBSan, shared-stack
#             poisoning (CORUN_DEBUG_POISON)         all tests
#   tsan      asm backend, TSan                      tests labelled "threads"
#   valgrind  asm backend, every test under memcheck (leaks are errors)
#   aarch64   cross-built with gcc-aarch64-linux-gnu, run under qemu-user
#   riscv64   cross-built with gcc-riscv64-linux-gnu, run under qemu-user
# Stops at the first configuration that fails. Ends with one line counting
# the test runs of all configurations: "tests: N passed, N failed".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { # adds the counts of the ctest summary in $log
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -n 1)
  [ -n "$line" ] || return 0
  bad=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  all=$(echo "$line" | sed -E 's/.*failed out of ([0-9]+).*/\1/')
  passed=$((passed + all - bad))
  failed=$((failed + bad))
}

run() { # run <name> <ctest args> -- <cmake args>
  name=$1; shift
  ctest_args=""
  while [ "$1" != "--" ]; do ctest_args="$ctest_args $1"; shift; done
  shift
  dir=$build/$name
  echo "=== $name: configure and build"
  cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  echo "=== $name: ctest$ctest_args"
  # shellcheck disable=SC2086
  status=0
  (cd "$dir" && ctest --output-on-failure -j"$jobs" $ctest_args) >"$log" 2>&1 || status=$?
  cat "$log"
  count
  if [ "$status" -ne 0 ]; then
    echo "=== $name: FAILED"
    echo "tests: $passed passed, $failed failed"
    exit 1
  fi
}

run plain -- -DCORUN_CONTEXT=asm
run ucontext -- -DCORUN_CONTEXT=ucontext
run asan -- -DCORUN_SANITIZE=address,undefined -DCORUN_BUILD_EXAMPLES=OFF \
  -DCORUN_DEBUG_POISON=ON
run tsan -L threads -- -DCORUN_SANITIZE=thread -DCORUN_BUILD_EXAMPLES=OFF
run valgrind -- -DCORUN_VALGRIND_TESTS=ON -DCORUN_BUILD_EXAMPLES=OFF
run aarch64 -- -DCMAKE_TOOLCHAIN_FILE="$top/cmake/toolchain-aarch64.cmake"
run riscv64 -- -DCMAKE_TOOLCHAIN_FILE="$top/cmake/toolchain-riscv64.cmake"
echo "tests: $passed passed, $failed failed"

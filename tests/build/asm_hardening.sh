#!/bin/sh
# asm_hardening.sh <cc> <x86_64_sysv_elf.S>: the hardening the switch's
# header promises. With -fcf-protection=full every indirect-branch target
# (two functions, and the trampoline after its never-run nop) starts with
# endbr64 and the final jump is `notrack`;
# without it there is no endbr64. The object never carries a GNU property
# note (the switch does not support CET shadow stacks, so the linker must
# not mark binaries as capable), and its stack is not executable.
set -eu
cc=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$cc" -c -fcf-protection=full "$src" -o "$tmp/cet.o"
"$cc" -c -fcf-protection=none "$src" -o "$tmp/plain.o"
objdump -d --no-show-raw-insn "$tmp/cet.o" >"$tmp/cet.txt"
objdump -d --no-show-raw-insn "$tmp/plain.o" >"$tmp/plain.txt"

for fn in corun__ctx_switch corun__ctx_make; do
  first=$(awk -v f="<$fn>:" '$2 == f {getline; print $2; exit}' "$tmp/cet.txt")
  [ "$first" = "endbr64" ] || fail "$fn starts with '$first', not endbr64, under -fcf-protection"
done
# The trampoline's first byte is a nop that never runs (see the file); the
# switch jumps to the instruction after it, which must be endbr64.
two=$(awk '$2 == "<corun__ctx_trampoline>:" {getline; a=$2; getline; print a, $2; exit}' "$tmp/cet.txt")
[ "$two" = "nop endbr64" ] || fail "trampoline starts with '$two', not 'nop endbr64', under -fcf-protection"
grep -q "notrack jmp" "$tmp/cet.txt" || fail "no notrack jmp under -fcf-protection"
if grep -q endbr64 "$tmp/plain.txt"; then fail "endbr64 without -fcf-protection"; fi
for o in cet plain; do
  if readelf -n "$tmp/$o.o" | grep -q "GNU_PROPERTY"; then
    fail "$o.o carries a GNU property note"
  fi
  readelf -S -W "$tmp/$o.o" | grep -q "\.note\.GNU-stack" || fail "$o.o has no .note.GNU-stack"
  if readelf -S -W "$tmp/$o.o" | grep "\.note\.GNU-stack" | grep -q " X"; then
    fail "$o.o asks for an executable stack"
  fi
done
echo "asm hardening: endbr64 x3 and notrack under CET, none without; no property note; non-executable stack"

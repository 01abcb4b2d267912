#!/bin/sh
# tail_calls.sh <libcorun.a> <objdump> <nm> <arch>: corun_resume,
# corun_yield and corun_transfer end with a tail jump to the context switch.
# That is what keeps a round trip at one switch pair (no `ret` runs between
# two switches: see src/arch/x86_64_sysv_elf.S); a change that adds work
# after the switch would silently double the cost, so it fails here.
# Each function's bytes come from its symbol's address and size (nm -S),
# and the jump is recognised by its relocation:
#   x86_64   jmp with R_X86_64_PLT32/PC32 against the switch
#   aarch64  b, i.e. R_AARCH64_JUMP26 (a call, bl, is R_AARCH64_CALL26)
#   riscv64  `tail`: auipc t1 + jr t1, R_RISCV_CALL(_PLT) on an auipc of t1
#            (a call, `call`, uses ra)
set -eu
lib=$1 objdump=$2 nm=$3 arch=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && ar x "$lib")
obj=$(ls "$tmp"/coro.c.o* 2>/dev/null | head -n 1)
[ -n "$obj" ] || { echo "FAIL: no coro.c object in $lib"; exit 1; }
for fn in corun_resume corun_yield corun_transfer; do
  line=$("$nm" -S --defined-only "$obj" | awk -v f="$fn" '$4 == f')
  [ -n "$line" ] || { echo "FAIL: $fn not in $obj"; exit 1; }
  start=$((0x$(echo "$line" | awk '{print $1}')))
  size=$((0x$(echo "$line" | awk '{print $2}')))
  "$objdump" -dr --no-show-raw-insn --start-address=$start \
    --stop-address=$((start + size)) "$obj" >"$tmp/$fn.txt"
  case $arch in
    x86_64) ok=$(grep -A1 -E "^\s+[0-9a-f]+:\s+jmp " "$tmp/$fn.txt" |
                 grep -cE "R_X86_64_(PLT32|PC32)\s+corun__ctx_switch(_int)?" || true) ;;
    aarch64) ok=$(grep -cE "R_AARCH64_JUMP26\s+corun__ctx_switch(_int)?" \
                  "$tmp/$fn.txt" || true) ;;
    riscv64) ok=$(grep -B1 -E "R_RISCV_CALL(_PLT)?\s+corun__ctx_switch(_int)?" \
                  "$tmp/$fn.txt" | grep -cE "auipc\s+t1" || true) ;;
    *) echo "SKIP: no tail-call pattern for $arch"; exit 77 ;;
  esac
  if [ "$ok" -lt 1 ]; then
    echo "FAIL: $fn does not tail-jump to corun__ctx_switch:"
    cat "$tmp/$fn.txt"
    exit 1
  fi
done
echo "tail calls ($arch): corun_resume, corun_yield, corun_transfer jump to the switch"

#!/bin/sh
# tail_calls.sh <libcorun.a>: corun_resume, corun_yield and corun_transfer
# end with a tail jump to the context switch. That is what keeps a round
# trip at one switch pair (no `ret` runs between two switches: see
# src/arch/x86_64_sysv_elf.S); a change that adds work after the switch
# would silently double the cost, so it fails here instead.
set -eu
lib=$1
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# With relocations, the jump's target is named exactly.
objdump -dr --no-show-raw-insn "$lib" >"$tmp"
for fn in corun_resume corun_yield corun_transfer; do
  awk -v f="<$fn>:" '$2 == f {on=1; next} on && /^$/ {exit} on' "$tmp" >"$tmp.$fn"
  if ! grep -A1 -E "^\s+[0-9a-f]+:\s+jmp " "$tmp.$fn" | grep -Eq "R_X86_64_(PLT32|PC32)\s+corun__ctx_switch(_int)?"; then
    echo "FAIL: $fn does not tail-jump to corun__ctx_switch:"
    cat "$tmp.$fn"
    rm -f "$tmp".*
    exit 1
  fi
done
rm -f "$tmp".*
echo "tail calls: corun_resume, corun_yield, corun_transfer jump to the switch"

#!/bin/sh
# cross_install.sh <builddir> <cross-cc> <arch>: what `make install ARCH=<arch>`
# promises a user who cross-compiles: the installed package has a static and
# a shared library for <arch>, and a program built with the cross compiler
# and pkg-config's flags links against either and runs (under qemu-user).
set -eu
build=$1 cc=$2 arch=$3
sysroot=/usr/$arch-linux-gnu
emu="qemu-$arch-static -L $sysroot"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/corun.h lib/libcorun.a lib/libcorun.so lib/pkgconfig/corun.pc; do
  [ -e "$tmp/prefix/$f" ] || fail "missing $f"
done
case $arch in
  aarch64) machine="AArch64" ;;
  riscv64) machine="RISC-V" ;;
  *) fail "unknown arch $arch" ;;
esac
readelf -h "$tmp/prefix/lib/libcorun.so" | grep -q "Machine:.*$machine" ||
  fail "libcorun.so is not an $machine library"

cat >"$tmp/app.c" <<'APP'
#include <corun.h>
#include <stdint.h>
#include <stdio.h>
static void *count(void *arg) {
  for (intptr_t i = 0; i < (intptr_t)arg; i++)
    corun_yield((void *)i);
  return (void *)-1;
}
int main(void) {
  corun_coro *co;
  void *out;
  if (corun_create(&co, count, (void *)3, NULL) < 0)
    return 1;
  while (corun_resume(co, NULL, &out) == 1)
    printf("%d ", (int)(intptr_t)out);
  printf("done\n");
  return corun_destroy(co) < 0;
}
APP
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
export PKG_CONFIG_PATH
cflags=$(pkg-config --cflags corun)
libs=$(pkg-config --libs corun)
$cc "$tmp/app.c" $cflags $libs -o "$tmp/app_shared" || fail "shared link"
$cc "$tmp/app.c" $cflags -static $(pkg-config --libs --static corun) \
  -o "$tmp/app_static" || fail "static link"
for kind in shared static; do
  out=$(LD_LIBRARY_PATH="$tmp/prefix/lib" $emu "$tmp/app_$kind") ||
    fail "$kind app did not run"
  [ "$out" = "0 1 2 done" ] || fail "$kind app printed '$out'"
done
echo "cross install ($arch): shared and static apps built with $cc and pkg-config run"

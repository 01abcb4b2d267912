#!/bin/sh
# install.sh: proves `cmake --install` of a build gives a usable package:
#  - include/corun.h, <libdir>/libcorun.a, <libdir>/libcorun.so with a
#    SONAME (readelf -d) whose file is installed, <libdir>/pkgconfig/corun.pc
#    and <libdir>/cmake/corun/corunConfig.cmake exist;
#  - a small program builds with `cc app.c $(pkg-config --cflags --libs
#    corun)` (PKG_CONFIG_PATH pointing into the install), links the
#    installed shared library and runs;
#  - a tiny CMake project with find_package(corun REQUIRED) and
#    target_link_libraries(app corun::corun) configures, builds and runs;
#  - pkg-config's version and the CMake package version match the header's;
#  - libcorun.so exports only corun_* symbols, and libcorun.a defines no
#    global symbol outside corun_ (internal ones are corun__*).
# Usage: install.sh <cmake> <build dir> <C compiler> <libdir> [<sanitizers>]
# <sanitizers> is the build's CORUN_SANITIZE: programs linked against a
# sanitized library must be built with the same -fsanitize flags.
set -u
CMAKE=$1 BUILD=$2 CC=$3 LIBDIR=$4 SAN=${5:-}
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
L=$P/$LIBDIR
SANFLAGS=
[ -n "$SAN" ] && SANFLAGS="-fsanitize=$SAN"

"$CMAKE" --install "$BUILD" --prefix "$P" > "$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  echo "FAIL: cmake --install failed" >&2
  exit 1
}

# The files.
for f in include/corun.h "$LIBDIR/libcorun.a" "$LIBDIR/libcorun.so" \
         "$LIBDIR/pkgconfig/corun.pc" "$LIBDIR/cmake/corun/corunConfig.cmake"; do
  [ -f "$P/$f" ] || err "not installed: $f"
done

# The soname, and that a file of that name is installed.
soname=$(readelf -d "$L/libcorun.so" 2>/dev/null |
         sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ -z "$soname" ]; then
  err "libcorun.so has no SONAME"
else
  echo "soname: $soname"
  case $soname in libcorun.so.*) ;; *) err "unexpected SONAME $soname" ;; esac
  [ -e "$L/$soname" ] || err "the SONAME file $soname is not installed"
fi

# The header's version.
hv() { sed -n "s/^#define CORUN_VERSION_$1 \([0-9]*\).*/\1/p" "$P/include/corun.h"; }
version=$(hv MAJOR).$(hv MINOR).$(hv PATCH)
echo "header version: $version"

# A program using the installed library.
cat > "$tmp/app.c" <<'EOT'
#include <corun.h>
#include <stdio.h>
#include <string.h>
static void *body(void *arg) {
  long n = (long)(size_t)arg;
  for (;;) {
    void *in = corun_yield((void *)(size_t)n);
    if (corun_closing())
      return NULL;
    n += (long)(size_t)in;
  }
}
int main(void) {
  corun_coro *co;
  void *out = NULL;
  if (corun_create(&co, body, (void *)(size_t)40, NULL) != 0)
    return 1;
  if (corun_resume(co, NULL, &out) != 1 || (long)(size_t)out != 40)
    return 2;
  if (corun_resume(co, (void *)(size_t)2, &out) != 1 || (long)(size_t)out != 42)
    return 3;
  if (corun_destroy(co) != 0)
    return 4;
  if (strcmp(corun_strerror(-22), corun_strerror(0)) == 0)
    return 5;
  printf("corun app: %ld\n", (long)(size_t)out);
  return 0;
}
EOT

check_app() { # <binary> <how it was built>
  out=$(LD_LIBRARY_PATH=$L "$1" 2>&1)
  rc=$?
  [ $rc -eq 0 ] || err "$2: the program exited with $rc: $out"
  [ "$out" = "corun app: 42" ] || err "$2: unexpected output: $out"
  # It must use the installed shared library, not a static copy.
  LD_LIBRARY_PATH=$L ldd "$1" 2>/dev/null | grep -q "$L/libcorun.so" ||
    err "$2: the program does not load $L/libcorun.so"
}

export PKG_CONFIG_PATH=$L/pkgconfig
pcv=$(pkg-config --modversion corun 2>&1) || err "pkg-config does not find corun: $pcv"
[ "$pcv" = "$version" ] || err "pkg-config version $pcv, header $version"
flags=$(pkg-config --cflags --libs corun)
echo "pkg-config --cflags --libs corun: $flags"
# shellcheck disable=SC2086 # word splitting of the flags is intended
if "$CC" $SANFLAGS -o "$tmp/app_pc" "$tmp/app.c" $flags > "$tmp/pc.log" 2>&1; then
  check_app "$tmp/app_pc" "pkg-config build"
else
  cat "$tmp/pc.log" >&2
  err "the program does not build with pkg-config's flags ($flags)"
  pcprefix=$(pkg-config --variable=prefix corun)
  [ "$pcprefix" = "$P" ] ||
    echo "note: corun.pc says prefix=$pcprefix, not the install prefix $P:" \
         "it is not relocatable (cmake --install --prefix)" >&2
fi
unset PKG_CONFIG_PATH

# A CMake project using the package.
mkdir -p "$tmp/proj"
cp "$tmp/app.c" "$tmp/proj/app.c"
cat > "$tmp/proj/CMakeLists.txt" <<EOT
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(corun $version REQUIRED)
add_executable(app app.c)
target_link_libraries(app corun::corun)
EOT
if "$CMAKE" -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$P" \
     -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$SANFLAGS" \
     -DCMAKE_EXE_LINKER_FLAGS="$SANFLAGS" > "$tmp/cm.log" 2>&1 &&
   "$CMAKE" --build "$tmp/proj/build" >> "$tmp/cm.log" 2>&1; then
  check_app "$tmp/proj/build/app" "find_package build"
else
  cat "$tmp/cm.log" >&2
  err "the find_package(corun) project does not configure or build"
fi

# Exported symbols: only the public API.
nm -D --defined-only "$L/libcorun.so" | awk '{print $NF}' > "$tmp/dyn"
grep -q '^corun_create$' "$tmp/dyn" || err "libcorun.so does not export corun_create"
if grep -v '^corun_' "$tmp/dyn" > "$tmp/bad"; then
  err "libcorun.so exports symbols outside corun_:"
  cat "$tmp/bad" >&2
fi
if grep '^corun__' "$tmp/dyn" > "$tmp/bad"; then
  err "libcorun.so exports internal corun__ symbols:"
  cat "$tmp/bad" >&2
fi
# The static library's global definitions: corun_ and corun__ only (ASan
# adds an __odr_asan.<name> indicator for each global variable: not ours).
nm -g --defined-only "$L/libcorun.a" 2>/dev/null |
  awk 'NF == 3 && $3 !~ /^__odr_asan[._]/ {print $3}' > "$tmp/sta"
[ -s "$tmp/sta" ] || err "no global symbol found in libcorun.a"
if grep -v '^corun_' "$tmp/sta" > "$tmp/bad"; then
  err "libcorun.a defines global symbols outside corun_:"
  cat "$tmp/bad" >&2
fi

[ $fail -eq 0 ] && echo "install: all checks passed"
exit $fail

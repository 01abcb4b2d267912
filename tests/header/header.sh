#!/bin/sh
# header.sh: proves include/corun.h is a clean public header:
#  - it compiles alone (and twice: include guard) as C11, C17 and, where the
#    compiler has them, C2x, with -std=cXX (not gnu) -Wall -Wextra -pedantic
#    -Werror -Wundef -Wstrict-prototypes, and as C++11, C++17, C++20 and,
#    where available, C++23 with -Wall -Wextra -pedantic -Werror, using
#    every type, enum constant and macro it declares;
#  - outside comments it contains no co_await / co_yield / co_return token
#    (C++20 keywords) and no `go` token;
#  - every macro it defines is named CORUN_* (nothing else leaks);
#  - every function it declares is exported with CORUN_API and has a
#    comment right above it.
# Usage: header.sh <C compiler> <C++ compiler> <include dir>
set -u
CC=$1 CXX=$2 INC=$3
H=$INC/corun.h
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

[ -f "$H" ] || { echo "FAIL: no $H" >&2; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# A translation unit that uses everything the header declares.
cat > "$tmp/use.inc" <<'EOT'
#include <corun.h>
#include <corun.h>
static void *body(void *arg) { return arg; }
int use_header(void);
int use_header(void) {
  corun_coro *co = 0;
  corun_fn *fn = body;
  corun_attr attr = {CORUN_STACK_DEFAULT, 0, "x", 0};
  corun_shared_stack *sh = attr.shared;
  enum corun_status st[] = {CORUN_SUSPENDED, CORUN_RUNNING, CORUN_NORMAL,
                            CORUN_DEAD};
  char name[CORUN_NAME_MAX];
  void *out = 0;
  int rc = corun_create(&co, fn, 0, &attr);
  rc += corun_resume(co, 0, &out);
  rc += corun_transfer(co, 0, &out);
  out = corun_yield(out);
  rc += corun_status(co);
  co = corun_current();
  rc += corun_closing();
  uint64_t id = corun_id(co);
  const char *s = corun_name(co);
  s = corun_strerror(rc);
  rc += corun_destroy(co);
  name[0] = s[0];
  corun_config cfg = {2, 0, 0};
  corun_task *t = corun_self();
  corun_chan *ch = 0;
  long v = 0;
  corun_case cs[1] = {{ch, CORUN_RECV, &v, 0}};
  corun_once once = CORUN_ONCE_INIT;
  rc += corun_main(body, 0, &cfg) + corun_spawn(&t, body, 0, &attr) +
        corun_join(t, &out) + corun_cancel(t) + corun_sleep(corun_now()) +
        corun_chan_make(&ch, sizeof v, 0) + corun_select(cs, 1, -1) +
        corun_chan_send(ch, &v, 0) + CORUN_SEND + once.state;
  return rc + (int)id + (int)st[0] + name[0] + (sh != 0) +
         (int)CORUN_STACK_MIN + CORUN_VERSION_MAJOR + CORUN_VERSION_MINOR +
         CORUN_VERSION_PATCH;
}
EOT
printf '#include "use.inc"\n' > "$tmp/use.c"
printf '#include "use.inc"\nnamespace { int x = use_header(); }\n' > "$tmp/use.cpp"

# C: the standards the compiler knows, strict ISO mode.
nc=0
for std in c11 c17 c2x; do
  if [ "$std" = c2x ] && ! "$CC" -std=c2x -x c -fsyntax-only /dev/null 2>/dev/null; then
    echo "skip $std: $CC does not know it"
    continue
  fi
  if "$CC" -std=$std -Wall -Wextra -pedantic -Werror -Wundef \
      -Wstrict-prototypes -I"$INC" -I"$tmp" -fsyntax-only "$tmp/use.c"; then
    echo "ok: C $std"
    nc=$((nc + 1))
  else
    err "corun.h does not compile as C ($std)"
  fi
done
[ $nc -ge 2 ] || err "only $nc C standards passed (C11 and C17 at least)"

# C++: 11, 17, 20 always; 23 where the compiler has it.
ncxx=0
for std in c++11 c++17 c++20 c++23; do
  if [ "$std" = c++23 ] && ! "$CXX" -std=c++23 -x c++ -fsyntax-only /dev/null 2>/dev/null; then
    echo "skip $std: $CXX does not know it"
    continue
  fi
  if "$CXX" -std=$std -Wall -Wextra -pedantic -Werror -Wundef \
      -I"$INC" -I"$tmp" -fsyntax-only "$tmp/use.cpp"; then
    echo "ok: C++ $std"
    ncxx=$((ncxx + 1))
  else
    err "corun.h does not compile as C++ ($std)"
  fi
done
[ $ncxx -ge 3 ] || err "only $ncxx C++ standards passed (C++11, C++17, C++20 at least)"

# The header's own tokens, in every #if branch: the header with its comments
# removed (strings in it hold no comment markers).
perl -0777 -pe 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g' "$H" > "$tmp/tok" ||
  err "cannot strip comments from corun.h"
for t in co_await co_yield co_return go; do
  if grep -Eqw "$t" "$tmp/tok"; then
    err "corun.h uses the token $t outside comments:"
    grep -Enw "$t" "$tmp/tok" >&2
  fi
done
# The check above must see the header's code, and no comment text.
grep -q 'corun_resume' "$tmp/tok" || err "comment-stripped header looks empty"
grep -q 'Python' "$tmp/tok" && err "comments were not stripped"

# Macros: what corun.h adds to what the system headers it includes define.
sys='#include <stddef.h>\n#include <stdint.h>\n#include <sys/socket.h>\n#include <sys/types.h>\n#include <sys/uio.h>\n'
printf "$sys" > "$tmp/base.c"
printf "$sys"'#include <corun.h>\n' > "$tmp/with.c"
for lang in c c++; do
  if [ $lang = c ]; then C=$CC; else C=$CXX; fi
  "$C" -x $lang -dM -E -I"$INC" "$tmp/base.c" | sort > "$tmp/m0"
  "$C" -x $lang -dM -E -I"$INC" "$tmp/with.c" | sort > "$tmp/m1"
  comm -13 "$tmp/m0" "$tmp/m1" > "$tmp/added"
  [ -s "$tmp/added" ] || err "no macro from corun.h seen ($lang)"
  if grep -v '^#define CORUN_' "$tmp/added" > "$tmp/bad"; then
    err "corun.h defines macros outside CORUN_ ($lang):"
    cat "$tmp/bad" >&2
  fi
done

# Functions: each declaration is CORUN_API and has a comment just above.
# A declaration starts at column 0 with CORUN_API, or is any other line at
# column 0 that names corun_xxx( (which would be a function without it).
awk -v H="$H" '
  /^[ \t]*$/ { next }
  /^#/ { prev = $0; next }
  {
    line = $0
    if (line ~ /^CORUN_API /) {
      n++
      if (prev !~ /\*\/[ \t]*$/) {
        print H ":" NR ": no comment above: " line > "/dev/stderr"
        bad = 1
      }
    } else if (line ~ /^[A-Za-z_].*corun_[a-z_]+[ \t]*\(/ && line !~ /^typedef /) {
      print H ":" NR ": function declared without CORUN_API: " line > "/dev/stderr"
      bad = 1
    }
    prev = line
  }
  END {
    if (n < 11) { print "only " n " CORUN_API declarations found" > "/dev/stderr"; bad = 1 }
    print "functions declared: " n
    exit bad
  }' "$H" || err "function declarations"

[ $fail -eq 0 ] && echo "header: all checks passed"
exit $fail

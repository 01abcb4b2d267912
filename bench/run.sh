#!/usr/bin/env bash
# run.sh <builddir>: runs the benchmark programs built in <builddir>/bench,
# prints a table (medians, spread, ratios corun/peer, targets, PASS/MISS) and
# writes bench/results.json. See bench/README.md.
#
# Environment:
#   BENCH_ROUNDS=3     rounds: each round runs every program once, in turn,
#                      so a slow phase of the machine is spread over all rows
#   BENCH_REPS=11      measured repetitions per case in each program run
#   BENCH_MS=20        target milliseconds per repetition
#   BENCH_CPU=<n>      CPU to pin to with taskset (default: the last allowed
#                      one); BENCH_CPU=none disables pinning
#   BENCH_JSON=<file>  where to write the results (default bench/results.json)
#   BENCH_CALLGRIND=1  also count instructions per operation with
#                      valgrind --tool=callgrind (deterministic)
#   BENCH_CG_N=20000   callgrind: operations of the short run (the long run
#                      does twice as many; the difference cancels set-up)
#   BENCH_NET=0        skip the network benchmark (net/run.sh, ~6 min; its
#                      own knobs are NET_*, see net/run.sh)
#
# A missed target is reported as MISS and is not an error: benchmarks are
# not tests. The script fails only when it cannot run the corun benchmark.

# The Makefile runs it as `sh bench/run.sh`: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 1 ]; then
  echo "usage: $0 <builddir>  (configured with -DCORUN_BUILD_BENCH=ON)" >&2
  exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || { echo "run.sh: no directory $1" >&2; exit 2; }
bin=$build/bench
rounds=${BENCH_ROUNDS:-3}
reps=${BENCH_REPS:-11}
ms=${BENCH_MS:-20}
json=${BENCH_JSON:-$here/results.json}

if [ ! -x "$bin/bench_corun" ]; then
  echo "run.sh: $bin/bench_corun not built; configure with -DCORUN_BUILD_BENCH=ON" >&2
  exit 1
fi
programs="bench_corun"
if [ -x "$bin/bench_boost" ]; then
  programs="$programs bench_boost"
else
  echo "run.sh: NOTE: bench_boost not built (Boost.Context missing); its rows are n/a." >&2
  echo "        Install it with: apt-get install -y libboost-context-dev, then reconfigure." >&2
fi
[ -x "$bin/bench_ucontext" ] && programs="$programs bench_ucontext"

# ---- pinning ----------------------------------------------------------------
pin=()
cpu=${BENCH_CPU:-}
if [ "$cpu" != none ] && command -v taskset >/dev/null 2>&1; then
  if [ -z "$cpu" ]; then
    # Last CPU of our affinity list ("0,1" or "0-3,6").
    cpu=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//' | tr ',' '\n' | tail -n1 | sed 's/.*-//')
  fi
  if [ -n "$cpu" ] && taskset -c "$cpu" true 2>/dev/null; then
    pin=(taskset -c "$cpu")
  else
    echo "run.sh: NOTE: cannot pin to CPU '$cpu'; running unpinned" >&2
    cpu=none
  fi
else
  cpu=none
fi

# ---- machine ----------------------------------------------------------------
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
kernel=$(uname -r)
cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
ncpu=$(nproc 2>/dev/null || echo 1)
gcc_version=$(gcc --version 2>/dev/null | head -n1)
glibc_version=$(ldd --version 2>/dev/null | head -n1)
boost_version=$(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp 2>/dev/null | tr _ .)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$here/.." status --porcelain -- src include 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
case "$build_type" in
  Release|RelWithDebInfo) ;;
  *) echo "run.sh: WARNING: build type '$build_type': the library is not built with -O2" >&2 ;;
esac

echo "corun benchmarks  $date  commit $commit"
echo "cpu: $cpu_model ($ncpu CPUs), pinned to: $cpu"
echo "kernel $kernel; $gcc_version; $glibc_version; Boost ${boost_version:-none}; build $build_type"
echo "$rounds rounds x $reps repetitions of ~${ms} ms per case; medians over all $((rounds * reps)) samples"
echo

# ---- measure ----------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
raw=$tmp/raw.txt
: >"$raw"
for ((r = 1; r <= rounds; r++)); do
  for p in $programs; do
    if ! "${pin[@]}" "$bin/$p" -r "$reps" -t "$ms" >>"$raw" 2>"$tmp/$p.err"; then
      echo "run.sh: WARNING: $p failed in round $r:" >&2
      sed 's/^/  /' "$tmp/$p.err" >&2
    fi
  done
done

# name iters n median min max, one line per case, over every round's samples.
agg=$tmp/agg.txt
awk '
  $1 == "result" {
    name = ""; s = ""
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "name") name = kv[2]
      else if (kv[1] == "iters") it = kv[2]
      else if (kv[1] == "samples") s = kv[2]
    }
    if (!(name in cnt)) { order[++nn] = name; cnt[name] = 0 }
    iters[name] = it
    m = split(s, v, ",")
    for (j = 1; j <= m; j++) val[name, ++cnt[name]] = v[j] + 0
  }
  END {
    for (k = 1; k <= nn; k++) {
      name = order[k]; n = cnt[name]
      for (i = 1; i <= n; i++) a[i] = val[name, i]
      for (i = 2; i <= n; i++) {      # insertion sort: n is small
        x = a[i]; j = i - 1
        while (j >= 1 && a[j] > x) { a[j + 1] = a[j]; j-- }
        a[j + 1] = x
      }
      med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      printf "%s %s %d %.3f %.3f %.3f\n", name, iters[name], n, med, a[1], a[n]
    }
  }' "$raw" >"$agg"

field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$agg"; }
median() { field "$1" 4; }

# ---- what each row is, and the comparisons ------------------------------------
desc() {
  case $1 in
    corun_resume_yield) echo "corun_resume + corun_yield round trip" ;;
    corun_raw_switch) echo "two corun__ctx_switch calls (raw round trip)" ;;
    corun_create_destroy) echo "corun_create + first resume + finish + destroy, pooled stack" ;;
    corun_shared_switch) echo "resume + yield, two coroutines alternating on one shared stack (copy each time)" ;;
    corun_raw_switch_fn) echo "diagnostic: raw round trip, switch inside a non-inlined function (ret after switch)" ;;
    corun_raw_switch_tail) echo "diagnostic: raw round trip, switch tail-called from a non-inlined function" ;;
    boost_fcontext_pair) echo "Boost jump_fcontext pair (raw round trip)" ;;
    boost_fiber_resume) echo "boost::context::fiber resume + resume back" ;;
    boost_fiber_create) echo "boost::context::fiber create + run + destroy, pooled_fixedsize_stack" ;;
    ucontext_swap_pair) echo "glibc swapcontext pair" ;;
    ucontext_make_run) echo "glibc getcontext + makecontext + swapcontext, run to uc_link" ;;
    *) echo "" ;;
  esac
}
# row  peer  target (ratio: "<=0.15x", absolute: "<=6ns", none: "-")
comparisons="
corun_resume_yield boost_fcontext_pair <=0.15x
corun_resume_yield boost_fiber_resume -
corun_resume_yield ucontext_swap_pair -
corun_raw_switch - <=6ns
corun_raw_switch boost_fcontext_pair -
corun_create_destroy boost_fiber_create <=0.75x
corun_create_destroy ucontext_make_run -
corun_shared_switch - <=40ns
"
rows="corun_resume_yield corun_raw_switch corun_create_destroy corun_shared_switch corun_raw_switch_fn
corun_raw_switch_tail boost_fcontext_pair boost_fiber_resume boost_fiber_create
ucontext_swap_pair ucontext_make_run"

# evaluate <row> <peer> <target> -> "ratio status" (ratio "-" when none)
evaluate() {
  local m p
  m=$(median "$1")
  [ -z "$m" ] && { echo "n/a MISSING"; return; }
  case $3 in
    *ns)
      awk -v m="$m" -v t="${3#<=}" 'BEGIN { sub(/ns$/, "", t); print "-", (m <= t + 0 ? "PASS" : "MISS") }' ;;
    *x)
      p=$(median "$2")
      [ -z "$p" ] && { echo "n/a MISSING"; return; }
      awk -v m="$m" -v p="$p" -v t="${3#<=}" 'BEGIN { sub(/x$/, "", t); r = m / p; printf "%.3f %s\n", r, (r <= t + 0 ? "PASS" : "MISS") }' ;;
    *)
      p=$(median "$2")
      [ -z "$p" ] && { echo "n/a info"; return; }
      awk -v m="$m" -v p="$p" 'BEGIN { printf "%.3f info\n", m / p }' ;;
  esac
}

# ---- table ----------------------------------------------------------------------
fmt="%-23s %9s  %-17s  %-21s %7s  %-8s %s\n"
printf "$fmt" "bench" "median ns" "min..max ns" "peer" "ratio" "target" "status"
printf "$fmt" "-----" "---------" "-----------" "----" "-----" "------" "------"
cmp_json=""
pass=0
miss=0
for row in $rows; do
  med=$(median "$row")
  if [ -z "$med" ]; then
    printf "$fmt" "$row" "n/a" "" "" "" "" "not measured"
    continue
  fi
  spread="$(printf '%.2f..%.2f' "$(field "$row" 5)" "$(field "$row" 6)")"
  first=1
  while read -r c_row c_peer c_target; do
    [ "$c_row" = "$row" ] || continue
    set -- $(evaluate "$c_row" "$c_peer" "$c_target")
    ratio=$1 status=$2
    case $status in PASS) pass=$((pass + 1)) ;; MISS | MISSING) [ "$c_target" != - ] && miss=$((miss + 1)) ;; esac
    peer=$c_peer
    [ "$peer" = - ] && peer="(absolute)"
    if [ $first = 1 ]; then
      printf "$fmt" "$row" "$(printf '%.2f' "$med")" "$spread" "$peer" "$ratio" "$c_target" "$status"
      first=0
    else
      printf "$fmt" "" "" "" "$peer" "$ratio" "$c_target" "$status"
    fi
    [ "$ratio" = n/a ] && jr=null || jr=$ratio
    [ "$ratio" = - ] && jr=null
    [ "$c_peer" = - ] && jp=null || jp=$(jstr "$c_peer")
    [ "$c_target" = - ] && jt=null || jt=$(jstr "$c_target")
    cmp_json="$cmp_json${cmp_json:+,}
    {\"bench\": \"$c_row\", \"peer\": $jp, \"ratio\": $jr, \"target\": $jt, \"status\": \"$status\"}"
  done <<<"$comparisons"
  if [ $first = 1 ]; then
    printf "$fmt" "$row" "$(printf '%.2f' "$med")" "$spread" "" "" "" ""
  fi
done
echo
echo "targets: $pass PASS, $miss MISS (ratios are corun/peer medians of this run)"
if [ $miss -gt 0 ]; then
  echo "MISS: at least one target was missed on this machine (see the status column)."
fi

# ---- memory at scale --------------------------------------------------------------
# Shared stacks: 10,000,000 suspended coroutines (issue targets: <= 200 bytes
# each, <= 150 ns to create); dedicated 16 KiB stacks, 1,000,000, for
# comparison. BENCH_SHARED_N / BENCH_DEDICATED_N change the counts.
mem_json=null
if [ -x "$bin/bench_memory" ]; then
  echo
  echo "memory per suspended coroutine (resident set growth / N) and create time:"
  sn=${BENCH_SHARED_N:-10000000}
  dn=${BENCH_DEDICATED_N:-1000000}
  shared_line=$("${pin[@]}" "$bin/bench_memory" shared "$sn" | grep '^result')
  ded_line=$("${pin[@]}" "$bin/bench_memory" dedicated "$dn" 16384 | grep '^result')
  kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
  sb=$(kv "$shared_line" bytes_per_coro) sc=$(kv "$shared_line" create_ns)
  db=$(kv "$ded_line" bytes_per_coro) dc=$(kv "$ded_line" create_ns)
  verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "PASS" : "MISS") }'; }
  printf "  shared stacks,  N=%-9s %6s bytes/coroutine (target <= 200: %s), create %s ns (target <= 150: %s)\n" \
    "$sn" "$sb" "$(verdict "$sb" 200)" "$sc" "$(verdict "$sc" 150)"
  printf "  dedicated 16 KiB, N=%-7s %6s bytes/coroutine, create %s ns\n" "$dn" "$db" "$dc"
  mem_json="{\"shared\": {\"n\": $sn, \"bytes_per_coroutine\": $sb, \"create_ns\": $sc},
    \"dedicated_16k\": {\"n\": $dn, \"bytes_per_coroutine\": $db, \"create_ns\": $dc}}"
fi

# ---- callgrind -----------------------------------------------------------------
cg_json=null
if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
  echo
  if ! command -v valgrind >/dev/null 2>&1; then
    echo "callgrind: valgrind not installed (apt-get install -y valgrind); skipped"
  else
    n1=${BENCH_CG_N:-20000}
    n2=$((2 * n1))
    cgdir=$build/bench/callgrind
    mkdir -p "$cgdir"
    echo "instructions per operation (callgrind; (I($n2 ops) - I($n1 ops)) / $n1; files in $cgdir):"
    cg_json=""
    for spec in bench_corun:corun_raw_switch bench_corun:corun_resume_yield \
                bench_corun:corun_create_destroy bench_corun:corun_raw_switch_fn \
                bench_boost:boost_fcontext_pair bench_boost:boost_fiber_resume \
                bench_boost:boost_fiber_create bench_ucontext:ucontext_swap_pair; do
      p=${spec%%:*} c=${spec#*:}
      [ -x "$bin/$p" ] || continue
      ir=()
      for n in $n1 $n2; do
        out=$cgdir/$c.$n.out
        valgrind --tool=callgrind --callgrind-out-file="$out" -q \
          "$bin/$p" -f "$c" -n "$n" -r 1 -w 0 >/dev/null 2>"$cgdir/$c.$n.log"
        ir+=("$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$out" | tail -n1)")
      done
      if [ -n "${ir[0]}" ] && [ -n "${ir[1]}" ]; then
        per=$(awk -v a="${ir[0]}" -v b="${ir[1]}" -v n="$n1" 'BEGIN { printf "%.1f", (b - a) / n }')
        printf "  %-23s %8s instructions/op\n" "$c" "$per"
        cg_json="$cg_json${cg_json:+,}
    \"$c\": {\"instructions_per_op\": $per}"
      else
        printf "  %-23s failed (see %s)\n" "$c" "$cgdir/$c.$n1.log"
      fi
    done
    cg_json="{$cg_json
  }"
  fi
fi

# ---- scheduler: corun vs Go ----------------------------------------------------
# bench_sched and bench/go/run.sh measure the same operations with 1 and then
# 2 workers (bench/go/README.md defines each op). Both pin themselves (1
# worker to CPU 0, 2 workers to CPUs 0,1), so neither runs under ${pin[@]}.
# They take turns, BENCH_SCHED_ROUNDS times (default 3): corun, Go, corun,
# Go, ... A neighbour on this shared VM can slow everything by 30 % for a
# minute; run back to back in two blocks, one side could get the slow
# minute and the ratio would say nothing. sched_table.sh divides each
# round's corun figure by the same round's Go figure and reports the
# median of those ratios, with their range.
# BENCH_SCHED_N sets -n for both (default 1,000,000); BENCH_SCHED=0 skips
# this part; BENCH_CPU=none also stops bench_sched from pinning itself.
if [ "${BENCH_SCHED:-1}" != 0 ] && [ -x "$bin/bench_sched" ]; then
  rounds=${BENCH_SCHED_ROUNDS:-3}
  echo
  echo "scheduler: corun vs Go, ns per op (each run: median of 3 after a warm-up;"
  echo "$rounds rounds, corun and Go taking turns)"
  sched_args=()
  [ -n "${BENCH_SCHED_N:-}" ] && sched_args=(-n "$BENCH_SCHED_N")
  : >"$tmp/sched_corun.txt"
  : >"$tmp/sched_go.txt"
  : >"$tmp/sched_go.err"
  # The cross-CPU round trip of a cache line between the 2-worker rows'
  # CPUs 0 and 1 (bench_c2c), read before and after each round: the host
  # moves this VM's two vCPUs, and with them far apart (about 370 ns
  # against 80) whatever the two workers hand each other costs more, for
  # corun and Go alike (select4 with 2 workers: 35 -> 93 ns, Go's 98 ->
  # 135, 24 Nov). Not under BENCH_CPU=none, where nothing is pinned.
  c2c=()
  c2c_read() {
    local v=
    if [ "${BENCH_CPU:-}" != none ] && [ -x "$bin/bench_c2c" ]; then
      v=$("$bin/bench_c2c" 0 1 2>/dev/null | awk '{print $2}')
    fi
    c2c+=("${v:-n/a}")
  }
  # Each line gets its round ("round=K"), by which sched_table.sh pairs
  # the two sides: a run that fails or stops early leaves its round
  # without a partner instead of shifting the later ones.
  for ((round = 1; round <= rounds; round++)); do
    c2c_read
    if ! "$bin/bench_sched" ${sched_args[@]+"${sched_args[@]}"} \
        >"$tmp/sched_round.txt" 2>"$tmp/sched_corun.err"; then
      echo "run.sh: WARNING: bench_sched failed (round $round):" >&2
      sed 's/^/  /' "$tmp/sched_corun.err" >&2
    fi
    sed "s/\$/ round=$round/" "$tmp/sched_round.txt" >>"$tmp/sched_corun.txt"
    # Without Go, go/run.sh says so on stderr and exits 0: the go cells
    # are n/a.
    if ! BUILD_DIR=$bin sh "$here/go/run.sh" ${sched_args[@]+"${sched_args[@]}"} \
        >"$tmp/sched_round.txt" 2>>"$tmp/sched_go.err"; then
      echo "run.sh: WARNING: bench/go/run.sh failed (round $round):" >&2
    fi
    sed "s/\$/ round=$round/" "$tmp/sched_round.txt" >>"$tmp/sched_go.txt"
    c2c_read
    echo "c2c ${c2c[${#c2c[@]} - 2]} ${c2c[${#c2c[@]} - 1]} round=$round" >>"$tmp/sched_corun.txt"
  done
  sort -u "$tmp/sched_go.err" | sed 's/^/  /' >&2
  sh "$here/sched_table.sh" "$tmp/sched_corun.txt" "$tmp/sched_go.txt"
  echo "cross-CPU round trip of a cache line, CPUs 0 and 1 (bench_c2c), before/after" \
    "each round, ns: $(for ((i = 0; i < ${#c2c[@]}; i += 2)); do
      printf '%s%s/%s' "$([ "$i" -gt 0 ] && echo ', ')" "${c2c[i]}" "${c2c[i + 1]:-n/a}"; done)"
  echo "(about 80, as between cores that share a cache; about 370, as between cores that share none: the" \
    "2-worker rows of both runtimes slow down; compare rounds read alike)"
  echo
  echo "sleep precision (how late a 1 ms corun_sleep wakes, 200 sleeps, idle):"
  grep ' sleep_1ms_late_us ' "$tmp/sched_corun.txt" | sed 's/^/  /; s/ round=/, round /' || true
fi

# ---- network: HTTP and TCP echo servers ---------------------------------------------
# net/run.sh (corun's servers vs a hand-written epoll server, nginx and Go,
# server on CPU 0 and load generator on CPU 1; about 6 minutes with the
# defaults NET_SECONDS=10 NET_RUNS=3) prints its own table and writes
# bench/net_results.json (or $NET_JSON); a copy goes into results.json
# under "net". BENCH_NET=0 skips it.
net_json=null
if [ "${BENCH_NET:-1}" != 0 ]; then
  echo
  net_file=${NET_JSON:-$here/net_results.json}
  if NET_JSON=$net_file bash "$here/net/run.sh" "$build" && [ -s "$net_file" ]; then
    net_json=$(sed '2,$s/^/  /' "$net_file")
  else
    echo "run.sh: WARNING: bench/net/run.sh failed; no network figures" >&2
  fi
fi

# ---- results.json ----------------------------------------------------------------
{
  echo "{"
  echo "  \"schema\": 1,"
  echo "  \"date\": $(jstr "$date"),"
  echo "  \"commit\": $(jstr "$commit"),"
  echo "  \"machine\": {"
  echo "    \"kernel\": $(jstr "$kernel"),"
  echo "    \"cpu_model\": $(jstr "$cpu_model"),"
  echo "    \"ncpu\": $ncpu,"
  echo "    \"pinned_cpu\": $(jstr "$cpu"),"
  echo "    \"gcc\": $(jstr "$gcc_version"),"
  echo "    \"glibc\": $(jstr "$glibc_version"),"
  echo "    \"boost\": $(jstr "${boost_version:-none}"),"
  echo "    \"build_type\": $(jstr "$build_type")"
  echo "  },"
  echo "  \"config\": {\"rounds\": $rounds, \"reps\": $reps, \"ms_per_rep\": $ms, \"unit\": \"ns/op\"},"
  echo "  \"measurements\": {"
  first=1
  while read -r name iters n med lo hi; do
    [ $first = 1 ] || echo ","
    first=0
    printf '    "%s": {"median_ns": %s, "min_ns": %s, "max_ns": %s, "samples": %s, "iters_per_sample": %s, "what": %s}' \
      "$name" "$med" "$lo" "$hi" "$n" "$iters" "$(jstr "$(desc "$name")")"
  done <"$agg"
  echo
  echo "  },"
  echo "  \"comparisons\": [$cmp_json"
  echo "  ],"
  echo "  \"callgrind\": $cg_json,"
  echo "  \"memory\": $mem_json,"
  echo "  \"net\": $net_json"
  echo "}"
} >"$json"
echo
echo "wrote $json"
exit 0

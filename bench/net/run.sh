#!/usr/bin/env bash
# net/run.sh <builddir>: the network benchmark. corun's HTTP and echo
# servers side by side with a hand-written epoll server in C (the practical
# upper limit), nginx with one worker and Go 1.19 with GOMAXPROCS=1, all
# measured in the same run, on the same two CPUs: the server pinned to CPU
# 0, the load generator (wrk for HTTP, echo_load for echo) to CPU 1. Prints
# a table (medians, min..max, ratios corun/peer (the median over the
# rounds of each round's ratio, and their range) against the issue's
# targets, PASS/MISS) and writes bench/net_results.json. bench/run.sh calls
# it at its end (BENCH_NET=0 skips it there). Under the comparisons, the
# same ratios over the rounds whose two runs found the two CPUs equally
# far apart (bench_c2c, read before each run; see c2c_now). See
# bench/README.md.
#
# Why "per server CPU second": on two CPUs wrk saturates its own core, so
# raw requests per second measure the client as much as the server. The
# server's CPU time over each run (utime + stime of the server process, all
# its threads, plus its child processes, i.e. nginx's worker, from
# /proc/PID/stat, in clock ticks) divides the work done by what it cost the
# server: requests (or messages) per server CPU second. The tick is 10 ms
# (CLK_TCK 100): well below 1 % of a 10 s run. The table also shows the
# load generator's CPU % and what other programs took from the two CPUs
# (other%): this is a shared machine, and a disturbed row is flagged.
#
# Tests, each run NET_RUNS times per server; the servers take turns within
# a round, and the order rotates from round to round, so a noisy phase of
# the machine spreads over all of them:
#   http  wrk -t1 -c{100,1000} -d${NET_SECONDS}s --latency, keep-alive GET /,
#         13-byte body; corun (examples/http_server.c, CORUN_WORKERS=1,
#         its default event loop: io_uring where it starts; corun-epoll
#         is the same with CORUN_POLLER=epoll),
#         epoll (net/epoll_http.c), nginx (1 worker, `return 200`),
#         go (go/http.go, GOMAXPROCS=1)
#   echo  echo_load -c 100 -s 64: closed loop, 64-byte messages; corun
#         (examples/echo_server.c, CORUN_WORKERS=1), epoll
#         (net/epoll_echo.c), go (go/echo.go, GOMAXPROCS=1)
# Before its first measured run each server gets an unrecorded warm-up of
# NET_WARMUP seconds.
#
# Environment:
#   NET_SECONDS=10       duration of one run
#   NET_RUNS=3           runs per server and test (the median is reported)
#   NET_CONNS="100 1000" wrk connection counts
#   NET_ECHO_CONNS=100   echo_load connections
#   NET_ECHO_SIZE=64     echo message size in bytes
#   NET_WARMUP=1         warm-up seconds per server (0: none)
#   NET_SERVER_CPU=0     CPU of the servers
#   NET_LOAD_CPU=1       CPU of wrk and echo_load
#   NET_PIN=0            do not pin at all
#   NET_ONLY="http echo" which tests to run
#   NET_NOISY=10         flag a row as disturbed when other programs used
#                        more than this % of the server CPU (median)
#   NET_JSON=<file>      where to write the results (bench/net_results.json)
#
# A missed target is MISS, not an error; a server that is not built or not
# installed is "n/a". The script fails (exit 1) only when it cannot run at
# all (no build). Every server it started is stopped on exit, also on
# failure or Ctrl-C.

# Run as `sh net/run.sh` too: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
bench_dir=$(cd "$here/.." && pwd)
if [ $# -ne 1 ]; then
  echo "usage: $0 <builddir>  (configured with -DCORUN_BUILD_BENCH=ON)" >&2
  exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || { echo "net/run.sh: no directory $1" >&2; exit 2; }
bin=$build/bench
secs=${NET_SECONDS:-10}
runs=${NET_RUNS:-3}
conns_list=${NET_CONNS:-100 1000}
echo_conns=${NET_ECHO_CONNS:-100}
echo_size=${NET_ECHO_SIZE:-64}
warmup=${NET_WARMUP:-1}
server_cpu=${NET_SERVER_CPU:-0}
load_cpu=${NET_LOAD_CPU:-1}
only=${NET_ONLY:-http echo}
json=${NET_JSON:-$bench_dir/net_results.json}
clk=$(getconf CLK_TCK)

for p in epoll_http epoll_echo echo_load; do
  if [ ! -x "$bin/$p" ]; then
    echo "net/run.sh: $bin/$p not built; configure with -DCORUN_BUILD_BENCH=ON and build" >&2
    exit 1
  fi
done

# ---- pinning and limits -------------------------------------------------------
spin=() lpin=()
if [ "${NET_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1 &&
   taskset -c "$server_cpu" true 2>/dev/null && taskset -c "$load_cpu" true 2>/dev/null; then
  spin=(taskset -c "$server_cpu")
  lpin=(taskset -c "$load_cpu")
else
  echo "net/run.sh: NOTE: not pinning (NET_PIN=0, no taskset, or CPU $server_cpu/$load_cpu not allowed)" >&2
  server_cpu=none load_cpu=none
fi

# 1,000 connections need more than the usual 1,024 descriptors (wrk holds
# one per connection, a server one per connection plus its own). Children
# inherit the limit.
want=65536
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard
[ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ] && ulimit -n "$want" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 2100 ]; then
  echo "net/run.sh: WARNING: only $(ulimit -n) file descriptors; 1,000 connections may fail" >&2
fi

# ---- the programs -----------------------------------------------------------------
tmp=$(mktemp -d)
pids=()
# Stops every server this script started (TERM, then KILL after 2 s), and
# their children (nginx's worker).
stop_pid() {
  local pid=$1 kids i
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(pgrep -P "$pid" 2>/dev/null)
  kill -TERM "$pid" $kids 2>/dev/null
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" $kids 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
# The load generator runs in the background and the script waits for it:
# a trapped signal interrupts `wait` at once (not so a foreground child),
# and cleanup stops it too.
# Its CPU time goes to $tmp/load_ticks: the shell's `times` (run in this
# shell, not a subshell) sums the children it has waited for, and the load
# generator is the only one waited for in between.
load_pid=
load() {
  times >"$tmp/times0"
  "$@" &
  load_pid=$!
  wait "$load_pid"
  load_pid=
  times >"$tmp/times1"
  awk -v clk="$clk" 'FNR == 2 {
      for (i = 1; i <= 2; i++) { split($i, m, "m"); sub(/s$/, "", m[2]); t[FILENAME] += m[1] * 60 + m[2] }
    }
    END { printf "%d\n", (t[ARGV[2]] - t[ARGV[1]]) * clk + 0.5 }' \
    "$tmp/times0" "$tmp/times1" >"$tmp/load_ticks"
}
cleanup() {
  local pid
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  for pid in ${pids[@]+"${pids[@]}"}; do stop_pid "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# corun's HTTP server: a bench target built from examples/http_server.c when
# that file exists (bench/CMakeLists.txt), else the example's own build.
corun_http=
for f in "$bin/corun_http_server" "$build/examples/http_server"; do
  [ -x "$f" ] && { corun_http=$f; break; }
done
corun_echo=
for f in "$bin/corun_echo_server" "$build/examples/echo_server"; do
  [ -x "$f" ] && { corun_echo=$f; break; }
done
nginx=
for f in /usr/sbin/nginx "$(command -v nginx 2>/dev/null)"; do
  [ -n "$f" ] && [ -x "$f" ] && { nginx=$f; break; }
done
have_wrk=0
command -v wrk >/dev/null 2>&1 && have_wrk=1

# Go: built offline like bench/go/run.sh (go/env.sh), into the build dir.
go_http= go_echo=
if command -v go >/dev/null 2>&1; then
  if (cd "$bench_dir/go" && . ./env.sh &&
      go build -o "$bin/corun-go-http" http.go &&
      go build -o "$bin/corun-go-echo" echo.go) >"$tmp/go-build.log" 2>&1; then
    go_http=$bin/corun-go-http go_echo=$bin/corun-go-echo
  else
    echo "net/run.sh: WARNING: building the Go servers failed:" >&2
    sed 's/^/  /' "$tmp/go-build.log" >&2
  fi
fi

# Why a server has no figures (empty when it has).
declare -A why_na
[ -z "$corun_http" ] && why_na[http.corun]="n/a (not built)"
[ -z "$corun_echo" ] && why_na[echo.corun]="n/a (not built)"
[ -z "$corun_http" ] && why_na[http.corun-epoll]="n/a (not built)"
[ -z "$corun_echo" ] && why_na[echo.corun-epoll]="n/a (not built)"
[ -z "$nginx" ] && why_na[http.nginx]="n/a (nginx not installed)"
[ -z "$go_http" ] && why_na[http.go]="n/a (Go not installed)"
[ -z "$go_echo" ] && why_na[echo.go]="n/a (Go not installed)"

# ---- servers ------------------------------------------------------------------------
# A free port below the ephemeral range (so wrk's and echo_load's own
# source ports never take it), not bound by anything, IPv4 or IPv6.
free_port() {
  local p hex
  while :; do
    p=$((20000 + RANDOM % 12000))
    hex=$(printf ':%04X ' "$p")
    grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return; }
  done
}

nginx_conf() {
  local dir=$tmp/nginx user=
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && user="user root;"
  cat >"$dir/nginx.conf" <<EOF
# Generated by bench/net/run.sh: nginx's minimal hello world, one worker.
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
lock_file $dir/nginx.lock;
error_log $dir/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / {
      default_type text/plain;
      return 200 "Hello, World!";
    }
  }
}
EOF
}

# Waits until 127.0.0.1:$1 accepts a connection (bash's /dev/tcp), at most
# 5 s; fails at once if process $2 is gone.
wait_accepting() {
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

declare -A spid sport
# start_server <test> <server>: starts it pinned on a free port and waits
# until it accepts; sets spid[test.server] and sport[test.server]. Three
# tries (another program may take the port between the check and bind).
start_server() {
  local key=$1.$2 try p pid cmd
  [ -n "${why_na[$key]:-}" ] && return 1
  for try in 1 2 3; do
    p=$(free_port)
    case $key in
      http.corun) cmd=(env CORUN_WORKERS=1 "$corun_http" serve "$p") ;;
      http.corun-epoll) cmd=(env CORUN_WORKERS=1 CORUN_POLLER=epoll
                             "$corun_http" serve "$p") ;;
      http.epoll) cmd=("$bin/epoll_http" "$p") ;;
      http.nginx) nginx_conf "$p"
                  cmd=("$nginx" -p "$tmp/nginx/" -e "$tmp/nginx/error.log"
                       -c "$tmp/nginx/nginx.conf") ;;
      http.go) cmd=(env GOMAXPROCS=1 "$go_http" "$p") ;;
      echo.corun) cmd=(env CORUN_WORKERS=1 "$corun_echo" serve "$p") ;;
      echo.corun-epoll) cmd=(env CORUN_WORKERS=1 CORUN_POLLER=epoll
                             "$corun_echo" serve "$p") ;;
      echo.epoll) cmd=("$bin/epoll_echo" "$p") ;;
      echo.go) cmd=(env GOMAXPROCS=1 "$go_echo" "$p") ;;
    esac
    # taskset and env exec the server: $! is the server's own pid.
    ${spin[@]+"${spin[@]}"} "${cmd[@]}" >"$tmp/$key.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    if wait_accepting "$p" "$pid"; then
      spid[$key]=$pid sport[$key]=$p
      return 0
    fi
    stop_pid "$pid"
  done
  echo "net/run.sh: WARNING: $2 ($1) did not start; its log:" >&2
  sed 's/^/  /' "$tmp/$key.log" "$tmp/nginx/error.log" 2>/dev/null | tail -n 20 >&2
  why_na[$key]="n/a (did not start)"
  return 1
}

# CPU ticks (utime + stime) used so far by process $1 (all its threads:
# /proc/PID/stat of a process sums them, also those that exited) and by its
# children (nginx's worker).
ticks() {
  local total=0 p line f
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=(${line##*) }) # fields 3.. (the name in parentheses may hold spaces)
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# Busy ticks so far of the two benchmark CPUs (user, nice, system, irq,
# softirq, steal from /proc/stat, in the same clock ticks; all CPUs when not
# pinned). Minus the server's and the load generator's own ticks, it is
# what other programs (and the hypervisor) took from those CPUs during a
# run: the "other%" column. (The kernel charges a tick spent in softirq to
# both the softirq column and the running task, here the server or the
# load generator doing its own network work: nothing is counted twice.)
cpu_busy() {
  awk -v a="cpu$server_cpu" -v b="cpu$load_cpu" -v all="$([ "$server_cpu" = none ] && echo 1)" '
    (all && $1 == "cpu") || (!all && ($1 == a || $1 == b)) { s += $2 + $3 + $4 + $7 + $8 + $9 }
    END { print s + 0 }' /proc/stat
}

# ---- measuring ------------------------------------------------------------------------
# The cross-CPU round trip of a cache line between the server's and the
# load's CPUs (bench_c2c), read just before each run: on this VM it moves
# between about 80 and 370 ns, for minutes at a time, as the host moves
# the vCPUs, and loopback traffic (wake-ups, socket buffers) crosses
# between the two CPUs, so every server's figures move with it, and not
# all alike. The comparisons below are also shown over the pairs whose
# two runs read alike (paired). n/a when nothing is pinned.
c2c_now() {
  local v=
  if [ "$server_cpu" != none ] && [ -x "$bin/bench_c2c" ]; then
    v=$("$bin/bench_c2c" "$server_cpu" "$load_cpu" 2>/dev/null | awk '{print $2}')
  fi
  echo "${v:-n/a}"
}
C2C_FAR=200 # ns: readings at or above are "far" (about 370), below "near" (about 80)

# test server run rate count server_ticks p99_us errors busy_ticks load_ticks c2c_ns
samples=$tmp/samples
: >"$samples"

# The last sample, on stderr, to watch a run go.
progress() {
  tail -n1 "$samples" | awk -v clk="$clk" '{
    cpu = $6 / clk
    printf "    %.0f/s, %.0f per server CPU-s, p99 %.2f ms, server CPU %.2f s%s, c2c %s ns\n",
           $4, (cpu > 0 ? $5 / cpu : 0), $7 / 1000, cpu, ($8 ? ", " $8 " errors" : ""), $11 }' >&2
}

# wrk's latency with its unit -> microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    m = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : -1
    if (m < 0) print "nan"; else printf "%.1f", n * m }'
}

# run_http <server> <conns> <run>: one wrk run, one sample line.
run_http() {
  local key=http.$1 out=$tmp/wrk.out t0 t1 b0 b1 req rps p99 err c2c
  c2c=$(c2c_now)
  b0=$(cpu_busy)
  t0=$(ticks "${spid[$key]}")
  load ${lpin[@]+"${lpin[@]}"} wrk -t1 -c"$2" -d"${secs}s" --latency \
    "http://127.0.0.1:${sport[$key]}/" >"$out" 2>&1
  t1=$(ticks "${spid[$key]}")
  b1=$(cpu_busy)
  req=$(awk '/ requests in / { print $1 }' "$out")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p99=$(awk '/Latency Distribution/ { d = 1 } d && $1 == "99%" { print $2; exit }' "$out")
  err=$(awk '/Socket errors:/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
             /Non-2xx or 3xx/ { s += $NF } END { print s + 0 }' "$out")
  if [ -z "$req" ] || [ -z "$rps" ] || [ -z "$p99" ]; then
    echo "net/run.sh: WARNING: wrk against $1 (-c$2) gave no figures:" >&2
    sed 's/^/  /' "$out" | head -n 20 >&2
    return
  fi
  [ "$err" != 0 ] && echo "net/run.sh: NOTE: $1 -c$2 run $3: $err wrk errors (socket errors + non-2xx)" >&2
  echo "http$2 $1 $3 $rps $req $((t1 - t0)) $(to_us "$p99") $err $((b1 - b0)) $(cat "$tmp/load_ticks") $c2c" >>"$samples"
  progress
}

# kv <key>: the value of key=value in echo_load's output line.
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$tmp/echo.out" | head -n1; }

# run_echo <server> <run>: one echo_load run, one sample line.
run_echo() {
  local key=echo.$1 out=$tmp/echo.out t0 t1 b0 b1 c2c
  c2c=$(c2c_now)
  b0=$(cpu_busy)
  t0=$(ticks "${spid[$key]}")
  load ${lpin[@]+"${lpin[@]}"} "$bin/echo_load" -c "$echo_conns" -s "$echo_size" \
    -d "$secs" "${sport[$key]}" >"$out" 2>&1
  t1=$(ticks "${spid[$key]}")
  b1=$(cpu_busy)
  if [ -z "$(kv msgs)" ]; then
    echo "net/run.sh: WARNING: echo_load against $1 gave no figures:" >&2
    sed 's/^/  /' "$out" | head -n 20 >&2
    return
  fi
  [ "$(kv errors)" != 0 ] && { echo "net/run.sh: WARNING: echo_load against $1:" >&2; sed 's/^/  /' "$out" | head -n 5 >&2; }
  echo "echo$echo_conns $1 $2 $(kv msgs_per_s) $(kv msgs) $((t1 - t0)) $(kv p99_us) $(kv errors) $((b1 - b0)) $(cat "$tmp/load_ticks") $c2c" >>"$samples"
  progress
}

# The servers of a test in round r's order: the list rotated by r - 1.
rotated() {
  local r=$1; shift
  local a=("$@") n=$# i
  for ((i = 0; i < n; i++)); do echo "${a[(i + r - 1) % n]}"; done
}

commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$bench_dir/.." status --porcelain -- src include examples bench/net 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "network benchmark  $date  commit $commit"
echo "servers on CPU $server_cpu, load generator on CPU $load_cpu; $runs runs x ${secs} s per server and test, medians; warm-up ${warmup} s"

# corun: its default backend (io_uring here); corun-epoll: forced epoll.
http_servers=(corun corun-epoll epoll nginx go)
echo_servers=(corun corun-epoll epoll go)
if [[ " $only " == *" http "* ]]; then
  if [ $have_wrk = 0 ]; then
    echo "net/run.sh: NOTE: wrk not installed (apt-get install wrk): no HTTP figures" >&2
    for s in "${http_servers[@]}"; do why_na[http.$s]="n/a (no wrk)"; done
  else
    up=()
    for s in "${http_servers[@]}"; do
      start_server http "$s" && up+=("$s")
    done
    if [ "$warmup" != 0 ]; then
      for s in ${up[@]+"${up[@]}"}; do
        load ${lpin[@]+"${lpin[@]}"} wrk -t1 -c100 -d"${warmup}s" "http://127.0.0.1:${sport[http.$s]}/" >/dev/null 2>&1
      done
    fi
    for ((r = 1; r <= runs; r++)); do
      for c in $conns_list; do
        for s in $(rotated "$r" ${up[@]+"${up[@]}"}); do
          echo "  http -c$c round $r/$runs: $s" >&2
          run_http "$s" "$c" "$r"
        done
      done
    done
    for s in ${up[@]+"${up[@]}"}; do stop_pid "${spid[http.$s]}"; done
  fi
fi
if [[ " $only " == *" echo "* ]]; then
  up=()
  for s in "${echo_servers[@]}"; do
    start_server echo "$s" && up+=("$s")
  done
  if [ "$warmup" != 0 ]; then
    for s in ${up[@]+"${up[@]}"}; do
      load ${lpin[@]+"${lpin[@]}"} "$bin/echo_load" -c "$echo_conns" -s "$echo_size" \
        -d "$warmup" "${sport[echo.$s]}" >/dev/null 2>&1
    done
  fi
  for ((r = 1; r <= runs; r++)); do
    for s in $(rotated "$r" ${up[@]+"${up[@]}"}); do
      echo "  echo round $r/$runs: $s" >&2
      run_echo "$s" "$r"
    done
  done
  for s in ${up[@]+"${up[@]}"}; do stop_pid "${spid[echo.$s]}"; done
fi

# ---- aggregate ------------------------------------------------------------------------
# One line per test and server:
#   test server n rate_med rate_min rate_max percpu_med percpu_min percpu_max
#   p99_med p99_min p99_max cpu_pct_med errors_total other_pct_med
#   load_pct_med
# (rates per second and per server CPU second; p99 in microseconds; CPU%:
# the server's CPU time over the run's nominal length; load%: the same for
# the load generator; other%: the rest of the two CPUs' busy time, i.e.
# other programs, in % of one CPU.)
# awk functions the aggregate and the comparisons (paired) share: sort
# a[1..n] ascending (a handful of runs: insertion sort), and the median of
# a sorted a[1..n].
awk_stats='
  function sort(a, n,   i, j, x) {
    for (i = 2; i <= n; i++) {
      x = a[i]; j = i - 1
      while (j >= 1 && a[j] > x) { a[j + 1] = a[j]; j-- }
      a[j + 1] = x
    }
  }
  function med(a, n) { return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
'
agg=$tmp/agg
awk -v clk="$clk" -v secs="$secs" "$awk_stats"'
  {
    k = $1 " " $2
    if (!(k in n)) { order[++nk] = k; n[k] = 0 }
    i = ++n[k]
    rate[k, i] = $4
    cpu = $6 / clk
    percpu[k, i] = (cpu > 0) ? $5 / cpu : 0
    p99[k, i] = $7
    pct[k, i] = 100 * cpu / secs
    o = 100 * ($9 - $6 - $10) / clk / secs
    oth[k, i] = (o > 0) ? o : 0
    lpct[k, i] = 100 * $10 / clk / secs
    errs[k] += $8
  }
  END {
    for (q = 1; q <= nk; q++) {
      k = order[q]; m = n[k]
      for (i = 1; i <= m; i++) {
        a[i] = rate[k, i]; b[i] = percpu[k, i]; c[i] = p99[k, i]
        d[i] = pct[k, i]; e[i] = oth[k, i]; f[i] = lpct[k, i]
      }
      sort(a, m); sort(b, m); sort(c, m); sort(d, m); sort(e, m); sort(f, m)
      printf "%s %d %.0f %.0f %.0f %.0f %.0f %.0f %.1f %.1f %.1f %.0f %d %.0f %.0f\n", k, m,
             med(a, m), a[1], a[m], med(b, m), b[1], b[m], med(c, m), c[1], c[m],
             med(d, m), errs[k], med(e, m), med(f, m)
    }
  }' "$samples" >"$agg"

# get <test> <server> <column> (columns as above, 1-based)
get() { awk -v t="$1" -v s="$2" -v c="$3" '$1 == t && $2 == s { print $c }' "$agg"; }

# ---- table ----------------------------------------------------------------------------
tests=()
[[ " $only " == *" http "* ]] && for c in $conns_list; do tests+=("http$c"); done
[[ " $only " == *" echo "* ]] && tests+=("echo$echo_conns")

# A median other% above this flags the row as disturbed (NET_NOISY).
noisy_pct=${NET_NOISY:-10}
hfmt="%-11s %8s  %-15s  %10s  %-15s  %7s  %-13s %4s %5s %6s  %s\n"
echo
for t in "${tests[@]}"; do
  case $t in
    http*) kind=http unit="req"
           echo "HTTP keep-alive GET, 13-byte body: wrk -t1 -c${t#http} -d${secs}s, $runs runs"
           servers=("${http_servers[@]}") ;;
    echo*) kind=echo unit="msg"
           echo "TCP echo, closed loop: echo_load -c $echo_conns -s $echo_size -d $secs, $runs runs"
           servers=("${echo_servers[@]}") ;;
  esac
  printf "$hfmt" server "$unit/s" "min..max" "$unit/CPU-s" "min..max" "p99 ms" "min..max" CPU% load% other% errors
  for s in "${servers[@]}"; do
    if [ -z "$(get "$t" "$s" 3)" ]; then
      printf "%-11s %s\n" "$s" "${why_na[$kind.$s]:-n/a (no samples)}"
      continue
    fi
    awk -v t="$t" -v s="$s" -v f="$hfmt" '$1 == t && $2 == s {
      printf f, s, $4, $5 ".." $6, $7, $8 ".." $9, sprintf("%.2f", $10 / 1000),
             sprintf("%.2f..%.2f", $11 / 1000, $12 / 1000), $13, $16, $15, $14 }' "$agg"
  done
  noisy=$(awk -v t="$t" -v lim="$noisy_pct" '$1 == t && $15 > lim { printf " %s (%d%%)", $2, $15 }' "$agg")
  [ -n "$noisy" ] && echo "NOTE: disturbed: other programs used the benchmark CPUs during the runs of:$noisy; run again on a quiet machine"
  echo
done

# Comparisons: test peer metric target. Targets are corun's, per server
# CPU second ("per core") and p99 no worse than nginx's; raw req/s and the
# echo ratio to Go are for reading ("-").
comparisons=""
for t in "${tests[@]}"; do
  case $t in
    http*) comparisons="$comparisons
$t epoll percpu >=0.95
$t nginx percpu >=1.15
$t go percpu >=2
$t nginx p99 <=nginx
$t epoll rate -
$t nginx rate -
$t go rate -" ;;
    echo*) comparisons="$comparisons
$t epoll percpu >=0.95
$t go percpu -
$t epoll rate -
$t go rate -" ;;
  esac
done

# paired <test> <peer> <metric>: "median min max n" of the rounds' ratios
# corun/peer (metric percpu, rate or p99), each round's corun sample over
# the same round's peer sample. The servers of a round run one after
# another within a minute or so, so a slow phase of the shared VM tends to
# hit both sides of a round's ratio; the medians of the two servers' own
# figures, divided, can compare a fast minute of one with a slow minute of
# the other. Then the same ratios split by vCPU distance: "near_median
# near_rounds far_median far_rounds mixed_rounds" over the rounds whose
# two runs both read near (c2c below C2C_FAR), both far, or one of each
# (a median is - without rounds; all five are - without readings).
# Prints nothing when no round has both samples.
paired() {
  awk -v t="$1" -v p="$2" -v m="$3" -v clk="$clk" -v far="$C2C_FAR" "$awk_stats"'
    function val(   cpu) {
      if (m == "rate") return $4
      if (m == "p99") return $7
      cpu = $6 / clk
      return (cpu > 0) ? $5 / cpu : 0
    }
    function state() { return ($11 == "" || $11 == "n/a") ? "" : ($11 + 0 >= far) ? "far" : "near" }
    function med_or_dash(v, n) { if (!n) return "-"; sort(v, n); return sprintf("%.3f", med(v, n)) }
    $1 == t && $2 == "corun" { c[$3] = val(); cs[$3] = state() }
    $1 == t && $2 == p { q[$3] = val(); qs[$3] = state() }
    END {
      n = nn = nf = mixed = nread = 0
      for (r in c) {
        if (!(r in q) || q[r] <= 0) continue
        v[++n] = c[r] / q[r]
        if (cs[r] == "" || qs[r] == "") continue
        nread++
        if (cs[r] != qs[r]) mixed++
        else if (cs[r] == "near") vn[++nn] = v[n]
        else vf[++nf] = v[n]
      }
      if (n == 0) exit
      sort(v, n)
      printf "%.3f %.3f %.3f %d ", med(v, n), v[1], v[n], n
      if (!nread) print "- - - - -"
      else printf "%s %d %s %d %d\n", med_or_dash(vn, nn), nn, med_or_dash(vf, nf), nf, mixed
    }' "$samples"
}

cfmt="%-9s %-12s %-14s %7s  %-13s %-9s %s\n"
printf "$cfmt" test "corun vs" metric ratio "rounds" target status
pass=0 miss=0 na=0
cmp_json=""
sfmt="%-9s %-12s %-14s %-14s %-14s %-6s %s\n"
split_rows=""
while read -r t peer metric target; do
  [ -z "$t" ] && continue
  case $metric in
    percpu) label="per CPU-s" ;;
    rate) label="per second" ;;
    p99) label="p99 latency" ;;
  esac
  pmed= pmin= pmax= nmed= nn= fmed= nf= mixed=
  read -r pmed pmin pmax _ nmed nn fmed nf mixed <<<"$(paired "$t" "$peer" "$metric")"
  if [ -z "$pmax" ]; then
    ratio=n/a status=n/a range=-
  else
    range="$pmin..$pmax"
    if [ "$metric" = p99 ]; then
      ratio=$(awk -v r="$pmed" 'BEGIN { printf "%.2f", r }')
      status=$(awk -v r="$pmed" 'BEGIN { print (r <= 1) ? "PASS" : "MISS" }')
    else
      ratio=$pmed
      if [ "$target" = - ]; then
        status=info
      else
        status=$(awk -v r="$ratio" -v t="${target#>=}" 'BEGIN { print (r >= t) ? "PASS" : "MISS" }')
      fi
    fi
  fi
  case $status in
    PASS) pass=$((pass + 1)) ;;
    MISS) miss=$((miss + 1)) ;;
    n/a) [ "$target" != - ] && na=$((na + 1)) ;;
  esac
  printf "$cfmt" "$t" "$peer" "$label" "$ratio" "$range" "$target" "$status"
  [ "$ratio" = n/a ] && jr=null || jr=$ratio
  [ "$target" = - ] && jt=null || jt="\"$target\""
  jsplit=
  if [ -n "$mixed" ] && [ "$mixed" != - ]; then
    [ "$target" != - ] && split_rows="$split_rows$(printf "$sfmt" "$t" "$peer" "$label" "$nmed ($nn)" "$fmed ($nf)" "$mixed" "$target")"$'\n'
    [ "$nmed" = - ] && jn=null || jn=$nmed
    [ "$fmed" = - ] && jf=null || jf=$fmed
    jsplit=", \"near\": {\"ratio\": $jn, \"rounds\": $nn}, \"far\": {\"ratio\": $jf, \"rounds\": $nf}, \"mixed_rounds\": $mixed"
  fi
  cmp_json="$cmp_json${cmp_json:+,}
    {\"test\": \"$t\", \"peer\": \"$peer\", \"metric\": \"$metric\", \"ratio\": $jr, \"target\": $jt, \"status\": \"$status\"$jsplit}"
done <<<"$comparisons"
echo
echo "targets: $pass PASS, $miss MISS, $na n/a (ratio: the median over the rounds of corun's figure over the peer's in the same round, with their range; p99: corun's over nginx's, PASS when <= 1)"
if [ -n "$split_rows" ]; then
  echo
  echo "by vCPU distance: bench_c2c reads the cross-CPU round trip of a cache line, CPUs $server_cpu and $load_cpu, before each run:" \
    "$(awk -v far="$C2C_FAR" '$11 != "n/a" && $11 != "" { n++; if ($11 + 0 >= far) f++; if (lo == "" || $11 + 0 < lo) lo = $11 + 0; if ($11 + 0 > hi) hi = $11 + 0 }
      END { printf "%d runs, %d near (< %d ns), %d far; %.0f..%.0f ns", n, n - f, far, f, lo, hi }' "$samples")"
  echo "(about 80 ns, as between cores that share a cache; about 370, as between cores that share none: every server slows down, not all alike)."
  echo "The ratios again, over the rounds whose two runs read alike (number of such rounds in brackets; mixed: rounds whose runs did not):"
  printf "$sfmt" test "corun vs" metric "near" "far" mixed target
  printf '%s' "$split_rows"
fi

# ---- net_results.json ------------------------------------------------------------------
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
{
  echo "{"
  echo "  \"schema\": 1,"
  echo "  \"date\": $(jstr "$date"),"
  echo "  \"commit\": $(jstr "$commit"),"
  echo "  \"machine\": {"
  echo "    \"kernel\": $(jstr "$(uname -r)"),"
  echo "    \"cpu_model\": $(jstr "$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"),"
  echo "    \"ncpu\": $(nproc 2>/dev/null || echo 1),"
  echo "    \"server_cpu\": $(jstr "$server_cpu"),"
  echo "    \"load_cpu\": $(jstr "$load_cpu"),"
  echo "    \"gcc\": $(jstr "$(gcc --version 2>/dev/null | head -n1)"),"
  echo "    \"wrk\": $(jstr "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"),"
  echo "    \"nginx\": $(jstr "$("${nginx:-false}" -v 2>&1 | sed 's/.*: //')"),"
  echo "    \"go\": $(jstr "$(go version 2>/dev/null)"),"
  echo "    \"clk_tck\": $clk,"
  # bench_c2c before each run, per test in the order of the runs: numbers, or null.
  echo "    \"c2c_ns\": {$(awk '!($1 in v) { order[n++] = $1 } { x = ($11 == "n/a" || $11 == "" ? "null" : $11); v[$1] = v[$1] ($1 in v && v[$1] != "" ? ", " : "") x } END { for (i = 0; i < n; i++) printf "%s\"%s\": [%s]", (i ? ", " : ""), order[i], v[order[i]] }' "$samples")}"
  echo "  },"
  echo "  \"config\": {\"seconds\": $secs, \"runs\": $runs, \"http_connections\": [$(echo $conns_list | tr ' ' ',')], \"echo_connections\": $echo_conns, \"echo_bytes\": $echo_size, \"warmup_seconds\": $warmup},"
  echo "  \"results\": {"
  first=1
  for t in "${tests[@]}"; do
    case $t in http*) servers=("${http_servers[@]}") kind=http ;; *) servers=("${echo_servers[@]}") kind=echo ;; esac
    [ $first = 1 ] || echo ","
    first=0
    printf '    "%s": {' "$t"
    sfirst=1
    for s in "${servers[@]}"; do
      [ $sfirst = 1 ] || printf ','
      sfirst=0
      if [ -z "$(get "$t" "$s" 3)" ]; then
        printf '\n      "%s": {"status": %s}' "$s" "$(jstr "${why_na[$kind.$s]:-n/a (no samples)}")"
        continue
      fi
      printf '\n      "%s": {"runs": %s, "per_second": {"median": %s, "min": %s, "max": %s}, "per_cpu_second": {"median": %s, "min": %s, "max": %s}, "p99_us": {"median": %s, "min": %s, "max": %s}, "server_cpu_pct": %s, "errors": %s, "other_pct": %s, "load_cpu_pct": %s}' \
        "$s" $(get "$t" "$s" 3) $(get "$t" "$s" 4) $(get "$t" "$s" 5) $(get "$t" "$s" 6) \
        $(get "$t" "$s" 7) $(get "$t" "$s" 8) $(get "$t" "$s" 9) \
        $(get "$t" "$s" 10) $(get "$t" "$s" 11) $(get "$t" "$s" 12) \
        $(get "$t" "$s" 13) $(get "$t" "$s" 14) $(get "$t" "$s" 15) $(get "$t" "$s" 16)
    done
    printf '\n    }'
  done
  echo
  echo "  },"
  echo "  \"comparisons\": [$cmp_json"
  echo "  ]"
  echo "}"
} >"$json"
echo "wrote $json"
exit 0

#!/bin/sh
# sched_table.sh CORUN_OUT GO_OUT: the scheduler comparison as a markdown
# table, one row per benchmark and worker count, with the ratio corun/go of
# the medians and the target for it.
#
# CORUN_OUT holds bench_sched's lines ("corun<W> <name> <median> <min> <max>"
# and "corun<W> idle_cpu <percent>"), GO_OUT bench/go/run.sh's
# ("go<W> <name> <median> <min> <max>"), all in ns per op. Lines are told
# apart by their first word, not by the file they are in, so other lines
# (notes, headers) are ignored and one file holding both works too. A
# missing Go figure (Go not installed) leaves "n/a" in its cells.
#
# Targets (ratio corun/go of the medians, lower is better):
#   spawn, yield, pingpong                    <= 0.25  (4x faster than Go)
#   buffered, select4, mutex, sleepers        <= 0.5   (2x faster than Go)
#   idle_cpu (CPU used while the only task sleeps; no Go figure)  <= 1 %
# A missed target shows "MISSED" in the target cell. Benchmarks are not
# tests: the script exits 0 whatever the figures, 2 on a usage error.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: $0 CORUN_OUT GO_OUT" >&2
  exit 2
fi
for f in "$@"; do
  if [ ! -r "$f" ]; then
    echo "sched_table.sh: cannot read $f" >&2
    exit 2
  fi
done

LC_ALL=C awk '
  # Median of corun<W> <name> and go<W> <name>, by (name, workers).
  $1 ~ /^corun[0-9]+$/ && NF >= 3 {
    w = substr($1, 6); corun[$2, w] = $3; seen_w[w] = 1; seen_b[$2] = 1
  }
  $1 ~ /^go[0-9]+$/ && NF >= 3 {
    w = substr($1, 3); go[$2, w] = $3; seen_w[w] = 1; seen_b[$2] = 1
  }
  END {
    nb = split("spawn yield pingpong buffered select4 mutex sleepers", order)
    target["spawn"] = 0.25; target["yield"] = 0.25; target["pingpong"] = 0.25
    target["buffered"] = 0.5; target["select4"] = 0.5
    target["mutex"] = 0.5; target["sleepers"] = 0.5
    # Worker counts seen, ascending (a handful: insertion sort).
    nw = 0
    for (w in seen_w) ws[++nw] = w + 0
    for (i = 2; i <= nw; i++) {
      x = ws[i]; j = i - 1
      while (j >= 1 && ws[j] > x) { ws[j + 1] = ws[j]; j-- }
      ws[j + 1] = x
    }

    met = 0; missed = 0; na = 0
    print "| benchmark | workers | corun ns | go ns | ratio corun/go | target |"
    print "|---|---:|---:|---:|---:|---|"
    for (k = 1; k <= nb; k++) {
      b = order[k]
      if (!(b in seen_b)) continue
      for (i = 1; i <= nw; i++) {
        w = ws[i]
        c = ((b, w) in corun) ? corun[b, w] : ""
        g = ((b, w) in go) ? go[b, w] : ""
        if (c == "" && g == "") continue
        t = sprintf("<= %g", target[b])
        if (c == "" || g == "" || g + 0 <= 0) {
          ratio = "n/a"; t = t " (n/a)"; na++
        } else {
          r = c / g
          ratio = sprintf("%.2f", r)
          if (r <= target[b]) { t = t " (met)"; met++ }
          else { t = t " (MISSED)"; missed++ }
        }
        printf "| %s | %d | %s | %s | %s | %s |\n", b, w,
               (c == "" ? "n/a" : c), (g == "" ? "n/a" : g), ratio, t
      }
    }

    # idle_cpu: a percentage, not ns per op, and Go has no such line.
    if ("idle_cpu" in seen_b) {
      print ""
      printf "| idle CPU (only task sleeps 500 ms) | workers |"
      print " % of one core | target |"
      print "|---|---:|---:|---|"
      for (i = 1; i <= nw; i++) {
        w = ws[i]
        if (!(("idle_cpu", w) in corun)) continue
        p = corun["idle_cpu", w]
        if (p + 0 <= 1) { t = "<= 1 % (met)"; met++ }
        else { t = "<= 1 % (MISSED)"; missed++ }
        printf "| idle_cpu | %d | %s | %s |\n", w, p, t
      }
    }
    print ""
    printf "targets: %d met, %d missed, %d without both figures\n", met,
           missed, na
  }' "$@"

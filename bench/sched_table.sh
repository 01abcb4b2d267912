#!/bin/sh
# sched_table.sh CORUN_OUT GO_OUT: the scheduler comparison as a markdown
# table, one row per benchmark and worker count, with the ratio corun/go
# and the target for it.
#
# CORUN_OUT holds bench_sched's lines ("corun<W> <name> <median> <min> <max>"
# and "corun<W> idle_cpu <percent>"), GO_OUT bench/go/run.sh's
# ("go<W> <name> <median> <min> <max>"), all in ns per op. Lines are told
# apart by their first word, not by the file they are in, so other lines
# (notes, headers) are ignored and one file holding both works too. A
# missing Go figure (Go not installed) leaves "n/a" in its cells.
#
# Rounds. The files may hold several runs of each program (bench/run.sh
# lets them take turns and appends "round=K" to each line): a corun
# figure is paired with the Go figure of the same benchmark, worker count
# and round (without round fields, the k-th line with the k-th). Each
# round gives a ratio of the two medians; the table shows the median of
# corun's and of Go's figures over the rounds, the median of the rounds'
# ratios (which decides the target) and, with more than one round, their
# range. Pairing by round keeps a slow minute of the shared machine,
# which slows both programs run next to each other, out of the ratio.
#
# Targets (ratio corun/go, lower is better):
#   spawn, yield, pingpong                    <= 0.25  (4x faster than Go)
#   buffered, select4, mutex, sleepers        <= 0.5   (2x faster than Go)
#   idle_cpu (CPU used while the only task sleeps; no Go figure)  <= 1 %
# A missed target shows "MISSED" in the target cell. Benchmarks are not
# tests: the script exits 0 whatever the figures, 2 on a usage error.
#
# vCPU distance. Lines "c2c <before> <after> round=K" (bench/run.sh:
# bench_c2c's cross-CPU round trip in ns before and after round K, or
# n/a) mark a round near (both below 200 ns), far (both at or above) or
# mixed. With such lines, the rows of more than one worker are shown
# again under the table with their ratios over the near and over the far
# rounds: what two workers hand each other costs more when the host has
# put the two vCPUs far apart, and not alike for both runtimes.
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
  # Every figure of corun<W> <name> and go<W> <name>, by (name, workers)
  # and round: the "round=K" field of the line, which bench/run.sh appends,
  # or else its place among the lines of that name and worker count.
  function round_of(key, cnt,    i) {
    for (i = 4; i <= NF; i++)
      if ($i ~ /^round=/) return substr($i, 7)
    return "#" (++cnt[key])
  }
  $1 ~ /^corun[0-9]+$/ && NF >= 3 {
    w = substr($1, 6); r = round_of($2 SUBSEP w, cpos)
    if (!(($2, w, r) in corun)) cr[$2, w, ++nc[$2, w]] = r
    corun[$2, w, r] = $3; seen_w[w] = 1; seen_b[$2] = 1
  }
  $1 == "c2c" && NF >= 4 {
    r = round_of("c2c", cpos)
    if ($2 == "n/a" || $3 == "n/a") dist[r] = "unknown"
    else if ($2 + 0 < 200 && $3 + 0 < 200) dist[r] = "near"
    else if ($2 + 0 >= 200 && $3 + 0 >= 200) dist[r] = "far"
    else dist[r] = "mixed"
    next
  }
  $1 ~ /^go[0-9]+$/ && NF >= 3 {
    w = substr($1, 3); r = round_of($2 SUBSEP w, gpos)
    if (!(($2, w, r) in go)) gr[$2, w, ++ng[$2, w]] = r
    go[$2, w, r] = $3; seen_w[w] = 1; seen_b[$2] = 1
  }
  # Sorts a[1..n] ascending (a handful of rounds or worker counts:
  # insertion sort).
  function sort(a, n,    i, j, x) {
    for (i = 2; i <= n; i++) {
      x = a[i]; j = i - 1
      while (j >= 1 && a[j] > x) { a[j + 1] = a[j]; j-- }
      a[j + 1] = x
    }
  }
  # The median of v[1..n], which it sorts.
  function median(v, n) {
    sort(v, n)
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  # Fills rr[1..n] with the ratios corun/go of (b, w) over the rounds both
  # sides have, each against a Go figure above zero, and of vCPU distance
  # d ("": any); returns n.
  function round_ratios(b, w, d,    k2, r, n) {
    n = 0; split("", rr)
    for (k2 = 1; k2 <= nc[b, w]; k2++) {
      r = cr[b, w, k2]
      if ((d == "" || dist[r] == d) && ((b, w, r) in go) && go[b, w, r] + 0 > 0)
        rr[++n] = corun[b, w, r] / go[b, w, r]
    }
    return n
  }
  # The median of figure list `a` for (b, w), or "" if it has none.
  function med_of(a, cnt, b, w,    i, n, v) {
    n = ((b, w) in cnt) ? cnt[b, w] : 0
    if (n == 0) return ""
    for (i = 1; i <= n; i++)
      v[i] = (a == "c") ? corun[b, w, cr[b, w, i]] : go[b, w, gr[b, w, i]]
    return median(v, n)
  }
  END {
    nb = split("spawn yield pingpong buffered select4 mutex sleepers", order)
    target["spawn"] = 0.25; target["yield"] = 0.25; target["pingpong"] = 0.25
    target["buffered"] = 0.5; target["select4"] = 0.5
    target["mutex"] = 0.5; target["sleepers"] = 0.5
    # Worker counts seen, ascending.
    nw = 0
    for (w in seen_w) ws[++nw] = w + 0
    sort(ws, nw)

    met = 0; missed = 0; na = 0
    print "| benchmark | workers | corun ns | go ns | ratio corun/go (range over rounds) | target |"
    print "|---|---:|---:|---:|---:|---|"
    for (k = 1; k <= nb; k++) {
      b = order[k]
      if (!(b in seen_b)) continue
      for (i = 1; i <= nw; i++) {
        w = ws[i]
        if (w >= 2) { # its row of the split by vCPU distance, printed below
          cell["near"] = cell["far"] = "-"
          for (d in cell)
            if ((n = round_ratios(b, w, d)))
              cell[d] = sprintf("%.2f (%d)", median(rr, n), n)
          split_rows = split_rows sprintf("| %s | %d | %s | %s | <= %g |\n",
                                          b, w, cell["near"], cell["far"], target[b])
        }
        c = med_of("c", nc, b, w)
        g = med_of("g", ng, b, w)
        if (c == "" && g == "") continue
        t = sprintf("<= %g", target[b])
        n = round_ratios(b, w, "")
        if (n == 0) {
          ratio = "n/a"; t = t " (n/a)"; na++
        } else {
          q = median(rr, n)
          ratio = sprintf("%.2f", q)
          if (n > 1) ratio = ratio sprintf(" (%.2f..%.2f)", rr[1], rr[n])
          if (q <= target[b]) { t = t " (met)"; met++ }
          else { t = t " (MISSED)"; missed++ }
        }
        printf "| %s | %d | %s | %s | %s | %s |\n", b, w,
               (c == "" ? "n/a" : sprintf("%.1f", c)),
               (g == "" ? "n/a" : sprintf("%.1f", g)), ratio, t
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
        p = med_of("c", nc, "idle_cpu", w)
        if (p == "") continue
        if (p + 0 <= 1) { t = "<= 1 % (met)"; met++ }
        else { t = "<= 1 % (MISSED)"; missed++ }
        printf "| idle_cpu | %d | %.2f | %s |\n", w, p, t
      }
    }
    print ""
    printf "targets: %d met, %d missed, %d without both figures\n", met,
           missed, na

    # The rows of more than one worker by vCPU distance (see the top).
    nd = 0
    for (r in dist) { nd++; cnt_d[dist[r]]++ }
    if (nd == 0) exit
    print ""
    printf "by vCPU distance (bench_c2c before and after each round): %d near, %d far, %d mixed rounds\n",
           cnt_d["near"], cnt_d["far"], cnt_d["mixed"]
    print "| benchmark | workers | ratio over near rounds | ratio over far rounds | target |"
    print "|---|---:|---:|---:|---|"
    printf "%s", split_rows
  }' "$@"

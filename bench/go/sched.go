// sched.go: the Go side of the side-by-side comparison of corun's M:N
// scheduler with Go's runtime (see README.md in this directory).
//
// Go's goroutine scheduler is the reference an M:N runtime gets judged
// against, so these are the same operations the C side measures: spawn,
// yield, channel hand-offs, select, a contended mutex and many sleepers.
// Only the standard library is used, so it builds offline with the Debian
// toolchain. GOMAXPROCS is taken from the environment on purpose: run.sh
// runs the program once per worker count, the same counts the C side uses.
//
// Usage: sched [-n ITER] [-only NAME]
// Output: one line per benchmark, "go <name> <median> <min> <max>", in ns per
// op over 3 timed runs. Nothing else goes to stdout; errors go to stderr.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const (
	runs     = 3      // timed repetitions per benchmark; the median is reported
	sleepers = 100000 // fixed goroutine count of the sleepers benchmark
)

// A benchmark runs n operations and returns the elapsed time and the number
// of operations it actually did (select4 and mutex round n down to a
// multiple of 4 so every goroutine gets the same share).
type bench struct {
	name     string
	n        func(n int) int // operations for a given -n
	run      func(n int) (time.Duration, int)
	warmFull bool // warm up with all the work, not a tenth (bench_sched.c)
}

func benchSpawn(n int) (time.Duration, int) {
	var wg sync.WaitGroup
	t := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return time.Since(t), n
}

// Both goroutines wait on start so neither gets a head start while the
// other is still being created; one op is one Gosched by each of them.
func benchYield(n int) (time.Duration, int) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	yielder := func() {
		defer wg.Done()
		<-start
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
	}
	wg.Add(2)
	go yielder()
	go yielder()
	t := time.Now()
	close(start)
	wg.Wait()
	return time.Since(t), n
}

func benchPingpong(n int) (time.Duration, int) {
	var wg sync.WaitGroup
	ping := make(chan int)
	pong := make(chan int)
	wg.Add(2)
	t := time.Now()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ping <- i
			<-pong
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			pong <- <-ping
		}
	}()
	wg.Wait()
	return time.Since(t), n
}

func benchBuffered(n int) (time.Duration, int) {
	var wg sync.WaitGroup
	ch := make(chan int, 1024)
	wg.Add(2)
	t := time.Now()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ch <- i
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			<-ch
		}
	}()
	wg.Wait()
	return time.Since(t), n
}

// The receiver counts elements rather than closing channels, so the loop is
// just the select, with no closed-channel bookkeeping to measure.
func benchSelect4(n int) (time.Duration, int) {
	per := n / 4
	total := 4 * per
	var wg sync.WaitGroup
	var ch [4]chan int
	for i := range ch {
		ch[i] = make(chan int, 1024)
	}
	wg.Add(5)
	t := time.Now()
	for i := range ch {
		c := ch[i]
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				c <- j
			}
		}()
	}
	go func() {
		defer wg.Done()
		for got := 0; got < total; got++ {
			select {
			case <-ch[0]:
			case <-ch[1]:
			case <-ch[2]:
			case <-ch[3]:
			}
		}
	}()
	wg.Wait()
	return time.Since(t), total
}

func benchMutex(n int) (time.Duration, int) {
	per := n / 4
	total := 4 * per
	var wg sync.WaitGroup
	var mu sync.Mutex
	counter := 0
	wg.Add(4)
	t := time.Now()
	for i := 0; i < 4; i++ {
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d := time.Since(t)
	// A wrong count means the lock is broken and the timing is meaningless.
	if counter != total {
		fmt.Fprintf(os.Stderr, "sched: mutex: counter %d, want %d\n", counter, total)
		os.Exit(1)
	}
	return d, total
}

// n is the number of sleepers here (fixed at 100000 by the caller).
func benchSleepers(n int) (time.Duration, int) {
	var wg sync.WaitGroup
	wg.Add(n)
	t := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Millisecond)
			wg.Done()
		}()
	}
	wg.Wait()
	return time.Since(t), n
}

func main() {
	iter := flag.Int("n", 1000000, "iterations (buffered uses 10x)")
	only := flag.String("only", "", "run only this benchmark")
	flag.Parse()
	if flag.NArg() != 0 || *iter < 4 {
		fmt.Fprintln(os.Stderr, "usage: sched [-n ITER (>= 4)] [-only NAME]")
		os.Exit(2)
	}

	same := func(n int) int { return n }
	benches := []bench{
		{"spawn", same, benchSpawn, false},
		{"yield", same, benchYield, false},
		{"pingpong", same, benchPingpong, false},
		{"buffered", func(n int) int { return 10 * n }, benchBuffered, false},
		{"select4", same, benchSelect4, false},
		{"mutex", same, benchMutex, false},
		{"sleepers", func(int) int { return sleepers }, benchSleepers, true},
	}

	found := false
	for _, b := range benches {
		if *only != "" && *only != b.name {
			continue
		}
		found = true
		n := b.n(*iter)
		// Warm-up: a tenth of the work, so goroutine free lists, stacks
		// and channel buffers exist before the clock starts.
		// All of it for the sleepers, whose goroutines are all alive at
		// once (bench_sched.c says why).
		warm := n / 10
		if warm < 4 {
			warm = 4
		}
		if b.warmFull {
			warm = n
		}
		b.run(warm)
		var ns [runs]float64
		for i := range ns {
			d, ops := b.run(n)
			ns[i] = float64(d.Nanoseconds()) / float64(ops)
		}
		sort.Float64s(ns[:])
		fmt.Printf("go %s %.1f %.1f %.1f\n", b.name, ns[runs/2], ns[0], ns[runs-1])
	}
	if !found {
		fmt.Fprintf(os.Stderr, "sched: unknown benchmark %q\n", *only)
		os.Exit(2)
	}
}

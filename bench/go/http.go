//go:build ignore

// http.go: the Go peer of the HTTP benchmark (bench/net/run.sh): a
// net/http hello world on 127.0.0.1:PORT, answering every request with
// the same 13-byte text/plain body "Hello, World!" as the other servers
// (epoll_http.c, nginx's `return 200`, corun's examples/http_server.c).
// net/http adds Date and sets Content-Length itself (the body is written in
// one Write and the handler returns), so the response is the usual
// net/http one: status line, Content-Length, Content-Type, Date.
//
// Usage: http PORT. Serves until killed. run.sh runs it with GOMAXPROCS=1,
// pinned to one CPU: one OS thread runs Go code, the way the other servers
// are measured with one worker. Keep-alive is net/http's default.
//
// The "ignore" build constraint keeps it out of `go build .` in this
// directory (that builds sched.go); net/run.sh builds it by file name,
// which ignores constraints. Standard library only: builds offline.
package main

import (
	"fmt"
	"net/http"
	"os"
)

var hello = []byte("Hello, World!")

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: http PORT")
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})
	err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil)
	fmt.Fprintln(os.Stderr, "http:", err)
	os.Exit(1)
}

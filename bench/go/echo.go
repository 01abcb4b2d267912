//go:build ignore

// echo.go: the Go peer of the TCP echo benchmark (bench/net/run.sh, client
// bench/net/echo_load.c): one goroutine per connection, reading into a
// buffer and writing back what it read, the plain Go way and the same loop
// as corun's examples/echo_server.c. Not io.Copy: between two TCP
// connections that would use splice(2) where the C servers use read and
// write; here source and destination are the same socket, but the explicit
// loop keeps the comparison obvious.
//
// Usage: echo PORT. Serves on 127.0.0.1:PORT until killed. run.sh runs it
// with GOMAXPROCS=1, pinned to one CPU. Go sets TCP_NODELAY on every TCP
// connection by default, as the C servers do.
//
// The "ignore" build constraint keeps it out of `go build .` in this
// directory (that builds sched.go); net/run.sh builds it by file name,
// which ignores constraints. Standard library only: builds offline.
package main

import (
	"fmt"
	"net"
	"os"
)

func session(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: echo PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			continue
		}
		go session(c)
	}
}

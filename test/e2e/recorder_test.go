package e2e

import (
	"net"
	"sync/atomic"
	"testing"
)

// connRecorder is a TCP listener on loopback that counts the connections
// made to it and closes each at once. It stands for a registry that
// pullcache must never contact.
type connRecorder struct {
	ln    net.Listener
	conns atomic.Int64
}

func startConnRecorder(t *testing.T) *connRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	r := &connRecorder{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return r
}

// addr returns HOST:PORT.
func (r *connRecorder) addr() string { return r.ln.Addr().String() }

// count returns the number of connections accepted so far.
func (r *connRecorder) count() int64 { return r.conns.Load() }

// deadAddr returns a loopback address on which nothing listens, for a
// client's fallback to the real registry: a fallback that fires is refused
// there instead of leaving the machine.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

package main

import (
	"bytes"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/logging"
)

// syncBuffer is a log destination for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestShutdownDeadlineLogsCutRequests(t *testing.T) {
	logs := &syncBuffer{}
	log := logging.New(logs, logging.Options{})
	release := make(chan struct{})
	defer close(release)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release
	})

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	active := &activeRequests{}
	srv := newHTTPServer(active.track(handler), config.Limits{}, log)
	go srv.Serve(listener)

	resp, err := http.Get("http://" + listener.Addr().String() + "/v2/library/big/blobs/sha256:0")
	if err != nil {
		t.Fatalf("start a transfer: %v", err)
	}
	defer resp.Body.Close()

	shutDownServer(srv, active, 200*time.Millisecond, log)

	line := logs.String()
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "shutdown deadline passed") {
		t.Errorf("no warning for the cut-off shutdown:\n%s", line)
	}
	if !strings.Contains(line, "requests=1") || !strings.Contains(line, "grace=200ms") {
		t.Errorf("warning does not give the 200ms grace and the 1 request cut off:\n%s", line)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Errorf("the transfer still runs after shutdown cut it off")
	}
}

func TestTLSHandshakeErrorsLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile)

	logs := &syncBuffer{}
	log := logging.New(logs, logging.Options{})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(http.NotFoundHandler(), config.Limits{}, log)
	go srv.ServeTLS(listener, certFile, keyFile)
	defer srv.Close()

	// Each plain-HTTP request comes from a new client port.
	const attempts = 3
	for range attempts {
		resp, err := http.Get("http://" + listener.Addr().String() + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "TLS handshake error") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the server logs each handshake after the client left

	if got := strings.Count(logs.String(), "TLS handshake error"); got != 1 {
		t.Errorf("%d plain-HTTP connections logged %d handshake errors, want 1:\n%s", attempts, got, logs.String())
	}
	if regexp.MustCompile(`127\.0\.0\.1:\d`).MatchString(logs.String()) {
		t.Errorf("handshake error names the client port:\n%s", logs.String())
	}
}

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/testcert"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its key
// and returns the parsed certificate.
func writeSelfSigned(t *testing.T, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	pair := testcert.New(t, time.Now().UnixNano(), net.IPv4(127, 0, 0, 1))
	if err := os.WriteFile(certFile, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return pair.Cert
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	cert := writeSelfSigned(t, certFile, keyFile)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("ci:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	addr, adminAddr := freePort(t), freePort(t)
	file := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf("listen: %s\nadmin_listen: %s\nstorage:\n  filesystem:\n    root: %s\nauth:\n  htpasswd: %s\ntls:\n  cert: %s\n  key: %s\nupstreams:\n  - name: docker.io\n    url: http://127.0.0.1:1\n",
		addr, adminAddr, filepath.Join(dir, "data"), htpasswd, certFile, keyFile)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, serveFlags{config: file}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}

	ping := waitForStatus(t, client, "https://"+addr+"/v2/", http.StatusUnauthorized)
	if got := ping.Header.Get("WWW-Authenticate"); got != `Basic realm="pullcache"` {
		t.Errorf("GET /v2/ without login: WWW-Authenticate %q", got)
	}
	if ping.ProtoMajor != 2 {
		t.Errorf("GET /v2/ over TLS used %s, want HTTP/2", ping.Proto)
	}

	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/v2/", nil)
	req.SetBasicAuth("ci", "pw")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /v2/ with login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ with login: status %d, want 200", resp.StatusCode)
	}

	waitForStatus(t, client, "https://"+adminAddr+"/healthz", http.StatusOK)

	plain, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/v2/")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: status %d, want 400 or a failed request", plain.StatusCode)
		}
	}
}

// waitForStatus polls url for up to ten seconds until it returns want.
func waitForStatus(t *testing.T, client *http.Client, url string, want int) *http.Response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return resp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: want status %d within 10s, last error %v", url, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeRejectsBadSecurityFiles(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)

	_, err := newClientAuth(config.Config{Auth: &config.Auth{Htpasswd: filepath.Join(dir, "missing")}}, log)
	if err == nil || !strings.HasPrefix(err.Error(), "auth.htpasswd:") {
		t.Errorf("missing htpasswd file: error %v, want one naming auth.htpasswd", err)
	}
	_, err = newTLSConfig(config.Config{TLS: &config.TLS{Cert: filepath.Join(dir, "missing.crt"), Key: filepath.Join(dir, "missing.key")}}, log)
	if err == nil || !strings.HasPrefix(err.Error(), "tls:") {
		t.Errorf("missing TLS files: error %v, want one naming tls", err)
	}
}

// startLimitedServer serves 200 with the limits applied as serve does.
func startLimitedServer(t *testing.T, limits config.Limits) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), limits, slog.New(slog.DiscardHandler))
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// waitClosed reads from conn until the server closes it and returns how
// long that took, failing after five seconds.
func waitClosed(t *testing.T, conn net.Conn, r *bufio.Reader) time.Duration {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(5 * time.Second))
	_, err := io.Copy(io.Discard, r)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the server kept the connection open for 5s")
	}
	return time.Since(start)
}

func TestServeReadHeaderTimeout(t *testing.T) {
	addr := startLimitedServer(t, config.Limits{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// A header that never ends, as a slow-loris client sends.
	fmt.Fprintf(conn, "GET /v2/ HTTP/1.1\r\nHost: mirror\r\n")

	if took := waitClosed(t, conn, bufio.NewReader(conn)); took < 150*time.Millisecond {
		t.Errorf("connection closed after %s, before limits.read_header_timeout of 200ms", took)
	}
}

func TestServeIdleTimeout(t *testing.T) {
	addr := startLimitedServer(t, config.Limits{ReadHeaderTimeout: time.Minute, IdleTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	fmt.Fprintf(conn, "GET /v2/ HTTP/1.1\r\nHost: mirror\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}

	if took := waitClosed(t, conn, r); took < 150*time.Millisecond {
		t.Errorf("idle connection closed after %s, before limits.idle_timeout of 200ms", took)
	}
}

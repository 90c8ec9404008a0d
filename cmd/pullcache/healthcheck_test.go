package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/admin"
)

func TestHealthcheckHealthyServer(t *testing.T) {
	srv := httptest.NewServer(admin.New(func(context.Context) error { return nil }))
	defer srv.Close()

	out, err := runCommand(t, "healthcheck", "--admin", srv.URL)
	if err != nil {
		t.Fatalf("healthcheck of a healthy server: %v", err)
	}
	if strings.TrimSpace(out) != "ok" {
		t.Errorf("output = %q, want ok", out)
	}
}

func TestHealthcheckTrailingSlash(t *testing.T) {
	srv := httptest.NewServer(admin.New(func(context.Context) error { return nil }))
	defer srv.Close()

	if _, err := runCommand(t, "healthcheck", "--admin", srv.URL+"/"); err != nil {
		t.Fatalf("healthcheck with a trailing slash: %v", err)
	}
}

func TestHealthcheckFailingStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			t.Errorf("request path = %s, want /healthz", r.URL.Path)
		}
		http.Error(w, "store unreadable", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	_, err := runCommand(t, "healthcheck", "--admin", srv.URL)
	if err == nil {
		t.Fatal("healthcheck of a server returning 503 succeeded")
	}
	if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "store unreadable") {
		t.Errorf("error %q does not name the status and body", err)
	}
}

func TestHealthcheckNothingListening(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()

	if _, err := runCommand(t, "healthcheck", "--admin", "http://"+addr); err == nil {
		t.Fatal("healthcheck with nothing listening succeeded")
	}
}

func TestHealthcheckTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	_, err := runCommand(t, "healthcheck", "--admin", srv.URL, "--timeout", "200ms")
	if err == nil {
		t.Fatal("healthcheck of a hanging server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("healthcheck returned after %s, want about the 200ms timeout", elapsed)
	}
}

func TestHealthcheckInvalidURL(t *testing.T) {
	for _, value := range []string{"127.0.0.1:9090", "ftp://127.0.0.1:9090", "http://"} {
		_, err := runCommand(t, "healthcheck", "--admin", value)
		if err == nil || !strings.Contains(err.Error(), "invalid --admin URL") {
			t.Errorf("--admin %q: error = %v, want an invalid URL message", value, err)
		}
	}
}

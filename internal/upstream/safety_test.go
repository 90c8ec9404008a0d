package upstream

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestAddressPolicyCheckURL(t *testing.T) {
	tests := []struct {
		url           string
		allowLoopback bool
		wantBlocked   bool
	}{
		{url: "https://auth.docker.io/token"},
		{url: "http://10.1.2.3:5000/token"},
		{url: "https://192.168.1.10/token"},
		{url: "http://[fd12:3456::1]/token"},
		{url: "http://169.254.169.254/latest/meta-data/", wantBlocked: true},
		{url: "http://169.254.169.254/latest/meta-data/", allowLoopback: true, wantBlocked: true},
		{url: "http://169.254.10.1/", wantBlocked: true},
		{url: "http://[fe80::1]/", wantBlocked: true},
		{url: "http://[fd00:ec2::254]/", wantBlocked: true},
		{url: "http://[::ffff:169.254.169.254]/", wantBlocked: true},
		{url: "http://100.100.100.200/", wantBlocked: true},
		{url: "http://127.0.0.3:8080/token", wantBlocked: true},
		{url: "http://127.0.0.3:8080/token", allowLoopback: true},
		{url: "http://localhost/token", wantBlocked: true},
		{url: "http://registry.localhost/token", wantBlocked: true},
		{url: "http://localhost/token", allowLoopback: true},
		{url: "http://[::1]/token", wantBlocked: true},
		{url: "http://0.0.0.0/token", wantBlocked: true},
		{url: "ftp://example.com/token", wantBlocked: true},
		{url: "file:///etc/passwd", wantBlocked: true},
		{url: "http:///token", wantBlocked: true},
	}

	for _, tt := range tests {
		policy := addressPolicy{allowLoopback: tt.allowLoopback}

		err := policy.checkURL(mustParseURL(t, tt.url))

		var blocked *blockedAddressError
		if got := errors.As(err, &blocked); got != tt.wantBlocked {
			t.Errorf("checkURL(%s, allowLoopback=%v) = %v, want blocked %v", tt.url, tt.allowLoopback, err, tt.wantBlocked)
		}
	}
}

func TestAddressPolicyControl(t *testing.T) {
	tests := []struct {
		address       string
		allowLoopback bool
		wantErr       bool
	}{
		{address: "10.0.0.1:443"},
		{address: "203.0.113.9:443"},
		{address: "169.254.169.254:80", wantErr: true},
		{address: "[fe80::1%eth0]:80", wantErr: true},
		{address: "[fd00:ec2::254]:80", wantErr: true},
		{address: "127.0.0.1:5000", wantErr: true},
		{address: "127.0.0.1:5000", allowLoopback: true},
	}

	for _, tt := range tests {
		policy := addressPolicy{allowLoopback: tt.allowLoopback}

		err := policy.control("tcp4", tt.address, nil)

		if (err != nil) != tt.wantErr {
			t.Errorf("control(%s, allowLoopback=%v) = %v, want error %v", tt.address, tt.allowLoopback, err, tt.wantErr)
		}
	}
}

// TestDialBlocksLoopbackForRemoteUpstream checks the dial-time guard, which
// also covers host names that resolve to a blocked address: a listener on
// loopback must never see a connection from a client whose upstream is not
// on loopback.
func TestDialBlocksLoopbackForRemoteUpstream(t *testing.T) {
	l, err := net.Listen("tcp", registryIP+":0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()

	accepted := make(chan struct{}, 1)
	go func() {
		conn, err := l.Accept()
		if err == nil {
			accepted <- struct{}{}
			_ = conn.Close()
		}
	}()

	dial := newDialContext(addressPolicy{}, "registry.example.com:443", time.Second)
	_, err = dial(context.Background(), "tcp", l.Addr().String())

	var blocked *blockedAddressError
	if !errors.As(err, &blocked) {
		t.Fatalf("dial error = %v, want a blocked address", err)
	}
	select {
	case <-accepted:
		t.Error("the listener accepted a connection")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestDialAllowsUpstreamOwnHost(t *testing.T) {
	l, err := net.Listen("tcp", registryIP+":0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()

	// The upstream is named by a host:port the operator configured, so it
	// may resolve to loopback even though loopback is otherwise blocked.
	dial := newDialContext(addressPolicy{}, l.Addr().String(), time.Second)
	conn, err := dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial upstream: %v", err)
	}
	_ = conn.Close()
}

func TestNewValidatesURL(t *testing.T) {
	tests := []struct {
		url          string
		wantErr      bool
		wantLoopback bool
	}{
		{url: "https://registry-1.docker.io"},
		{url: "https://10.0.0.5:5000"},
		{url: "http://127.0.0.1:5000/", wantLoopback: true},
		{url: "http://localhost:5000", wantLoopback: true},
		{url: "http://[::1]:5000", wantLoopback: true},
		{url: "", wantErr: true},
		{url: "registry-1.docker.io", wantErr: true},
		{url: "ftp://registry.example.com", wantErr: true},
		{url: "https://user:pass@registry.example.com", wantErr: true},
		{url: "https://registry.example.com?x=1", wantErr: true},
		{url: "http://169.254.169.254", wantErr: true},
	}

	for _, tt := range tests {
		reg, err := New(Options{Name: "test", URL: tt.url})

		if (err != nil) != tt.wantErr {
			t.Errorf("New(%q) error = %v, want error %v", tt.url, err, tt.wantErr)
			continue
		}
		if err == nil && reg.policy.allowLoopback != tt.wantLoopback {
			t.Errorf("New(%q) allows loopback = %v, want %v", tt.url, reg.policy.allowLoopback, tt.wantLoopback)
		}
	}
}

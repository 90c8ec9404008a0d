package upstream

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
)

// The decisions below are taken on URLs alone. None of the tests sends a
// request, so a refused address is never contacted.

func TestEmbeddedIPv4(t *testing.T) {
	tests := []struct {
		addr string
		want string // empty: no IPv4 address embedded
	}{
		{"64:ff9b::a9fe:a9fe", "169.254.169.254"},
		{"64:ff9b::7f00:1", "127.0.0.1"},
		{"::169.254.169.254", "169.254.169.254"},
		{"::127.0.0.1", "127.0.0.1"},
		{"::1", ""},
		{"::", ""},
		{"::ffff:169.254.169.254", ""},
		{"2001:db8::a9fe:a9fe", ""},
		{"169.254.169.254", ""},
	}
	for _, tt := range tests {
		got, ok := embeddedIPv4(netip.MustParseAddr(tt.addr))
		if tt.want == "" {
			if ok {
				t.Errorf("embeddedIPv4(%s) = %s, want none", tt.addr, got)
			}
			continue
		}
		if !ok || got.String() != tt.want {
			t.Errorf("embeddedIPv4(%s) = %s, %v, want %s", tt.addr, got, ok, tt.want)
		}
	}
}

func TestAddressPolicyEmbeddedIPv4(t *testing.T) {
	tests := []struct {
		url           string
		allowLoopback bool
		wantBlocked   bool
	}{
		{url: "http://[64:ff9b::a9fe:a9fe]/", wantBlocked: true},
		{url: "http://[64:ff9b::a9fe:a9fe]/", allowLoopback: true, wantBlocked: true},
		{url: "http://[::169.254.169.254]/", wantBlocked: true},
		{url: "http://[64:ff9b::6464:64c8]/", wantBlocked: true},
		{url: "http://[64:ff9b::7f00:1]/", wantBlocked: true},
		{url: "http://[64:ff9b::7f00:1]/", allowLoopback: true},
		{url: "http://[64:ff9b::a01:203]/"},
		{url: "http://[64:ff9b::cb00:7109]/"},
	}
	for _, tt := range tests {
		err := addressPolicy{allowLoopback: tt.allowLoopback}.checkURL(mustParseURL(t, tt.url))

		var blocked *blockedAddressError
		if got := errors.As(err, &blocked); got != tt.wantBlocked {
			t.Errorf("checkURL(%s, allowLoopback=%v) = %v, want blocked %v", tt.url, tt.allowLoopback, err, tt.wantBlocked)
		}
	}
}

// TestRealmAndRedirectDecisions checks the decisions a Registry takes on
// token realms and redirect targets, for a registry on the network and one
// on loopback, as tests run it.
func TestRealmAndRedirectDecisions(t *testing.T) {
	tests := []struct {
		registry  string
		target    string
		wantRealm bool // the realm is accepted
		wantRedir bool // the redirect is followed
	}{
		{"https://registry.example", "https://auth.example/token", true, true},
		{"https://registry.example", "https://10.0.0.5/token", true, true},
		{"https://registry.example", "/token", true, true},
		// Credentials go to the realm, so an https registry keeps them on
		// https; a redirect to a plain-http CDN carries none.
		{"https://registry.example", "http://auth.example/token", false, true},
		{"http://10.0.0.5:5000", "http://10.0.0.5:5001/token", true, true},
		{"https://registry.example", "https://169.254.169.254/token", false, false},
		{"https://registry.example", "https://[fd00:ec2::254]/token", false, false},
		{"https://registry.example", "https://[fe80::1%25eth0]/token", false, false},
		{"https://registry.example", "https://127.0.0.1/token", false, false},
		{"https://registry.example", "https://localhost/token", false, false},
		{"https://registry.example", "https://[::1]/token", false, false},
		{"https://registry.example", "ftp://auth.example/token", false, false},
		{"https://registry.example", "gopher://auth.example/", false, false},
		{"http://127.0.0.1:5000", "http://127.0.0.3:5000/token", true, true},
		{"http://localhost:5000", "http://localhost:5001/token", true, true},
		{"http://127.0.0.1:5000", "http://169.254.169.254/token", false, false},
	}
	for _, tt := range tests {
		reg, err := New(Options{Name: "test.example", URL: tt.registry})
		if err != nil {
			t.Fatalf("New(%s): %v", tt.registry, err)
		}

		_, realmErr := reg.parseRealm(tt.target)
		if got := realmErr == nil; got != tt.wantRealm {
			t.Errorf("registry %s, realm %s: error %v, want accepted %v", tt.registry, tt.target, realmErr, tt.wantRealm)
		}

		req, err := http.NewRequest(http.MethodGet, tt.target, nil)
		if err != nil {
			t.Fatalf("build request to %s: %v", tt.target, err)
		}
		req.URL = reg.base.ResolveReference(req.URL)
		redirErr := reg.checkRedirect(req, []*http.Request{{}})
		if got := redirErr == nil; got != tt.wantRedir {
			t.Errorf("registry %s, redirect to %s: error %v, want followed %v", tt.registry, tt.target, redirErr, tt.wantRedir)
		}
	}
}

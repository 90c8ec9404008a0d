package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// fakeCDN serves blobs and fails any request that carries Authorization, as
// presigned object-store URLs do.
type fakeCDN struct {
	srv *httptest.Server

	mu       sync.Mutex
	blobs    map[string][]byte // by path
	requests int
	withAuth int
}

func newFakeCDN(t *testing.T) *fakeCDN {
	c := &fakeCDN{blobs: map[string][]byte{}}
	c.srv = startServer(t, cdnIP, http.HandlerFunc(c.serve))

	return c
}

func (c *fakeCDN) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.requests++
	if r.Header.Get("Authorization") != "" {
		c.withAuth++
		http.Error(w, "Authorization not allowed with a signed URL", http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("sig") != "abc" {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}

	body, ok := c.blobs[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

func TestBlobRedirect(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		relative bool
	}{
		{name: "307 to CDN", status: http.StatusTemporaryRedirect},
		{name: "302 to CDN", status: http.StatusFound},
		{name: "301 to CDN", status: http.StatusMovedPermanently},
		{name: "303 to CDN", status: http.StatusSeeOther},
		{name: "308 to CDN", status: http.StatusPermanentRedirect},
		{name: "relative Location", status: http.StatusTemporaryRedirect, relative: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob := []byte("layer bytes that live on the CDN")
			d := digest.FromBytes(blob)
			cdn := newFakeCDN(t)
			cdn.blobs["/blobs/"+d.Encoded()] = blob

			f := newFakeRegistry(t, "bearer")
			f.handler = func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case strings.HasPrefix(r.URL.Path, "/downloads/"):
					_, _ = w.Write(blob)
					return true
				case strings.Contains(r.URL.Path, "/blobs/") && r.Header.Get("Authorization") != "":
					location := cdn.srv.URL + "/blobs/" + d.Encoded() + "?sig=abc&expires=600"
					if tt.relative {
						location = "/downloads/" + d.Encoded() + "?sig=abc"
					}
					w.Header().Set("Location", location)
					w.WriteHeader(tt.status)
					return true
				}
				return false
			}
			reg := newTestRegistry(t, f.URL(), withCredentials("ci", "s3cret"))

			body, size, err := reg.GetBlob(context.Background(), "org/app", d)
			if err != nil {
				t.Fatalf("GetBlob: %v", err)
			}
			got, err := io.ReadAll(body)
			_ = body.Close()
			if err != nil {
				t.Fatalf("read: %v", err)
			}

			if string(got) != string(blob) {
				t.Errorf("body = %q, want the blob", got)
			}
			if size != int64(len(blob)) {
				t.Errorf("size = %d, want %d", size, len(blob))
			}

			cdn.mu.Lock()
			defer cdn.mu.Unlock()
			if cdn.withAuth != 0 {
				t.Errorf("CDN received Authorization on %d requests", cdn.withAuth)
			}
			wantCDN := 1
			if tt.relative {
				wantCDN = 0
			}
			if cdn.requests != wantCDN {
				t.Errorf("CDN requests = %d, want %d", cdn.requests, wantCDN)
			}
		})
	}
}

func TestHeadBlobRedirect(t *testing.T) {
	blob := []byte("layer")
	d := digest.FromBytes(blob)
	cdn := newFakeCDN(t)
	cdn.blobs["/blobs/"+d.Encoded()] = blob

	f := newFakeRegistry(t, "bearer")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/blobs/") || r.Header.Get("Authorization") == "" {
			return false
		}
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Location", cdn.srv.URL+"/blobs/"+d.Encoded()+"?sig=abc")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}
	reg := newTestRegistry(t, f.URL())

	desc, err := reg.HeadBlob(context.Background(), "org/app", d)
	if err != nil {
		t.Fatalf("HeadBlob: %v", err)
	}

	if desc.Size != int64(len(blob)) {
		t.Errorf("size = %d, want %d", desc.Size, len(blob))
	}
	if desc.Digest != d {
		t.Errorf("digest = %s, want %s", desc.Digest, d)
	}
}

func TestRedirectLoopStops(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := startServer(t, registryIP, pingOK(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
	})))
	reg := newTestRegistry(t, srv.URL)

	_, _, err := reg.GetBlob(context.Background(), "org/app", digest.FromString("x"))

	requireKind(t, err, KindUnavailable)
	if !errors.Is(err, errTooManyRedirects) {
		t.Errorf("error = %v, want too many redirects", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != maxRedirects+1 {
		t.Errorf("requests = %d, want %d", requests, maxRedirects+1)
	}
}

// dialCounter wraps the default transport's dialer and records every
// address dialled.
type dialCounter struct {
	mu    sync.Mutex
	addrs []string
}

func (c *dialCounter) install(t *testing.T, reg *Registry) {
	t.Helper()

	tr, ok := reg.client.Transport.(*authTransport).base.(*http.Transport)
	if !ok {
		t.Fatal("registry does not use the default transport")
	}

	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.mu.Lock()
		c.addrs = append(c.addrs, addr)
		c.mu.Unlock()

		return dial(ctx, network, addr)
	}
}

func (c *dialCounter) count(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()

	n := 0
	for _, a := range c.addrs {
		if h, _, _ := net.SplitHostPort(a); h == host {
			n++
		}
	}

	return n
}

func TestMetadataTargetsRejectedWithoutConnecting(t *testing.T) {
	const metadata = "169.254.169.254"

	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
	}{
		{
			name: "blob redirect",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				w.Header().Set("Location", "http://"+metadata+"/latest/meta-data/iam/security-credentials/")
				w.WriteHeader(http.StatusTemporaryRedirect)
			},
		},
		{
			name: "token realm",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+metadata+`/token",service="x"`)
				w.WriteHeader(http.StatusUnauthorized)
			},
		},
		{
			name: "IPv6 metadata realm",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="http://[fd00:ec2::254]/token",service="x"`)
				w.WriteHeader(http.StatusUnauthorized)
			},
		},
		{
			name: "redirect to non-http scheme",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				w.Header().Set("Location", "file:///etc/passwd")
				w.WriteHeader(http.StatusFound)
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, registryIP, http.HandlerFunc(tt.handler))
			reg := newTestRegistry(t, srv.URL)
			dials := &dialCounter{}
			dials.install(t, reg)

			_, _, err := reg.GetBlob(context.Background(), "org/app", digest.FromString("x"))

			requireKind(t, err, KindInvalid)
			var blocked *blockedAddressError
			if !errors.As(err, &blocked) {
				t.Errorf("error = %v, want a blocked address", err)
			}
			if n := dials.count(metadata) + dials.count("fd00:ec2::254"); n != 0 {
				t.Errorf("dialled the metadata address %d times", n)
			}
			if n := dials.count(registryIP); n == 0 {
				t.Error("never dialled the registry; the dial counter is not wired")
			}
		})
	}
}

func TestAuthorizationOnlyForIssuingHost(t *testing.T) {
	auth := newHostAuth(mustParseURL(t, "http://127.0.0.1:5000"), "Bearer t")

	tests := []struct {
		url  string
		want bool
	}{
		{url: "http://127.0.0.1:5000/v2/x/blobs/sha256:1", want: true},
		{url: "http://127.0.0.1:5001/v2/", want: false},
		{url: "https://127.0.0.1:5000/v2/", want: false},
		{url: "http://127.0.0.2:5000/v2/", want: false},
	}

	for _, tt := range tests {
		if got := auth.matches(mustParseURL(t, tt.url)); got != tt.want {
			t.Errorf("matches(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()

	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}

	return u
}

func TestCDNRefusalIsUnavailable(t *testing.T) {
	cdn := newFakeCDN(t) // no blobs and no valid signature: 403
	f := newFakeRegistry(t, "none")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			return false
		}
		w.Header().Set("Location", cdn.srv.URL+"/blobs/x?sig=expired")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}
	reg := newTestRegistry(t, f.URL())

	_, _, err := reg.GetBlob(context.Background(), "org/app", digest.FromString("x"))

	e := requireKind(t, err, KindUnavailable)
	if e.Status != http.StatusForbidden {
		t.Errorf("status = %d, want 403", e.Status)
	}
}

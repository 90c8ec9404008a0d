package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/server"
)

// redirectHook is a BlobRedirect hook that returns a fixed URL, or err when
// it is set, and counts its calls.
type redirectHook struct {
	url   string
	err   atomic.Pointer[error]
	calls atomic.Int32
}

func (r *redirectHook) redirect(_ context.Context, d digest.Digest) (string, error) {
	r.calls.Add(1)
	if err := r.err.Load(); err != nil {
		return "", *err
	}
	return r.url + d.Encoded(), nil
}

func startRedirectServer(t *testing.T, hook *redirectHook) (*httptest.Server, hubsim.Standard) {
	t.Helper()
	_, std, srv := startPlainMirror(t, nil, func(o *server.Options) { o.BlobRedirect = hook.redirect })
	return srv, std
}

func TestBlobRedirectOnlyForStoredBlobs(t *testing.T) {
	hook := &redirectHook{url: "https://bucket.example/blobs/"}
	srv, std := startRedirectServer(t, hook)
	layer := std.Alpine.Layers[0]
	url := srv.URL + "/v2/" + std.Alpine.Repo + "/blobs/" + layer.Digest.String()
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(method string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read %s %s: %v", method, url, err)
		}
		return resp, body
	}

	// Not stored yet: the bytes stream from upstream.
	resp, body := get(http.MethodGet)
	if resp.StatusCode != http.StatusOK || digest.FromBytes(body) != layer.Digest {
		t.Fatalf("cold GET: status %d, digest %s; want 200 and %s", resp.StatusCode, digest.FromBytes(body), layer.Digest)
	}
	if n := hook.calls.Load(); n != 0 {
		t.Errorf("cold GET called the redirect hook %d times, want 0", n)
	}

	// Stored: a 307 to the hook's URL.
	resp, _ = get(http.MethodGet)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("warm GET status = %d, want 307", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Location"), hook.url+layer.Digest.Encoded(); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != layer.Digest.String() {
		t.Errorf("Docker-Content-Digest = %q, want %s", got, layer.Digest)
	}
	if got := resp.Header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("X-Cache-Status = %q, want HIT", got)
	}

	// The server responds to HEAD itself.
	resp, _ = get(http.MethodHead)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD status = %d, want 200", resp.StatusCode)
	}

	// A hook that fails leaves the server streaming the stored blob.
	failure := errors.New("signing failed")
	hook.err.Store(&failure)
	resp, body = get(http.MethodGet)
	if resp.StatusCode != http.StatusOK || digest.FromBytes(body) != layer.Digest {
		t.Errorf("GET with a failing hook: status %d, digest %s; want 200 and %s", resp.StatusCode, digest.FromBytes(body), layer.Digest)
	}
	if got := resp.Header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("GET with a failing hook: X-Cache-Status = %q, want HIT", got)
	}
}

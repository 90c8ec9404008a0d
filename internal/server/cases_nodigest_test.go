package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// gzipAskingProxy is a stand-in for a forward proxy between the mirror and the
// registry that sets Accept-Encoding: gzip on every request it forwards, so
// that a registry which compresses blobs on the wire does so whatever the
// mirror requested. It counts the responses that arrived gzip-encoded.
type gzipAskingProxy struct {
	srv     *httptest.Server
	encoded atomic.Int64
}

func startGzipAskingProxy(t *testing.T, target string) *gzipAskingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse hub URL: %v", err)
	}
	p := &gzipAskingProxy{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// The hub builds its token realm from Host, so keeping the
			// proxy's Host sends token requests through the proxy too.
			r.Out.Host = r.In.Host
			r.Out.Header.Set("Accept-Encoding", "gzip")
		},
		// Passing on the encoded body as it came is what such a proxy does.
		Transport: &http.Transport{DisableCompression: true},
	}
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Header.Get("Content-Encoding") == "gzip" {
			p.encoded.Add(1)
		}
		return nil
	}
	p.srv = httptest.NewServer(proxy)
	t.Cleanup(p.srv.Close)
	return p
}

func TestNoDigestHeaderUpstream(t *testing.T) {
	variants := []struct {
		name          string
		gzipMiddlebox bool
	}{
		{"direct", false},
		{"through a proxy that asks for gzip", true},
	}
	for _, variant := range variants {
		t.Run(variant.name, func(t *testing.T) {
			var proxy *gzipAskingProxy
			cfg := mirrorConfig{}
			if variant.gzipMiddlebox {
				cfg.frontHub = func(hubURL string) string {
					proxy = startGzipAskingProxy(t, hubURL)
					return proxy.srv.URL
				}
			}
			m := newMirror(t, cfg)
			// The registry sends no Docker-Content-Digest on manifests, only
			// an ETag, and gzip-encodes blobs for requests that allow it.
			m.hub.SetQuirks(hubsim.Quirks{ManifestWithoutDigest: true, GzipBlobs: true})
			name := "library/moving"
			first, next := m.std.Moving, m.std.MovingNext
			tagPath := manifestPath(name, first.Tag)

			cold := m.get(tagPath, acceptAll())
			if cold.status != http.StatusOK {
				t.Fatalf("cold GET of the tag: status %d (body %q)", cold.status, cold.body)
			}
			if got := cold.header.Get("Docker-Content-Digest"); got != first.Digest.String() {
				t.Errorf("cold GET of the tag: Docker-Content-Digest %q, want %s computed from the body", got, first.Digest)
			}

			for _, d := range imageBlobs(first) {
				blob := m.get(blobPath(name, d), nil)
				if blob.status != http.StatusOK {
					t.Errorf("GET blob %s: status %d, want 200", d, blob.status)
				}
				if got := sha256Digest(blob.body); got != d {
					t.Errorf("GET blob %s: served bytes hash to %s; a transfer encoding must be decoded, never served or stored", d, got)
				}
				if size, ok := m.storedBlob(d); !ok {
					t.Errorf("blob %s was not stored after a verified fetch", d)
				} else if blob.status == http.StatusOK && size != int64(len(blob.body)) {
					t.Errorf("blob %s stored with %d bytes, want %d", d, size, len(blob.body))
				}
			}
			if proxy != nil && proxy.encoded.Load() == 0 {
				t.Errorf("the hub sent no gzip-encoded response through the proxy, so decoding was not tested")
			}

			if _, err := m.std.MoveMovingTag(); err != nil {
				t.Fatalf("move tag: %v", err)
			}
			m.clock.Advance(defaultTagTTL + 1)
			moved := m.head(tagPath, acceptAll())
			if moved.status != http.StatusOK {
				t.Errorf("HEAD of the moved tag: status %d, want 200", moved.status)
			}
			if got := moved.header.Get("Docker-Content-Digest"); got != next.Digest.String() {
				t.Errorf("HEAD of the moved tag: Docker-Content-Digest %q, want the new %s", got, next.Digest)
			}

			m.clock.Advance(defaultTagTTL + 1)
			before := m.hub.Stats()
			unchanged := m.head(tagPath, acceptAll())
			after := m.hub.Stats()
			if got := unchanged.header.Get("Docker-Content-Digest"); got != next.Digest.String() {
				t.Errorf("HEAD of the unchanged tag: Docker-Content-Digest %q, want %s", got, next.Digest)
			}
			if got := unchanged.header.Get("X-Cache-Status"); got != "REVALIDATED" {
				t.Errorf("HEAD of the unchanged tag: X-Cache-Status %q, want REVALIDATED", got)
			}
			requests := (after.ManifestGets - before.ManifestGets) + (after.ManifestHeads - before.ManifestHeads)
			if requests > 1 {
				t.Errorf("revalidating an unchanged tag cost %d upstream manifest requests (%d HEAD, %d GET), want at most 1: "+
					"a HEAD without a digest cannot tell whether the tag moved, so it is wasted once the upstream is known to omit it",
					requests, after.ManifestHeads-before.ManifestHeads, after.ManifestGets-before.ManifestGets)
			}
		})
	}
}

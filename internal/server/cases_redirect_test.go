package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

const redirectBlobSize = 5 << 20

func TestRedirectBlobFollowed(t *testing.T) {
	// The token service and the CDN run on other loopback addresses, as
	// auth.docker.io and the blob CDN are other hosts than the registry.
	// The CDN responds 400 to a request that carries Authorization.
	m := newMirror(t, mirrorConfig{hub: hubsim.Options{TokenAddr: "127.0.0.3:0", CDNAddr: "127.0.0.2:0"}})
	d := m.hub.PutBlob(randomBytes(redirectBlobSize, 21))
	name := "library/alpine"

	cold := m.get(blobPath(name, d), nil)
	if cold.status != http.StatusOK {
		t.Fatalf("cold GET: status %d (body %q), want 200 with the bytes fetched from the CDN", cold.status, cold.body)
	}
	if got := sha256Digest(cold.body); got != d {
		t.Errorf("cold GET: body hashes to %s, want %s", got, d)
	}
	if loc := cold.header.Get("Location"); loc != "" {
		t.Errorf("cold GET: Location %q passed to the client; the mirror must follow the redirect itself", loc)
	}
	stats := m.hub.Stats()
	if got := stats.CDNGetsByDigest[d]; got != 1 {
		t.Errorf("CDN served the blob %d times, want 1", got)
	}
	if size, ok := m.storedBlob(d); !ok || size != redirectBlobSize {
		t.Errorf("blob stored: %v with %d bytes, want stored with %d", ok, size, redirectBlobSize)
	}

	head := m.head(blobPath(name, d), nil)
	if head.status != http.StatusOK {
		t.Errorf("HEAD: status %d, want 200", head.status)
	}
	if head.contentLength != redirectBlobSize {
		t.Errorf("HEAD: Content-Length %d, want %d", head.contentLength, redirectBlobSize)
	}
	if got := head.header.Get("Docker-Content-Digest"); got != d.String() {
		t.Errorf("HEAD: Docker-Content-Digest %q, want %s", got, d)
	}

	// The presigned URL is valid for ten minutes; after fifteen it is
	// expired, and the stored blob must not need it.
	m.clock.Advance(15 * time.Minute)
	hubBefore := hubRequests(m.hub)
	warm := m.get(blobPath(name, d), nil)
	if warm.status != http.StatusOK || sha256Digest(warm.body) != d {
		t.Errorf("GET after the URL expired: status %d, body digest %s, want 200 with %s", warm.status, sha256Digest(warm.body), d)
	}
	if got := warm.header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("GET after the URL expired: X-Cache-Status %q, want HIT", got)
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("registry, token service and CDN received %d requests for a stored blob, want 0", got)
	}
}

func TestRedirectRelativeLocation(t *testing.T) {
	m := newMirror(t, mirrorConfig{hub: hubsim.Options{TokenAddr: "127.0.0.3:0", CDNAddr: "127.0.0.2:0"}})
	// Blob GETs get a 307 whose Location is relative to the registry's own
	// URL, as Google Artifact Registry sends it.
	m.hub.SetQuirks(hubsim.Quirks{RelativeRedirect: true})
	d := m.hub.PutBlob(randomBytes(redirectBlobSize, 22))
	name := "library/alpine"

	r := m.get(blobPath(name, d), nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET: status %d (body %q), want 200 after following the relative Location", r.status, r.body)
	}
	if got := sha256Digest(r.body); got != d {
		t.Errorf("GET: body hashes to %s, want %s", got, d)
	}
	if got := m.hub.Stats().CDNGetsByDigest[d]; got != 1 {
		t.Errorf("the relative download path served the blob %d times, want 1", got)
	}
	if _, ok := m.storedBlob(d); !ok {
		t.Errorf("blob fetched through a relative redirect was not stored")
	}
}

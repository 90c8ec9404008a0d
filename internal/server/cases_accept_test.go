package server_test

import (
	"net/http"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// schema2Only is the Accept header of an older client that knows Docker's
// schema 2 manifest and manifest list but no OCI type.
func schema2Only() http.Header {
	return header("Accept", hubsim.MediaTypeDockerManifest+", "+hubsim.MediaTypeDockerManifestList)
}

// expectNotAcceptable checks the response to a client whose Accept excludes
// the tag's OCI index: 404 MANIFEST_UNKNOWN, never the index itself.
func expectNotAcceptable(t *testing.T, what string, r response, index []byte) {
	t.Helper()
	if r.status != http.StatusNotFound {
		t.Errorf("%s: status %d, want 404 because the Accept header excludes the OCI index", what, r.status)
	}
	if got := r.header.Get("Content-Type"); got == v1.MediaTypeImageIndex {
		t.Errorf("%s: Content-Type is the OCI index type, which the client did not accept", what)
	}
	if len(r.body) > 0 && string(r.body) == string(index) {
		t.Errorf("%s: the body is the OCI index, which the client did not accept", what)
	}
}

// expectNotAcceptableBody also checks the GET error body: MANIFEST_UNKNOWN
// with a message that names the media type to accept.
func expectNotAcceptableBody(t *testing.T, what string, r response, index []byte) {
	t.Helper()
	expectNotAcceptable(t, what, r, index)
	code, message := ociError(t, r)
	if code != "MANIFEST_UNKNOWN" {
		t.Errorf("%s: error code %q, want MANIFEST_UNKNOWN", what, code)
	}
	if !strings.Contains(message, v1.MediaTypeImageIndex) {
		t.Errorf("%s: message %q does not name %s, the type the client must accept", what, message, v1.MediaTypeImageIndex)
	}
}

// expectIndex checks that a modern client got the OCI index.
func expectIndex(t *testing.T, what string, r response, idx hubsim.Index) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Errorf("%s: status %d, want 200 (body %q)", what, r.status, r.body)
		return
	}
	if got := r.header.Get("Content-Type"); got != v1.MediaTypeImageIndex {
		t.Errorf("%s: Content-Type %q, want %s", what, got, v1.MediaTypeImageIndex)
	}
	if got := r.header.Get("Docker-Content-Digest"); got != idx.Digest.String() {
		t.Errorf("%s: Docker-Content-Digest %q, want %s", what, got, idx.Digest)
	}
}

func TestAcceptOlderClientFirst(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	idx := m.std.MultiArch
	path := manifestPath("library/multiarch", idx.Tag)

	older := m.head(path, schema2Only())
	expectNotAcceptable(t, "schema 2 client HEAD on a cold cache", older, nil)

	modern := m.get(path, acceptAll())
	expectIndex(t, "modern client GET after the refused HEAD", modern, idx)
	if got := sha256Digest(modern.body); got != idx.Digest {
		t.Errorf("modern client GET: body hashes to %s, want %s", got, idx.Digest)
	}

	again := m.head(path, schema2Only())
	expectNotAcceptable(t, "schema 2 client HEAD with the index stored", again, modern.body)

	modernHead := m.head(path, acceptAll())
	expectIndex(t, "modern client HEAD", modernHead, idx)
}

func TestAcceptStoredIndexLocally(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	idx := m.std.MultiArch
	path := manifestPath("library/multiarch", idx.Tag)

	modern := m.get(path, acceptAll())
	expectIndex(t, "modern client GET on a cold cache", modern, idx)

	hubBefore := m.hub.Stats()
	older := m.get(path, schema2Only())
	expectNotAcceptableBody(t, "schema 2 client GET", older, modern.body)
	olderHead := m.head(path, schema2Only())
	expectNotAcceptable(t, "schema 2 client HEAD", olderHead, modern.body)

	// The same client sending each type in a header of its own.
	split := header("Accept", hubsim.MediaTypeDockerManifest, "Accept", hubsim.MediaTypeDockerManifestList)
	expectNotAcceptableBody(t, "schema 2 client GET with one Accept header per type", m.get(path, split), modern.body)

	again := m.get(path, acceptAll())
	expectIndex(t, "modern client GET after the refused requests", again, idx)
	if string(again.body) != string(modern.body) {
		t.Errorf("modern client GET: body changed between requests")
	}
	if got := again.header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("modern client GET within the tag TTL: X-Cache-Status %q, want HIT", got)
	}

	hubAfter := m.hub.Stats()
	if got := hubAfter.ManifestGets - hubBefore.ManifestGets; got != 0 {
		t.Errorf("hub received %d manifest GETs after the index was stored, want 0", got)
	}
	if got := hubAfter.ManifestHeads - hubBefore.ManifestHeads; got != 0 {
		t.Errorf("hub received %d manifest HEADs after the index was stored, want 0", got)
	}
}

func TestAcceptMissingHeader(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	idx := m.std.MultiArch
	path := manifestPath("library/multiarch", idx.Tag)

	bare := m.get(path, nil)
	expectNotAcceptableBody(t, "GET of an index without an Accept header", bare, nil)

	modern := m.get(path, acceptAll())
	expectIndex(t, "modern client GET after a request without Accept", modern, idx)

	image := m.get(manifestPath("library/alpine", m.std.Alpine.Tag), nil)
	if image.status != http.StatusOK {
		t.Errorf("GET of an image manifest without an Accept header: status %d, want 200 with the manifest as stored", image.status)
	}
	if got := image.header.Get("Content-Type"); got != hubsim.MediaTypeDockerManifest {
		t.Errorf("GET of an image manifest without an Accept header: Content-Type %q, want %s", got, hubsim.MediaTypeDockerManifest)
	}
}

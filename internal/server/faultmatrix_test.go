package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/storage"
)

// matrixFault is one upstream fault of the matrix, by name.
type matrixFault struct {
	name  string
	fault hubsim.Fault
}

// matrixFaults is every kind of failure hubsim injects that a mirror must
// survive. FaultBlackHole is left out: its outcome is the drop's, after
// the upstream timeout.
var matrixFaults = []matrixFault{
	{"quota 429", hubsim.Fault{Kind: hubsim.FaultQuota}},
	{"abuse 429", hubsim.Fault{Kind: hubsim.FaultAbuse}},
	{"500", hubsim.Fault{Kind: hubsim.FaultServerError, Status: http.StatusInternalServerError}},
	{"503", hubsim.Fault{Kind: hubsim.FaultServerError, Status: http.StatusServiceUnavailable}},
	{"dropped connection", hubsim.Fault{Kind: hubsim.FaultDrop}},
	{"slow", hubsim.Fault{Kind: hubsim.FaultSlow, Delay: 5 * time.Millisecond, ChunkSize: 256}},
	{"truncated", hubsim.Fault{Kind: hubsim.FaultTruncate}},
	{"wrong bytes", hubsim.Fault{Kind: hubsim.FaultCorrupt}},
}

// isBodyFault reports the faults that change how a body is sent. A HEAD,
// which revalidation uses, has no body for them to change.
func isBodyFault(kind hubsim.FaultKind) bool {
	return kind == hubsim.FaultSlow || kind == hubsim.FaultTruncate || kind == hubsim.FaultCorrupt
}

// matrixTarget is the part of the upstream a fault hits, and what the
// client requests to meet it.
type matrixTarget struct {
	name   string
	target hubsim.Target
}

var matrixTargets = []matrixTarget{
	{"manifests", hubsim.TargetManifests},
	{"blobs", hubsim.TargetBlobs},
	{"tokens", hubsim.TargetToken},
}

// outcome is what a client sees.
type outcome struct {
	status int
	code   string // OCI error code, for errors
	// cut means the response started with 200 and its body then failed,
	// as the architecture's rule for a digest mismatch or a cut transfer
	// requires.
	cut bool
}

func (o outcome) String() string {
	switch {
	case o.cut:
		return "a cut transfer"
	case o.code != "":
		return http.StatusText(o.status) + " " + o.code
	}
	return http.StatusText(o.status)
}

var (
	outcomeOK          = outcome{status: http.StatusOK}
	outcomeQuota       = outcome{status: http.StatusTooManyRequests, code: "TOOMANYREQUESTS"}
	outcomeUnavailable = outcome{status: http.StatusServiceUnavailable, code: "UNAVAILABLE"}
	outcomeBadDigest   = outcome{status: http.StatusBadGateway, code: "UNAVAILABLE"}
	outcomeCut         = outcome{status: http.StatusOK, cut: true}
	outcomeDenied      = outcome{status: http.StatusNotFound, code: "NAME_UNKNOWN"}
)

// expectedUnstored is the documented response to a client whose content is
// not stored while upstream fails in the given way, from the error table
// of docs/architecture.md. allowed lists further acceptable responses: a
// blob transfer that fails gets a cut transfer when the mirror has already
// started streaming, and otherwise the error of the failure: 502 for bytes
// that fail verification, 503 for a transfer cut short.
func expectedUnstored(fault hubsim.FaultKind, target hubsim.Target) (want outcome, allowed []outcome) {
	switch fault {
	case hubsim.FaultSlow:
		// Slow but steady transfers complete within the idle-read timeout.
		return outcomeOK, nil
	case hubsim.FaultQuota, hubsim.FaultAbuse:
		return outcomeQuota, nil
	case hubsim.FaultTruncate, hubsim.FaultCorrupt:
		if target == hubsim.TargetBlobs && fault == hubsim.FaultTruncate {
			return outcomeCut, []outcome{outcomeUnavailable}
		}
		if target == hubsim.TargetBlobs {
			return outcomeCut, []outcome{outcomeBadDigest}
		}
		if fault == hubsim.FaultCorrupt && target == hubsim.TargetToken {
			// The registry rejects the damaged token with 401, which the
			// mirror cannot tell from a denied or missing repository.
			return outcomeDenied, nil
		}
		if fault == hubsim.FaultCorrupt {
			return outcomeBadDigest, nil
		}
	}
	return outcomeUnavailable, nil
}

// observe requests path and classifies the response. want is the digest a
// successful body must have. A request that fails before the response
// headers is a cut transfer too: the client sees a failed download.
func observe(t *testing.T, m *mirror, path string, want digest.Digest) (outcome, response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, m.srv.URL+path, nil)
	if err != nil {
		t.Fatalf("build GET %s: %v", path, err)
	}
	req.Header.Set("Accept", acceptAll().Get("Accept"))
	resp, err := m.client.Do(req)
	if err != nil {
		return outcomeCut, response{readErr: err}
	}
	body, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := response{status: resp.StatusCode, header: resp.Header, body: body, readErr: readErr}

	if r.status != http.StatusOK {
		code := ""
		if len(r.body) > 0 {
			code, _ = ociError(t, r)
		}
		return outcome{status: r.status, code: code}, r
	}
	if r.readErr != nil || sha256Digest(r.body) != want {
		return outcomeCut, r
	}
	return outcomeOK, r
}

// TestFaultMatrix runs every hubsim fault against manifests, blobs and
// tokens, for content the store holds and content it does not. A client
// gets the stored content or the documented error, and the store holds
// only content whose digest verifies.
func TestFaultMatrix(t *testing.T) {
	for _, f := range matrixFaults {
		for _, target := range matrixTargets {
			t.Run(f.name+"/"+target.name+"/unstored", func(t *testing.T) {
				t.Parallel()
				testUnstoredFault(t, f.fault, target.target)
			})
			t.Run(f.name+"/"+target.name+"/stored", func(t *testing.T) {
				t.Parallel()
				testStoredFault(t, f.fault, target.target)
			})
		}
	}
}

func testUnstoredFault(t *testing.T, fault hubsim.Fault, target hubsim.Target) {
	injector, cfg := newFaultInjector(t, fault, target)
	m := newMirror(t, cfg)
	img := m.std.Alpine
	layer := img.Layers[0].Digest

	path, want := manifestPath("library/alpine", img.Tag), img.Digest
	if target == hubsim.TargetBlobs {
		// The client has the manifest; the layer is what it fetches now.
		if r := m.get(manifestPath("library/alpine", img.Tag), acceptAll()); r.status != http.StatusOK {
			t.Fatalf("GET manifest before the fault: status %d", r.status)
		}
		path, want = blobPath("library/alpine", layer), layer
	}
	injector.set(m)

	got, r := observe(t, m, path, want)

	wantOutcome, allowed := expectedUnstored(fault.Kind, target)
	if got != wantOutcome && !slices.Contains(allowed, got) {
		t.Errorf("GET %s: %s, want %s (status %d, body %.200q, error %v)", path, got, wantOutcome, r.status, r.body, r.readErr)
	}
	if injector.applied(m) == 0 {
		t.Errorf("the %s fault never applied to %s", fault.Kind, path)
	}
	if got.status == http.StatusTooManyRequests || got.status == http.StatusServiceUnavailable {
		if r.header.Get("Content-Type") == "" {
			t.Errorf("GET %s: error response without Content-Type", path)
		}
	}

	// With upstream healthy again the same request succeeds: a failure
	// leaves nothing behind that blocks the next fetch.
	injector.clear(m)
	m.clock.Advance(time.Minute)
	if again, r := observe(t, m, path, want); again != outcomeOK {
		t.Errorf("GET %s after the fault cleared: %s (status %d, body %.200q)", path, again, r.status, r.body)
	}
	m.verifyStore()
}

func testStoredFault(t *testing.T, fault hubsim.Fault, target hubsim.Target) {
	injector, cfg := newFaultInjector(t, fault, target)
	m := newMirror(t, cfg)
	img := m.std.Alpine
	m.pullImage("library/alpine", img)
	blobRequests := hubPathRequests(m.hub, "/v2/library/alpine/blobs/")

	injector.set(m)
	// Past the tag TTL, and the token's lifetime, so that the tag is
	// revalidated and a new token is needed.
	m.clock.Advance(defaultTagTTL + hubsim.DefaultTokenTTL)

	tag := m.get(manifestPath("library/alpine", img.Tag), acceptAll())
	// A HEAD has no body, so body faults reach the revalidation only
	// through the token it needs.
	headFails := target == hubsim.TargetToken && fault.Kind != hubsim.FaultSlow ||
		target == hubsim.TargetManifests && !isBodyFault(fault.Kind)
	if (headFails || target == hubsim.TargetToken) && injector.applied(m) == 0 {
		t.Errorf("the %s fault never applied to the revalidation", fault.Kind)
	}
	if tag.status != http.StatusOK || sha256Digest(tag.body) != img.Digest {
		t.Errorf("GET stored tag: status %d, digest %s, want 200 and %s (body %.200q)", tag.status, sha256Digest(tag.body), img.Digest, tag.body)
	}
	wantStatus := "REVALIDATED"
	if headFails {
		wantStatus = "STALE"
	}
	if got := tag.header.Get("X-Cache-Status"); got != wantStatus {
		t.Errorf("GET stored tag: X-Cache-Status %q, want %s", got, wantStatus)
	}

	byDigest := m.get(manifestPath("library/alpine", img.Digest.String()), acceptAll())
	if byDigest.status != http.StatusOK || byDigest.header.Get("X-Cache-Status") != "HIT" {
		t.Errorf("GET stored manifest by digest: status %d, X-Cache-Status %q, want 200 HIT", byDigest.status, byDigest.header.Get("X-Cache-Status"))
	}
	for _, d := range imageBlobs(img) {
		blob := m.get(blobPath("library/alpine", d), nil)
		if blob.status != http.StatusOK || sha256Digest(blob.body) != d || blob.header.Get("X-Cache-Status") != "HIT" {
			t.Errorf("GET stored blob %s: status %d, X-Cache-Status %q, digest %s, want 200 HIT with the stored bytes", d, blob.status, blob.header.Get("X-Cache-Status"), sha256Digest(blob.body))
		}
	}
	if n := hubPathRequests(m.hub, "/v2/library/alpine/blobs/"); n != blobRequests {
		t.Errorf("hub received %d blob requests for stored blobs, want none", n-blobRequests)
	}
	m.verifyStore()
}

// verifyStore walks the store and re-hashes every blob and every stored
// manifest, and checks that each tag record points at a stored manifest.
// It waits for transfers in progress first, because a fetch goes on after
// its client left.
func (m *mirror) verifyStore() {
	m.t.Helper()
	m.waitForWrites()
	ctx := context.Background()

	var blobs, manifests int
	err := m.store.Walk(ctx, "", func(key string, _ storage.Info) error {
		switch {
		case strings.HasPrefix(key, "blobs/"):
			blobs++
			m.verifyObject(ctx, key, func(data []byte) (digest.Digest, []byte) { return digestFromKey(key, "blobs/"), data })
		case strings.HasPrefix(key, "manifests/"):
			manifests++
			m.verifyObject(ctx, key, func(data []byte) (digest.Digest, []byte) {
				var rec struct {
					Digest digest.Digest `json:"digest"`
					Body   []byte        `json:"body"`
				}
				if err := json.Unmarshal(data, &rec); err != nil {
					m.t.Errorf("stored manifest %s: invalid record: %v", key, err)
				}
				if rec.Digest != digestFromKey(key, "manifests/") {
					m.t.Errorf("stored manifest %s: record names digest %s", key, rec.Digest)
				}
				return digestFromKey(key, "manifests/"), rec.Body
			})
		case strings.Contains(key, "/_tags/"):
			var rec struct {
				Digest digest.Digest `json:"digest"`
			}
			data := m.readStored(ctx, key)
			if err := json.Unmarshal(data, &rec); err != nil {
				m.t.Errorf("tag record %s: %v", key, err)
				return nil
			}
			if _, err := m.store.Stat(ctx, "manifests/"+rec.Digest.Algorithm().String()+"/"+rec.Digest.Encoded()); err != nil {
				m.t.Errorf("tag record %s points at %s, which is not stored: %v", key, rec.Digest, err)
			}
		}
		return nil
	})
	if err != nil {
		m.t.Fatalf("walk the store: %v", err)
	}
	m.t.Logf("store verified: %d blobs, %d manifests", blobs, manifests)
}

// digestFromKey reads the digest from a key of the form prefix<alg>/<hex>.
func digestFromKey(key, prefix string) digest.Digest {
	alg, encoded, _ := strings.Cut(strings.TrimPrefix(key, prefix), "/")
	return digest.NewDigestFromEncoded(digest.Algorithm(alg), encoded)
}

func (m *mirror) readStored(ctx context.Context, key string) []byte {
	m.t.Helper()
	rc, _, err := m.store.Open(ctx, key, 0)
	if err != nil {
		m.t.Fatalf("read stored %s: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		m.t.Fatalf("read stored %s: %v", key, err)
	}
	return data
}

// verifyObject checks that the content extracted from a stored object
// hashes to the digest its key names.
func (m *mirror) verifyObject(ctx context.Context, key string, extract func([]byte) (digest.Digest, []byte)) {
	m.t.Helper()
	want, content := extract(m.readStored(ctx, key))
	if err := want.Validate(); err != nil {
		m.t.Errorf("stored object %s: invalid digest in its key: %v", key, err)
		return
	}
	if got := want.Algorithm().FromBytes(content); got != want {
		m.t.Errorf("stored object %s holds content with digest %s", key, got)
	}
}

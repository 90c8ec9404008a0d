package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/hubsim"
)

// manifestOfSize returns an OCI image manifest whose JSON encoding is
// exactly size bytes, padded with an annotation.
func manifestOfSize(t *testing.T, hub *hubsim.Hub, size int) []byte {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	m := v1.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   v1.MediaTypeImageManifest,
		Config:      v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: hub.PutBlob(config), Size: int64(len(config))},
		Layers:      []v1.Descriptor{},
		Annotations: map[string]string{"padding": ""},
	}
	empty, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode manifest: %v", err)
	}
	m.Annotations["padding"] = strings.Repeat("x", size-len(empty))
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode manifest: %v", err)
	}
	if len(body) != size {
		t.Fatalf("padded manifest has %d bytes, want %d", len(body), size)
	}
	return body
}

func TestManifestSizeLimit(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	const limit = 4 << 20 // limits.max_manifest_size's default
	atLimit := m.hub.PutManifest("library/sized", "at-limit", v1.MediaTypeImageManifest, manifestOfSize(t, m.hub, limit))
	overLimit := m.hub.PutManifest("library/sized", "over-limit", v1.MediaTypeImageManifest, manifestOfSize(t, m.hub, limit+1))

	ok := m.get(manifestPath("library/sized", "at-limit"), acceptAll())
	if ok.status != http.StatusOK || len(ok.body) != limit {
		t.Errorf("manifest of exactly 4 MiB: status %d, %d bytes, want 200 and %d bytes", ok.status, len(ok.body), limit)
	}
	if got := ok.header.Get("Docker-Content-Digest"); got != atLimit.String() {
		t.Errorf("manifest of exactly 4 MiB: digest %s, want %s", got, atLimit)
	}

	for _, ref := range []string{"over-limit", overLimit.String()} {
		r := m.get(manifestPath("library/sized", ref), acceptAll())
		expectError(t, "manifest one byte over 4 MiB ("+ref+")", r, http.StatusBadGateway, "MANIFEST_INVALID")
	}
	if _, err := m.store.Stat(context.Background(), "manifests/sha256/"+overLimit.Encoded()); err == nil {
		t.Errorf("manifest over the limit was stored")
	}
}

// queueMirror is a mirror wired as the serve command does, with one
// upstream transfer slot and a short queue wait.
type queueMirror struct {
	hub *hubsim.Hub
	std hubsim.Standard
	url string
}

func newQueueMirror(t *testing.T, queueWait time.Duration) *queueMirror {
	t.Helper()
	hub, std, srv := startPlainMirror(t, func(o *cache.Options) {
		o.MaxUpstreamFetches = 1
		o.FetchQueueWait = queueWait
		o.Logger = slog.New(slog.DiscardHandler)
	}, nil)
	return &queueMirror{hub: hub, std: std, url: srv.URL}
}

func TestFetchQueueFull(t *testing.T) {
	m := newQueueMirror(t, 100*time.Millisecond)
	img := m.std.Alpine
	layer, config := img.Layers[0].Digest, img.Config.Digest
	// The layer's transfer holds the only slot for a second.
	m.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetBlobs, Delay: time.Second, Count: 1})

	var slowStatus atomic.Int32
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		resp, err := http.Get(m.url + blobPath("library/alpine", layer))
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slowStatus.Store(int32(resp.StatusCode))
	}()
	waitForHubRequest(t, m.hub, "/v2/library/alpine/blobs/"+layer.String())

	resp, err := http.Get(m.url + blobPath("library/alpine", config))
	if err != nil {
		t.Fatalf("GET config blob: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, "blob queued past limits.fetch_queue_wait", response{status: resp.StatusCode, body: body}, http.StatusServiceUnavailable, "UNAVAILABLE")
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}

	<-slowDone
	if slowStatus.Load() != http.StatusOK {
		t.Errorf("the blob holding the slot: status %d, want 200", slowStatus.Load())
	}
	// With the slot free again the queued blob is fetched.
	again, err := http.Get(m.url + blobPath("library/alpine", config))
	if err != nil {
		t.Fatalf("GET config blob again: %v", err)
	}
	data, _ := io.ReadAll(again.Body)
	again.Body.Close()
	if again.StatusCode != http.StatusOK || digest.FromBytes(data) != config {
		t.Errorf("config blob after the slot was freed: status %d, digest %s", again.StatusCode, digest.FromBytes(data))
	}
}

// waitForHubRequest waits, for at most five seconds, until the hub has
// received a request whose path starts with prefix.
func waitForHubRequest(t *testing.T, hub *hubsim.Hub, prefix string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hubPathRequests(hub, prefix) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("hub received no request for %s within 5s", prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingReader returns zeros up to limit and counts what was read.
type countingReader struct {
	read  atomic.Int64
	limit int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	left := r.limit - r.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > left {
		n = left
	}
	clear(p[:n])
	r.read.Add(n)
	return int(n), nil
}

func TestPushBodyNotRead(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	const bodySize = 1 << 30
	body := &countingReader{limit: bodySize}

	req, err := http.NewRequest(http.MethodPut, m.srv.URL+"/v2/library/alpine/blobs/uploads/x?digest=sha256:"+strings.Repeat("0", 64), body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = bodySize
	resp, err := m.client.Do(req)

	// The server responds without reading the body and closes the
	// connection, so the client either gets the 405 or a write error.
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT with a 1 GiB body: status %d, want 405", resp.StatusCode)
		}
	}
	if sent := body.read.Load(); sent >= bodySize {
		t.Errorf("the client sent the whole %d-byte body; the server must stop reading it", sent)
	}
}

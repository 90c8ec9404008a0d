package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/upstream"
)

func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }
func blobPath(repo string, d digest.Digest) string {
	return "/v2/" + repo + "/blobs/" + d.String()
}

func (s *stack) imageBlobs(img hubsim.Image) (digests []digest.Digest, size int64) {
	digests = append(digests, img.Config.Digest)
	size += img.Config.Size
	for _, l := range img.Layers {
		digests = append(digests, l.Digest)
		size += l.Size
	}
	return digests, size
}

// waitStored waits until the blob is committed to the store, since a
// fetch commits just after its last byte went to the client.
func (s *stack) waitStored(d digest.Digest) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.store.Stat(context.Background(), "blobs/sha256/"+d.Encoded()); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("blob %s not stored after 10s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMetricsMatchHub runs a known sequence of pulls and checks every
// metric against the requests made and against hubsim's own counters.
func TestMetricsMatchHub(t *testing.T) {
	s := newStack(t)
	m := s.metrics
	alpine := s.std.Alpine
	alpineBlobs, alpineBytes := s.imageBlobs(alpine)

	// A first pull fetches, and a second is served from the store.
	s.expect(http.MethodGet, "/v2/", http.StatusOK, "")
	s.expect(http.MethodGet, manifestPath("alpine", alpine.Tag), http.StatusOK, "MISS")
	s.expect(http.MethodGet, manifestPath("alpine", alpine.Digest.String()), http.StatusOK, "HIT")
	for _, d := range alpineBlobs {
		s.expect(http.MethodGet, blobPath("alpine", d), http.StatusOK, "MISS")
		s.waitStored(d)
	}
	s.expect(http.MethodGet, manifestPath("alpine", alpine.Tag), http.StatusOK, "HIT")
	s.expect(http.MethodHead, manifestPath("alpine", alpine.Tag), http.StatusOK, "HIT")
	s.expect(http.MethodGet, manifestPath("alpine", alpine.Digest.String()), http.StatusOK, "HIT")
	for _, d := range alpineBlobs {
		s.expect(http.MethodGet, blobPath("alpine", d), http.StatusOK, "HIT")
	}

	// After the TTL a HEAD revalidates; when upstream fails the stored
	// manifest is served STALE.
	s.clock.Advance(tagTTL + time.Second)
	s.expect(http.MethodGet, manifestPath("alpine", alpine.Tag), http.StatusOK, "REVALIDATED")
	s.clock.Advance(tagTTL + time.Second)
	// The fault outlasts the client's retries of a 5xx.
	s.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Target: hubsim.TargetManifests, Count: upstream.DefaultMaxAttempts})
	_, staleStatus, _, staleID := s.doWithID(http.MethodGet, manifestPath("alpine", alpine.Tag))
	if staleStatus != "STALE" {
		t.Fatalf("tag during an upstream 503: %s, want STALE", staleStatus)
	}
	stale := s.logs.records("serving stored manifest because upstream failed")
	if len(stale) != 1 || stale[0]["request_id"] != staleID || !strings.Contains(fmt.Sprint(stale[0]["err"]), "503") {
		t.Errorf("STALE warnings %v, want one with request_id %s and the upstream 503", stale, staleID)
	}

	// A repository that does not exist is an error.
	if status, _, _ := s.do(http.MethodGet, manifestPath("nosuchrepo", "latest")); status < 400 {
		t.Fatalf("missing repository: status %d, want an error", status)
	}

	// Four clients ask for a slow blob at once: one fetch, three joined.
	big := s.std.Big
	s.expect(http.MethodGet, manifestPath("big", big.Tag), http.StatusOK, "MISS")
	layer := big.Layers[0]
	s.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetBlobs, Count: 1,
		Delay: 40 * time.Millisecond, ChunkSize: int(layer.Size/8) + 1})
	var wg sync.WaitGroup
	statuses := make([]string, 4)
	get := func(i int) {
		defer wg.Done()
		status, cacheStatus, body := s.do(http.MethodGet, blobPath("big", layer.Digest))
		statuses[i] = fmt.Sprintf("%d %s %d", status, cacheStatus, len(body))
	}
	wg.Add(1)
	go get(0)
	waitFor(t, "the slow blob fetch to start", func() bool { return s.hub.Stats().BlobGetsByDigest[layer.Digest] > 0 })
	for i := 1; i < 4; i++ {
		wg.Add(1)
		go get(i)
	}
	wg.Wait()
	s.waitStored(layer.Digest)
	for i, got := range statuses {
		if want := fmt.Sprintf("200 MISS %d", layer.Size); got != want {
			t.Errorf("slow blob client %d: %s, want %s", i, got, want)
		}
	}

	stats := s.hub.Stats()
	n := float64(len(alpineBlobs))
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		// Client requests by kind, method and cache status.
		{"pullcache_client_requests_total", labels("kind", "ping", "cache_status", "none"), 1},
		{"pullcache_client_requests_total", labels("kind", "manifest", "method", "GET", "cache_status", "MISS"), 2},
		{"pullcache_client_requests_total", labels("kind", "manifest", "method", "GET", "cache_status", "HIT"), 3},
		{"pullcache_client_requests_total", labels("kind", "manifest", "method", "HEAD", "cache_status", "HIT"), 1},
		{"pullcache_client_requests_total", labels("kind", "manifest", "cache_status", "REVALIDATED"), 1},
		{"pullcache_client_requests_total", labels("kind", "manifest", "cache_status", "STALE"), 1},
		{"pullcache_client_requests_total", labels("kind", "manifest", "cache_status", "error"), 1},
		{"pullcache_client_requests_total", labels("kind", "blob", "cache_status", "MISS"), n + 4},
		{"pullcache_client_requests_total", labels("kind", "blob", "cache_status", "HIT"), n},
		{"pullcache_client_requests_total", labels("upstream", "docker.io"), 9 + 2*n + 4},
		{"pullcache_client_request_duration_seconds", nil, 1 + 9 + 2*n + 4},

		// Upstream requests match what the hub received.
		{"pullcache_upstream_requests_total", labels("kind", "manifest", "method", "GET"), float64(stats.ManifestGets)},
		{"pullcache_upstream_requests_total", labels("kind", "manifest", "method", "HEAD"), float64(stats.ManifestHeads)},
		{"pullcache_upstream_requests_total", labels("kind", "manifest", "method", "HEAD", "code", "503"), upstream.DefaultMaxAttempts},
		{"pullcache_upstream_requests_total", labels("kind", "blob", "method", "GET"), float64(stats.BlobGets)},
		{"pullcache_upstream_requests_total", labels("kind", "token"), float64(stats.TokenRequests)},
		{"pullcache_upstream_requests_total", labels("kind", "ping"), float64(stats.Pings)},
		{"pullcache_upstream_requests_total", labels("kind", "manifest", "method", "GET", "code", "200"), float64(stats.PullsBy("127.0.0.1"))},

		// Bytes: each blob fetched once, served once per request.
		{"pullcache_fetched_bytes_total", labels("kind", "blob"), float64(alpineBytes + layer.Size)},
		{"pullcache_served_bytes_total", labels("kind", "blob"), float64(2*alpineBytes + 4*layer.Size)},

		{"pullcache_coalesced_requests_total", labels("kind", "blob"), 3},

		// The last seen rate limit is the hub's own count.
		{"pullcache_upstream_ratelimit_limit", labels("upstream", "docker.io", "source", "127.0.0.1"), hubsim.DefaultLimit},
		{"pullcache_upstream_ratelimit_remaining", labels("upstream", "docker.io", "source", "127.0.0.1"), float64(s.hub.Remaining("127.0.0.1"))},
		{"pullcache_upstream_ratelimit_window_seconds", labels("upstream", "docker.io"), hubsim.DefaultWindow.Seconds()},
	}
	for _, c := range checks {
		if got := value(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got, want := value(t, m, "pullcache_upstream_request_duration_seconds", nil), value(t, m, "pullcache_upstream_requests_total", nil); got != want {
		t.Errorf("upstream durations observed %v times for %v requests", got, want)
	}
	if stats.ManifestGets == 0 || stats.BlobGets != len(alpineBlobs)+1 {
		t.Errorf("hub saw %d manifest GETs and %d blob GETs; the sequence expects some and %d", stats.ManifestGets, stats.BlobGets, len(alpineBlobs)+1)
	}

	sum, err := m.Summarize([]string{"docker.io"})
	if err != nil {
		t.Fatal(err)
	}
	hub := sum.Upstreams["docker.io"]
	// Manifest GETs served: tag MISS, digest HIT, tag HIT, digest HIT,
	// REVALIDATED, STALE and library/big's MISS.
	if hub.PullsAnswered != 7 || hub.PullsSpent != float64(stats.PullsBy("127.0.0.1")) {
		t.Errorf("summary: %v pulls answered, %v spent; want 7 and the hub's %d", hub.PullsAnswered, hub.PullsSpent, stats.PullsBy("127.0.0.1"))
	}
	// HIT 3+1 manifests + n blobs, REVALIDATED 1, STALE 1 out of those
	// plus MISS 2 manifests + n+4 blobs.
	wantRatio := (4 + n + 2) / (4 + n + 2 + 2 + n + 4)
	if diff := sum.HitRatio - wantRatio; diff > 1e-9 || diff < -1e-9 {
		t.Errorf("summary hit ratio %v, want %v", sum.HitRatio, wantRatio)
	}
}

// TestCoalescedTagMetric checks that clients asking for a tag while its
// fetch is in progress are counted as joined.
func TestCoalescedTagMetric(t *testing.T) {
	s := newStack(t)
	alpine := s.std.Alpine
	s.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetManifests, Method: http.MethodGet, Count: 1,
		Delay: 40 * time.Millisecond, ChunkSize: int(alpine.Size/8) + 1})

	var wg sync.WaitGroup
	statuses := make([]string, 3)
	get := func(i int) {
		defer wg.Done()
		status, cacheStatus, _ := s.do(http.MethodGet, manifestPath("alpine", alpine.Tag))
		statuses[i] = fmt.Sprintf("%d %s", status, cacheStatus)
	}
	wg.Add(1)
	go get(0)
	waitFor(t, "the slow manifest fetch to start", func() bool { return s.hub.Stats().ManifestGets > 0 })
	for i := 1; i < 3; i++ {
		wg.Add(1)
		go get(i)
	}
	wg.Wait()

	for i, got := range statuses {
		if got != "200 MISS" {
			t.Errorf("client %d: %s, want 200 MISS", i, got)
		}
	}
	if got := s.hub.Stats().ManifestGets; got != 1 {
		t.Errorf("hub saw %d manifest GETs, want 1", got)
	}
	if got := value(t, s.metrics, "pullcache_coalesced_requests_total", labels("kind", "tag")); got != 2 {
		t.Errorf("coalesced tag requests = %v, want 2", got)
	}
}

// TestStoreMetrics checks the store gauges against the blobs a pull stored.
func TestStoreMetrics(t *testing.T) {
	s := newStack(t)
	alpineBlobs, alpineBytes := s.imageBlobs(s.std.Alpine)
	s.expect(http.MethodGet, manifestPath("alpine", s.std.Alpine.Tag), http.StatusOK, "MISS")
	for _, d := range alpineBlobs {
		s.expect(http.MethodGet, blobPath("alpine", d), http.StatusOK, "MISS")
		s.waitStored(d)
	}

	if err := s.metrics.SampleStore(context.Background(), s.store, s.clock.Now()); err != nil {
		t.Fatalf("sample store: %v", err)
	}
	if got := value(t, s.metrics, "pullcache_store_objects", labels("area", "blobs")); got != float64(len(alpineBlobs)) {
		t.Errorf("store blob objects = %v, want %d", got, len(alpineBlobs))
	}
	if got := value(t, s.metrics, "pullcache_store_bytes", labels("area", "blobs")); got != float64(alpineBytes) {
		t.Errorf("store blob bytes = %v, want %d", got, alpineBytes)
	}
	if got := value(t, s.metrics, "pullcache_store_objects", labels("area", "manifests")); got != 1 {
		t.Errorf("store manifest objects = %v, want 1", got)
	}
	usage := s.metrics.StoreUsage()
	if usage.Bytes <= alpineBytes || usage.Objects < int64(len(alpineBlobs))+2 {
		t.Errorf("store usage %d bytes in %d objects; want more than the blobs' %d bytes and at least %d objects (blobs, manifest, tag)",
			usage.Bytes, usage.Objects, alpineBytes, len(alpineBlobs)+2)
	}
}

func TestStoreWriteErrors(t *testing.T) {
	s := newStack(t)
	s.metrics.StoreWriteFailed(fmt.Errorf("write blob: %w", syscall.ENOSPC))
	s.metrics.StoreWriteFailed(fmt.Errorf("rename blob: permission denied"))
	if got := value(t, s.metrics, "pullcache_store_write_errors_total", labels("reason", "no_space")); got != 1 {
		t.Errorf("no_space write errors = %v, want 1", got)
	}
	if got := value(t, s.metrics, "pullcache_store_write_errors_total", labels("reason", "other")); got != 1 {
		t.Errorf("other write errors = %v, want 1", got)
	}
}

// TestMetricsEndpoint checks the text exposition: prefixed names, and no
// repository name or digest in any label.
func TestMetricsEndpoint(t *testing.T) {
	s := newStack(t)
	s.expect(http.MethodGet, manifestPath("alpine", s.std.Alpine.Tag), http.StatusOK, "MISS")

	rec := httptest.NewRecorder()
	s.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"pullcache_client_requests_total{", "pullcache_upstream_requests_total{", "pullcache_upstream_ratelimit_remaining{", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{"alpine", "sha256:", s.std.Alpine.Digest.Encoded()[:12]} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics contains %q, which is not a bounded label value", leak)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

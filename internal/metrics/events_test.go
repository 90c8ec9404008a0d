package metrics

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/upstream"
)

func TestEventCounters(t *testing.T) {
	m := New()

	m.CredentialsRejected("docker.io")
	m.CredentialsRejected("docker.io")
	retry := m.RetryObserver("ghcr.io")
	retry(upstream.RetryInfo{Method: "GET", Kind: "blob", Reason: upstream.KindUnavailable, Attempt: 1})
	m.FallbackFetch(cache.FallbackEvent{Upstream: "docker.io", Source: "mirror.gcr.io", Kind: "manifest", Outcome: cache.FallbackMismatch})
	m.ReserveAnswer("docker.io", cache.ReserveStale)
	m.EvictionRun(Eviction{Manifests: 2, Blobs: 3, Records: 4, FreedBytes: 1000})
	m.EvictionRun(Eviction{Skipped: true})
	m.StoreReadFailed(errors.New("connection refused"))

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"credentials rejected", testutil.ToFloat64(m.events.credentialsRejected.WithLabelValues("docker.io")), 2},
		{"retries", testutil.ToFloat64(m.events.retries.WithLabelValues("ghcr.io", "blob", "unavailable")), 1},
		{"fallback mismatch", testutil.ToFloat64(m.events.fallbackFetches.WithLabelValues("docker.io", "mirror.gcr.io", "manifest", cache.FallbackMismatch)), 1},
		{"reserve stale", testutil.ToFloat64(m.events.reserveAnswers.WithLabelValues("docker.io", "stale")), 1},
		{"runs done", testutil.ToFloat64(m.events.evictionRuns.WithLabelValues("done")), 1},
		{"runs skipped", testutil.ToFloat64(m.events.evictionRuns.WithLabelValues("skipped")), 1},
		{"evicted blobs", testutil.ToFloat64(m.events.evictedObjects.WithLabelValues("blob")), 3},
		{"evicted bytes", testutil.ToFloat64(m.events.evictedBytes), 1000},
		{"store read errors", testutil.ToFloat64(m.storeReadErrors), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSummaryCountsEvents(t *testing.T) {
	m := New()
	retry := m.RetryObserver("docker.io")
	retry(upstream.RetryInfo{Kind: "manifest", Reason: upstream.KindUnavailable})
	retry(upstream.RetryInfo{Kind: "blob", Reason: upstream.KindAbuseLimit})
	m.FallbackFetch(cache.FallbackEvent{Upstream: "docker.io", Source: "mirror.gcr.io", Kind: "manifest", Outcome: cache.FallbackOK})
	m.FallbackFetch(cache.FallbackEvent{Upstream: "docker.io", Source: "mirror.gcr.io", Kind: "blob", Outcome: cache.FallbackOK})
	m.FallbackFetch(cache.FallbackEvent{Upstream: "docker.io", Source: "public.ecr.aws", Kind: "blob", Outcome: cache.FallbackMismatch})
	m.FallbackFetch(cache.FallbackEvent{Upstream: "docker.io", Source: "public.ecr.aws", Kind: "blob", Outcome: cache.FallbackNotFound})
	m.ReserveAnswer("docker.io", cache.ReserveFallback)
	m.CredentialsRejected("docker.io")

	sum, err := m.Summarize([]string{"docker.io", "ghcr.io"})
	if err != nil {
		t.Fatal(err)
	}

	hub := sum.Upstreams["docker.io"]
	if hub.Retries != 2 {
		t.Errorf("retries = %v, want 2", hub.Retries)
	}
	if hub.FallbackFetches != 2 {
		t.Errorf("fallback fetches = %v, want 2", hub.FallbackFetches)
	}
	if hub.FallbackRejected != 1 {
		t.Errorf("fallback rejected = %v, want 1", hub.FallbackRejected)
	}
	if hub.ReserveAnswers != 1 {
		t.Errorf("reserve answers = %v, want 1", hub.ReserveAnswers)
	}
	if hub.CredentialsRejected != 1 {
		t.Errorf("credentials rejected = %v, want 1", hub.CredentialsRejected)
	}
	if other := sum.Upstreams["ghcr.io"]; other.Retries != 0 || other.FallbackFetches != 0 {
		t.Errorf("ghcr.io = %+v, want no events", other)
	}
}

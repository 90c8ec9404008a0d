package metrics

import (
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
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/upstream"
)

// events counts what the features around the cache report through their
// observers: rejected credentials, retries, fallback fetches, moved tags
// served under the quota reserve, and eviction runs. Label values are upstream and
// fallback names from the configuration and fixed outcome lists.
type events struct {
	credentialsRejected *prometheus.CounterVec
	retries             *prometheus.CounterVec
	fallbackFetches     *prometheus.CounterVec
	reserveAnswers      *prometheus.CounterVec
	evictionRuns        *prometheus.CounterVec
	evictedObjects      *prometheus.CounterVec
	evictedBytes        prometheus.Counter
}

func (m *Metrics) registerEvents() {
	m.events.credentialsRejected = m.NewCounter("upstream_credentials_rejected_total",
		"Times an upstream refused the configured credentials; pulls went on anonymously.",
		"upstream")
	m.events.retries = m.NewCounter("upstream_retries_total",
		"Upstream requests tried again, by upstream, kind and the failure retried (unavailable, abuse_limit, too_many_requests, ...).",
		"upstream", "kind", "reason")
	m.events.fallbackFetches = m.NewCounter("fallback_fetches_total",
		"Fetches of content by digest from an upstream's fallbacks, by upstream, fallback, kind (manifest, blob) and outcome (ok, mismatch, not_found, error).",
		"upstream", "fallback", "kind", "outcome")
	m.events.reserveAnswers = m.NewCounter("reserve_answers_total",
		"Moved tags answered without a manifest GET because ratelimit-remaining was at or below quota_reserve, by upstream and outcome (fallback, stale).",
		"upstream", "outcome")
	m.events.evictionRuns = m.NewCounter("eviction_runs_total",
		"Eviction runs, by result (done, blocked when what is left is in use or young, skipped when another replica holds the lease).",
		"result")
	m.events.evictedObjects = m.NewCounter("evicted_objects_total",
		"Objects removed to keep the store under cache.max_size, by kind (manifest, blob, record).",
		"kind")
	m.events.evictedBytes = m.NewCounter("evicted_bytes_total",
		"Bytes the store shrank by in eviction runs.").WithLabelValues()
}

// CredentialsRejected counts one rejection of upstream's credentials.
func (m *Metrics) CredentialsRejected(upstream string) {
	m.events.credentialsRejected.WithLabelValues(upstream).Inc()
}

// RetryObserver returns the upstream.RetryOptions.OnRetry hook of the
// upstream or fallback named name.
func (m *Metrics) RetryObserver(name string) func(upstream.RetryInfo) {
	return func(info upstream.RetryInfo) {
		m.events.retries.WithLabelValues(name, info.Kind, info.Reason.String()).Inc()
	}
}

// FallbackFetch implements cache.Observer.
func (m *Metrics) FallbackFetch(e cache.FallbackEvent) {
	m.events.fallbackFetches.WithLabelValues(e.Upstream, e.Source, e.Kind, e.Outcome).Inc()
}

// ReserveAnswer implements cache.Observer.
func (m *Metrics) ReserveAnswer(upstream, outcome string) {
	m.events.reserveAnswers.WithLabelValues(upstream, outcome).Inc()
}

var _ cache.Observer = (*Metrics)(nil)

// Eviction is the outcome of one eviction run, as the metrics count it.
type Eviction struct {
	Skipped, Blocked          bool
	Manifests, Blobs, Records int
	FreedBytes                int64
}

// EvictionRun counts one run of the evictor and what it removed.
func (m *Metrics) EvictionRun(r Eviction) {
	result := "done"
	switch {
	case r.Skipped:
		result = "skipped"
	case r.Blocked:
		result = "blocked"
	}
	m.events.evictionRuns.WithLabelValues(result).Inc()
	m.events.evictedObjects.WithLabelValues("manifest").Add(float64(r.Manifests))
	m.events.evictedObjects.WithLabelValues("blob").Add(float64(r.Blobs))
	m.events.evictedObjects.WithLabelValues("record").Add(float64(r.Records))
	if r.FreedBytes > 0 {
		m.events.evictedBytes.Add(float64(r.FreedBytes))
	}
}

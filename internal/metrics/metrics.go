// Package metrics holds pullcache's Prometheus metrics on a registry of
// its own, and the small hooks that feed them. An HTTP middleware counts
// client requests and observers count upstream requests. Collectors report
// the last seen rate-limit headers and the store's size at each scrape.
//
// Label values stay bounded: upstream names come from the configuration,
// kinds and cache statuses from fixed lists, and no label ever holds a
// repository name, a tag or a digest.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "pullcache"

// durationBuckets cover a cached manifest (milliseconds) up to a large
// blob on a slow link (minutes).
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics is the set of pullcache metrics. Create it with New; every
// method is safe for concurrent use.
//
// A new counter takes one field and one line in New, for example
//
//	m.Evictions = m.NewCounter("evictions_total", "Objects removed to keep the store under cache.max_size.", "kind")
//
// and one line where the feature is wired, such as
// cache.Options{OnEvict: func(kind string) { m.Evictions.WithLabelValues(kind).Inc() }}.
type Metrics struct {
	reg *prometheus.Registry

	clientRequests *prometheus.CounterVec
	clientDuration *prometheus.HistogramVec
	servedBytes    *prometheus.CounterVec

	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	fetchedBytes     *prometheus.CounterVec

	coalesced        *prometheus.CounterVec
	storeWriteErrors *prometheus.CounterVec
	storeReadErrors  prometheus.Counter

	rateLimits *rateLimitCollector
	store      *storeCollector
	events     events
}

// New returns the metrics, registered on a new registry together with the
// Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.clientRequests = m.NewCounter("client_requests_total",
		"Client requests answered, by upstream, kind (manifest, blob, tags, referrers, catalog, ping, other), method and cache status (HIT, MISS, REVALIDATED, STALE, BYPASS, error, none).",
		"upstream", "kind", "method", "cache_status")
	m.clientDuration = m.NewHistogram("client_request_duration_seconds",
		"Time from a client request's arrival to the end of its response body.",
		"kind", "cache_status")
	m.servedBytes = m.NewCounter("served_bytes_total",
		"Response body bytes sent to clients, by kind and cache status.",
		"kind", "cache_status")

	m.upstreamRequests = m.NewCounter("upstream_requests_total",
		"HTTP requests to upstream registries and their token services, by upstream, method, kind (manifest, blob, token, tags, referrers, ping) and status code (none when no response arrived).",
		"upstream", "method", "kind", "code")
	m.upstreamDuration = m.NewHistogram("upstream_request_duration_seconds",
		"Time from sending an upstream request to receiving its response headers.",
		"upstream", "kind")
	m.fetchedBytes = m.NewCounter("fetched_bytes_total",
		"Response body bytes read from upstream registries, by upstream and kind.",
		"upstream", "kind")

	m.coalesced = m.NewCounter("coalesced_requests_total",
		"Requests that joined an upstream fetch already in progress instead of starting their own, by kind.",
		"kind")
	m.storeWriteErrors = m.NewCounter("store_write_errors_total",
		"Failed writes to the store, by reason (no_space, other). Content is still served, streamed without storing.",
		"reason")
	m.storeReadErrors = m.NewCounter("store_read_errors_total",
		"Failed store reads other than a missing object. The content is served from upstream without storing.").WithLabelValues()

	m.registerEvents()

	m.rateLimits = newRateLimitCollector()
	m.store = newStoreCollector()
	m.reg.MustRegister(m.rateLimits, m.store)
	return m
}

// NewCounter registers a counter vector named pullcache_<name>.
func (m *Metrics) NewCounter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	m.reg.MustRegister(c)
	return c
}

// NewGauge registers a gauge vector named pullcache_<name>.
func (m *Metrics) NewGauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	m.reg.MustRegister(g)
	return g
}

// NewHistogram registers a histogram vector of durations in seconds named
// pullcache_<name>.
func (m *Metrics) NewHistogram(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: durationBuckets}, labels)
	m.reg.MustRegister(h)
	return h
}

// Registry returns the registry, for tests and for further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// Coalesced counts a request that joined a fetch in progress. kind is
// "manifest", "tag" or "blob".
func (m *Metrics) Coalesced(kind string) {
	m.coalesced.WithLabelValues(kind).Inc()
}

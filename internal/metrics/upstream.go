package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pullcache/pullcache/internal/upstream"
)

// UpstreamObserver returns the upstream client's OnResponse hook for the
// upstream called name.
func (m *Metrics) UpstreamObserver(name string) func(upstream.ResponseInfo) {
	return func(info upstream.ResponseInfo) {
		code := "none"
		if info.Status > 0 {
			code = strconv.Itoa(info.Status)
		}
		m.upstreamRequests.WithLabelValues(name, methodLabel(info.Method), info.Kind, code).Inc()
		m.upstreamDuration.WithLabelValues(name, info.Kind).Observe(info.Duration.Seconds())
	}
}

// BodyObserver returns the upstream client's OnBody hook for the upstream
// called name, which counts the bytes fetched.
func (m *Metrics) BodyObserver(name string) func(upstream.BodyInfo) {
	return func(info upstream.BodyInfo) {
		if info.Bytes > 0 {
			m.fetchedBytes.WithLabelValues(name, info.Kind).Add(float64(info.Bytes))
		}
	}
}

// WatchRateLimit exposes the last rate-limit state that rateLimit reports
// for the upstream called name, read at each scrape. *upstream.Registry's
// RateLimit method fits.
func (m *Metrics) WatchRateLimit(name string, rateLimit func() (upstream.RateLimit, bool)) {
	m.rateLimits.add(name, rateLimit)
}

// RateLimits returns the last seen rate-limit state of each watched
// upstream that has sent one.
func (m *Metrics) RateLimits() map[string]upstream.RateLimit {
	return m.rateLimits.current()
}

// rateLimitCollector reads each upstream's last seen ratelimit-* headers
// when scraped, so the gauges never drift from the client's own state.
type rateLimitCollector struct {
	limit, remaining, window *prometheus.Desc

	mu      sync.Mutex
	sources map[string]func() (upstream.RateLimit, bool)
}

func newRateLimitCollector() *rateLimitCollector {
	labels := []string{"upstream", "source"}
	return &rateLimitCollector{
		limit: prometheus.NewDesc(namespace+"_upstream_ratelimit_limit",
			"Last seen ratelimit-limit header: pulls allowed per window, by upstream and docker-ratelimit-source.", labels, nil),
		remaining: prometheus.NewDesc(namespace+"_upstream_ratelimit_remaining",
			"Last seen ratelimit-remaining header: pulls left in the window, by upstream and docker-ratelimit-source.", labels, nil),
		window: prometheus.NewDesc(namespace+"_upstream_ratelimit_window_seconds",
			"Window of the last seen rate limit (the ;w= parameter), by upstream and docker-ratelimit-source.", labels, nil),
		sources: map[string]func() (upstream.RateLimit, bool){},
	}
}

func (c *rateLimitCollector) add(name string, fn func() (upstream.RateLimit, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources[name] = fn
}

func (c *rateLimitCollector) current() map[string]upstream.RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]upstream.RateLimit, len(c.sources))
	for name, fn := range c.sources {
		if rl, ok := fn(); ok {
			out[name] = rl
		}
	}
	return out
}

func (c *rateLimitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.limit
	ch <- c.remaining
	ch <- c.window
}

func (c *rateLimitCollector) Collect(ch chan<- prometheus.Metric) {
	for name, rl := range c.current() {
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(rl.Limit), name, rl.Source)
		ch <- prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, float64(rl.Remaining), name, rl.Source)
		if rl.Window > 0 {
			ch <- prometheus.MustNewConstMetric(c.window, prometheus.GaugeValue, rl.Window.Seconds(), name, rl.Source)
		}
	}
}

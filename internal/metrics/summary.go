package metrics

import (
	"fmt"

	dto "github.com/prometheus/client_model/go"

	"github.com/pullcache/pullcache/internal/upstream"
)

// Summary is the handful of numbers an operator looks at first, computed
// from the counters since start-up.
type Summary struct {
	// Requests counts manifest and blob requests by cache status.
	Requests map[string]float64
	// HitRatio is the share of manifest and blob requests served from
	// the store (HIT, REVALIDATED, STALE) among those with a cache status.
	// It is 0 before the first such request.
	HitRatio     float64
	ServedBytes  float64
	FetchedBytes float64
	Coalesced    float64
	// StoreWriteErrors counts failed store writes by reason.
	StoreWriteErrors map[string]float64
	Upstreams        map[string]UpstreamSummary
	Store            StoreUsage
}

// UpstreamSummary is one upstream's share of a Summary.
type UpstreamSummary struct {
	// PullsAnswered counts client manifest GETs for this upstream that got
	// a manifest, whether from the store or fetched.
	PullsAnswered float64
	// PullsSpent counts upstream manifest GETs that returned 200, which
	// Docker Hub's mechanical rule charges as pulls.
	PullsSpent float64
	// Requests counts every request sent to the upstream and its token
	// service; Failures those that got no response, a 429 or a 5xx.
	Requests, Failures float64
	// RateLimit is the last seen rate-limit state, nil when none was seen.
	RateLimit *upstream.RateLimit
	// Retries counts upstream requests tried again.
	Retries float64
	// FallbackFetches counts content fetched whole and verified from the
	// upstream's fallbacks; FallbackRejected those whose bytes did not
	// match their digest.
	FallbackFetches, FallbackRejected float64
	// ReserveAnswers counts moved tags served without a manifest GET
	// because the quota reserve was reached.
	ReserveAnswers float64
	// CredentialsRejected counts rejections of the configured credentials.
	CredentialsRejected float64
}

// PullsSaved returns the number of pulls served without spending one
// upstream.
func (u UpstreamSummary) PullsSaved() float64 {
	if u.PullsAnswered < u.PullsSpent {
		return 0
	}
	return u.PullsAnswered - u.PullsSpent
}

// storedStatuses are the cache statuses of answers from the store.
var storedStatuses = map[string]bool{"HIT": true, "REVALIDATED": true, "STALE": true}

// Summarize computes a Summary from the registry. upstreams lists the
// configured upstream names, so that one without traffic still appears.
func (m *Metrics) Summarize(upstreams []string) (Summary, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return Summary{}, fmt.Errorf("gather metrics: %w", err)
	}
	byName := make(map[string]*dto.MetricFamily, len(families))
	for _, f := range families {
		byName[f.GetName()] = f
	}

	s := Summary{
		Requests:         map[string]float64{},
		StoreWriteErrors: map[string]float64{},
		Upstreams:        map[string]UpstreamSummary{},
		Store:            m.StoreUsage(),
	}
	for _, name := range upstreams {
		s.Upstreams[name] = UpstreamSummary{}
	}

	var stored, withStatus float64
	eachCounter(byName["pullcache_client_requests_total"], func(l map[string]string, v float64) {
		status := l["cache_status"]
		if l["kind"] == "manifest" || l["kind"] == "blob" {
			s.Requests[status] += v
			if status != "error" && status != "none" {
				withStatus += v
				if storedStatuses[status] {
					stored += v
				}
			}
		}
		if l["kind"] == "manifest" && l["method"] == "GET" && status != "error" && status != "none" {
			u := s.Upstreams[l["upstream"]]
			u.PullsAnswered += v
			s.Upstreams[l["upstream"]] = u
		}
	})
	if withStatus > 0 {
		s.HitRatio = stored / withStatus
	}

	eachCounter(byName["pullcache_upstream_requests_total"], func(l map[string]string, v float64) {
		u := s.Upstreams[l["upstream"]]
		u.Requests += v
		code := l["code"]
		if code == "none" || code == "429" || code >= "500" {
			u.Failures += v
		}
		if l["kind"] == "manifest" && l["method"] == "GET" && code == "200" {
			u.PullsSpent += v
		}
		s.Upstreams[l["upstream"]] = u
	})

	add := func(family, label string, fn func(u *UpstreamSummary, l map[string]string, v float64)) {
		eachCounter(byName[family], func(l map[string]string, v float64) {
			u := s.Upstreams[l[label]]
			fn(&u, l, v)
			s.Upstreams[l[label]] = u
		})
	}
	add("pullcache_upstream_retries_total", "upstream", func(u *UpstreamSummary, _ map[string]string, v float64) { u.Retries += v })
	add("pullcache_fallback_fetches_total", "upstream", func(u *UpstreamSummary, l map[string]string, v float64) {
		switch l["outcome"] {
		case "ok":
			u.FallbackFetches += v
		case "mismatch":
			u.FallbackRejected += v
		}
	})
	add("pullcache_reserve_answers_total", "upstream", func(u *UpstreamSummary, _ map[string]string, v float64) { u.ReserveAnswers += v })
	add("pullcache_upstream_credentials_rejected_total", "upstream", func(u *UpstreamSummary, _ map[string]string, v float64) { u.CredentialsRejected += v })

	for name, rl := range m.RateLimits() {
		u := s.Upstreams[name]
		u.RateLimit = &rl
		s.Upstreams[name] = u
	}

	eachCounter(byName["pullcache_served_bytes_total"], func(_ map[string]string, v float64) { s.ServedBytes += v })
	eachCounter(byName["pullcache_fetched_bytes_total"], func(_ map[string]string, v float64) { s.FetchedBytes += v })
	eachCounter(byName["pullcache_coalesced_requests_total"], func(_ map[string]string, v float64) { s.Coalesced += v })
	eachCounter(byName["pullcache_store_write_errors_total"], func(l map[string]string, v float64) { s.StoreWriteErrors[l["reason"]] += v })
	return s, nil
}

// eachCounter calls fn with the labels and value of each counter in f.
func eachCounter(f *dto.MetricFamily, fn func(labels map[string]string, value float64)) {
	if f == nil {
		return
	}
	for _, metric := range f.GetMetric() {
		labels := make(map[string]string, len(metric.GetLabel()))
		for _, lp := range metric.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		fn(labels, metric.GetCounter().GetValue())
	}
}

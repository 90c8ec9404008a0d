package status

import (
	"time"

	"github.com/pullcache/pullcache/internal/admin"
	"github.com/pullcache/pullcache/internal/logging"
)

// Report is the content of the status page and the body of /status.json.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Version     string    `json:"version"`
	// Replica is this process's name on a store that several replicas
	// share; the totals and history are this replica's only.
	Replica string `json:"replica,omitempty"`
	// Started is when this process started; Since is when the history
	// began, which may be an earlier run.
	Started time.Time `json:"started"`
	Since   time.Time `json:"since"`

	// HitRatio is the share of manifest and blob requests served from
	// the store since this process started.
	HitRatio float64 `json:"hit_ratio"`
	// Requests counts manifest and blob requests by cache status since
	// this process started.
	Requests     map[string]float64 `json:"requests"`
	ServedBytes  float64            `json:"served_bytes"`
	FetchedBytes float64            `json:"fetched_bytes"`
	Coalesced    float64            `json:"coalesced"`

	Store     StoreReport      `json:"store"`
	Upstreams []UpstreamReport `json:"upstreams"`
	// Errors are the latest warnings and errors, newest first.
	Errors []logging.Entry `json:"errors"`
}

// StoreReport is the store's usage and write health.
type StoreReport struct {
	Bytes   int64     `json:"bytes"`
	Objects int64     `json:"objects"`
	Sampled time.Time `json:"sampled,omitzero"`
	// Error is the last failure to measure the store, if any.
	Error string `json:"error,omitempty"`
	// WriteErrors counts failed writes since start-up, by reason.
	WriteErrors map[string]float64      `json:"write_errors"`
	Writes      *admin.StoreWriteHealth `json:"writes,omitempty"`
}

// UpstreamReport is one upstream's part of the Report.
type UpstreamReport struct {
	Name string `json:"name"`
	// PullsAnswered, PullsSpent and PullsSaved are running totals across
	// restarts: manifests returned to clients, manifest GETs sent
	// upstream (what Docker Hub counts as pulls), and the difference.
	PullsAnswered float64 `json:"pulls_answered"`
	PullsSpent    float64 `json:"pulls_spent"`
	PullsSaved    float64 `json:"pulls_saved"`
	// Requests and Failures count upstream requests since this process
	// started. A failure is a request that got no response, a 429 or a
	// 5xx.
	Requests  float64          `json:"requests"`
	Failures  float64          `json:"failures"`
	RateLimit *RateLimitReport `json:"rate_limit,omitempty"`
	// Retries, the fallback counts, ReserveAnswers and
	// CredentialsRejected count since this process started: upstream
	// requests tried again, content fetched and verified from a fallback
	// or rejected for a wrong digest, moved tags served under the quota
	// reserve, and rejections of the configured credentials.
	Retries             float64 `json:"retries"`
	FallbackFetches     float64 `json:"fallback_fetches"`
	FallbackRejected    float64 `json:"fallback_rejected"`
	ReserveAnswers      float64 `json:"reserve_answers"`
	CredentialsRejected float64 `json:"credentials_rejected"`
	// History is the sampled state over the last 24 hours, oldest first.
	History []Point `json:"history"`
}

// RateLimitReport is the last seen rate-limit state of an upstream.
type RateLimitReport struct {
	Limit         int       `json:"limit"`
	Remaining     int       `json:"remaining"`
	WindowSeconds float64   `json:"window_seconds,omitempty"`
	Source        string    `json:"source,omitempty"`
	Seen          time.Time `json:"seen"`
}

// Report computes the current report.
func (s *Status) Report() (Report, error) {
	sum, err := s.o.Metrics.Summarize(s.o.Upstreams)
	if err != nil {
		return Report{}, err
	}
	now := s.o.Clock()
	r := Report{
		GeneratedAt:  now,
		Version:      s.o.Version,
		Replica:      s.o.Replica,
		Started:      s.started,
		Since:        s.history.since(),
		HitRatio:     sum.HitRatio,
		Requests:     sum.Requests,
		ServedBytes:  sum.ServedBytes,
		FetchedBytes: sum.FetchedBytes,
		Coalesced:    sum.Coalesced,
		Store: StoreReport{
			Bytes:       sum.Store.Bytes,
			Objects:     sum.Store.Objects,
			Sampled:     sum.Store.Sampled,
			WriteErrors: sum.StoreWriteErrors,
		},
		Errors: []logging.Entry{},
	}
	if sum.Store.Err != nil {
		r.Store.Error = sum.Store.Err.Error()
	}
	if s.o.StoreWrites != nil {
		w := s.o.StoreWrites()
		r.Store.Writes = &w
	}
	if s.o.Recent != nil {
		r.Errors = s.o.Recent.Entries()
	}

	for _, name := range s.o.Upstreams {
		u := sum.Upstreams[name]
		totals := s.history.totals(name, u.PullsAnswered, u.PullsSpent)
		ur := UpstreamReport{
			Name:          name,
			PullsAnswered: totals.Answered,
			PullsSpent:    totals.Spent,
			PullsSaved:    max(totals.Answered-totals.Spent, 0),
			Requests:      u.Requests,
			Failures:      u.Failures,
			History:       s.history.points(name),

			Retries:             u.Retries,
			FallbackFetches:     u.FallbackFetches,
			FallbackRejected:    u.FallbackRejected,
			ReserveAnswers:      u.ReserveAnswers,
			CredentialsRejected: u.CredentialsRejected,
		}
		if rl := u.RateLimit; rl != nil {
			ur.RateLimit = &RateLimitReport{Limit: rl.Limit, Remaining: rl.Remaining, WindowSeconds: rl.Window.Seconds(), Source: rl.Source, Seen: rl.Seen}
		}
		// The latest point is now, so the charts reach the right edge.
		now := Point{At: now, Answered: totals.Answered, Spent: totals.Spent}
		if ur.RateLimit != nil {
			now.Quota, now.Limit, now.Remaining = true, ur.RateLimit.Limit, ur.RateLimit.Remaining
		}
		ur.History = append(ur.History, now)
		r.Upstreams = append(r.Upstreams, ur)
	}
	return r, nil
}

package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Defaults for the zero values of RetryOptions.
const (
	// DefaultMaxAttempts is the number of tries of one request, the first
	// included. Three tries ride out a dropped connection or a restarting
	// load balancer without holding a client for long.
	DefaultMaxAttempts = 3

	// DefaultRetryBaseDelay is the wait before the first retry; each later
	// wait doubles it, with jitter.
	DefaultRetryBaseDelay = 250 * time.Millisecond

	// DefaultRetryMaxDelay caps one wait. A Retry-After longer than this is
	// not waited for: the failure goes back to the cache, which serves a
	// stored copy or tries a fallback instead of holding the client.
	DefaultRetryMaxDelay = 10 * time.Second

	// DefaultRetryMaxElapsed bounds the time one request spends in tries
	// and waits before a retry is no longer started. A request that timed
	// out after the 60-second idle limit is therefore not tried again: a
	// stored copy served now beats a fresh one minutes later.
	DefaultRetryMaxElapsed = 15 * time.Second

	// DefaultAbuseBackoff is how long every request to an upstream waits
	// after its abuse-limit 429 when the response names no Retry-After.
	// Docker Hub counts that limit per minute.
	DefaultAbuseBackoff = 5 * time.Second
)

// RetryOptions configures retries of idempotent requests (GET and HEAD).
// A request is retried only before its response is handed to the caller,
// so no body byte is ever read twice.
type RetryOptions struct {
	// MaxAttempts is the number of tries of one request, the first
	// included. 0 means DefaultMaxAttempts; 1 turns retries off.
	MaxAttempts int

	// BaseDelay is the wait before the first retry. 0 means
	// DefaultRetryBaseDelay.
	BaseDelay time.Duration

	// MaxDelay caps one wait, Retry-After included. 0 means
	// DefaultRetryMaxDelay.
	MaxDelay time.Duration

	// MaxElapsed is the time after the first try, waits included, past
	// which no retry starts. 0 means DefaultRetryMaxElapsed.
	MaxElapsed time.Duration

	// AbuseBackoff is how long every request to the upstream waits after
	// an abuse-limit 429 without Retry-After. 0 means DefaultAbuseBackoff.
	AbuseBackoff time.Duration

	// Sleep waits d or until ctx ends, returning ctx.Err() then. nil
	// means a timer. Tests inject one that moves a test clock.
	Sleep func(ctx context.Context, d time.Duration) error

	// Jitter returns a number in [0, 1) that spreads the waits of
	// concurrent retries. nil means math/rand/v2.
	Jitter func() float64

	// OnRetry, when set, is called before each wait, for metrics.
	OnRetry func(RetryInfo)
}

// RetryInfo describes one retry, for metrics.
type RetryInfo struct {
	Method string
	// Kind is the request kind, as in ResponseInfo.Kind.
	Kind string
	// Reason is the failure that is retried.
	Reason Kind
	// Attempt is the number of the try that failed, from 1.
	Attempt int
	// Delay is the wait before the next try.
	Delay time.Duration
}

func (o *RetryOptions) setDefaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultRetryBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultRetryMaxDelay
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = DefaultRetryMaxElapsed
	}
	if o.AbuseBackoff <= 0 {
		o.AbuseBackoff = DefaultAbuseBackoff
	}
	if o.Sleep == nil {
		o.Sleep = sleepContext
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
}

// retryDecision is the action after one failed try.
type retryDecision struct {
	// retry: try the request again after delay.
	retry bool
	delay time.Duration
	// hold: every request to this upstream waits until holdFor has passed,
	// not only this one. Set for the abuse limit, which counts all
	// requests from this address.
	hold    bool
	holdFor time.Duration
}

// decideRetry is the retry policy: a pure function of the request method,
// the number of tries made so far, the time since the first try started,
// the failure and a jitter in [0, 1).
//
//   - Only GET and HEAD are retried; pullcache sends nothing else through
//     the retry path, but the rule keeps it safe if that changes.
//   - The pull-quota 429 is never retried: its window is hours long, and
//     every retry of a GET would be refused again.
//   - Connection errors, timeouts and 5xx (KindUnavailable) are retried
//     with jittered exponential backoff, or after Retry-After.
//   - The abuse-limit 429 holds every request to the upstream for
//     Retry-After (else AbuseBackoff), and this one is retried after it.
//     A 429 to a HEAD counts as the abuse limit unless it carries the
//     quota's marks: a HEAD response has no body to tell them apart by,
//     and Docker Hub's pull quota never applies to a HEAD.
//   - Any other 429 is retried after Retry-After, else with backoff.
//   - A wait longer than MaxDelay, or one that would end past MaxElapsed,
//     is not made: the failure is returned.
func decideRetry(o RetryOptions, method string, attempts int, elapsed time.Duration, err error, jitter float64) retryDecision {
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, errTooManyRedirects) {
		// ctx.Err(), a redirect loop, and anything else that a retry
		// would not change.
		return retryDecision{}
	}

	kind := e.Kind
	if kind == KindTooManyRequests && method == http.MethodHead {
		kind = KindAbuseLimit
	}

	var d retryDecision
	switch kind {
	case KindUnavailable, KindTooManyRequests:
		d.delay = e.RetryAfter
		if d.delay <= 0 {
			d.delay = backoff(o.BaseDelay, attempts, jitter)
		}
	case KindAbuseLimit:
		d.hold = true
		d.holdFor = e.RetryAfter
		if d.holdFor <= 0 {
			d.holdFor = o.AbuseBackoff
		}
		d.delay = d.holdFor
	default:
		// KindQuota and every response that would not change on a retry.
		return retryDecision{}
	}

	idempotent := method == http.MethodGet || method == http.MethodHead
	d.retry = idempotent && attempts < o.MaxAttempts && d.delay <= o.MaxDelay && elapsed+d.delay <= o.MaxElapsed
	return d
}

// backoff returns the wait after the given number of failed tries: base
// doubled per try, of which the upper half is jittered ("equal jitter"),
// so that waits grow and concurrent clients spread out.
func backoff(base time.Duration, attempts int, jitter float64) time.Duration {
	d := base << min(max(attempts-1, 0), 16)
	half := d / 2
	return half + time.Duration(jitter*float64(half))
}

// backoffGate holds every request to one upstream while its abuse limit
// lasts.
type backoffGate struct {
	mu    sync.Mutex
	until time.Time
}

// extend moves the end of the hold to at least until. It reports whether
// no hold was in force at now, so that a new hold is logged once.
func (g *backoffGate) extend(now, until time.Time) (started bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	started = !now.Before(g.until)
	if until.After(g.until) {
		g.until = until
	}
	return started
}

// remaining returns how long requests must still wait at now.
func (g *backoffGate) remaining(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until.Sub(now)
}

// withRetries makes one registry request with the retry policy: it waits
// while the upstream's abuse-limit hold lasts, tries, and tries again as
// decideRetry decides. attempt returns the response only when its status is
// 200, so a retry never follows a body the caller has read from.
func (r *Registry) withRetries(ctx context.Context, req request, attempt func(context.Context, request) (*http.Response, error)) (*http.Response, error) {
	o := r.opts.Retry
	start := r.now()
	for tries := 1; ; tries++ {
		if err := r.waitForGate(ctx); err != nil {
			return nil, err
		}

		resp, err := attempt(ctx, req)
		if err == nil {
			return resp, nil
		}

		d := decideRetry(o, req.method, tries, r.now().Sub(start), err, o.Jitter())
		if d.hold && r.gate.extend(r.now(), r.now().Add(d.holdFor)) {
			r.log.Warn("upstream abuse limit reached; holding every request to it",
				slog.Duration("for", d.holdFor), slog.String("kind", req.kind))
		}
		if !d.retry || ctx.Err() != nil || (d.hold && !holdWaitAllowed(ctx)) {
			return nil, err
		}

		if o.OnRetry != nil {
			o.OnRetry(RetryInfo{Method: req.method, Kind: req.kind, Reason: KindOf(err), Attempt: tries, Delay: d.delay})
		}
		r.log.Debug("retrying upstream request", slog.String("method", req.method), slog.String("kind", req.kind),
			slog.String("path", req.path), slog.Int("attempt", tries), slog.Duration("delay", d.delay), slog.Any("err", err))

		// An abuse-limit retry waits at the gate, like every other request.
		if !d.hold {
			if err := o.Sleep(ctx, d.delay); err != nil {
				return nil, err
			}
		}
	}
}

// waitForGate waits out the abuse-limit hold. A hold longer than MaxDelay,
// or any hold for a context marked by WithoutHoldWait, fails at once, so
// the cache can serve a stored copy or a fallback.
func (r *Registry) waitForGate(ctx context.Context) error {
	wait := r.gate.remaining(r.now())
	if wait <= 0 {
		return nil
	}
	if wait > r.opts.Retry.MaxDelay || !holdWaitAllowed(ctx) {
		return &Error{Upstream: r.name, Kind: KindAbuseLimit, RetryAfter: wait,
			Err: fmt.Errorf("holding requests for %s after the upstream's abuse limit", wait.Round(time.Second))}
	}
	return r.opts.Retry.Sleep(ctx, wait)
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

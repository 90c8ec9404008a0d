package cache

import (
	"errors"
	"time"

	"github.com/pullcache/pullcache/internal/upstream"
)

// A breaker stops the cache from revalidating stored tags with an upstream
// that just failed (5xx, timeout, refused connection) or returned a 429
// other than the pull quota, so that
// while it is down a stored tag is served at once as STALE instead of
// after another timeout. Content that is not stored is still asked for:
// the client has nothing better than an attempt.
type breaker struct {
	openUntil time.Time
	backoff   time.Duration
}

const (
	breakerFirstBackoff = 2 * time.Second
	breakerMaxBackoff   = time.Minute
)

// upstreamSuspended reports whether calls to the named upstream are being
// skipped, and until when.
func (c *Cache) upstreamSuspended(name string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	b := c.breakers[name]
	if b == nil || !c.now().Before(b.openUntil) {
		return time.Time{}, false
	}
	return b.openUntil, true
}

// recordUpstreamResult opens the breaker after an unavailability failure or
// a 429 other than the pull quota, doubling the wait each time, at least to
// the failure's Retry-After, and closes it after any other upstream
// response. Such a 429 (the abuse limit, or any 429 to a HEAD) counts
// every request from this address, and the upstream client holds requests
// for it, so a revalidation would keep clients of stored tags waiting for
// nothing. The pull quota does not open it: HEADs stay free under it.
func (c *Cache) recordUpstreamResult(name string, err error) {
	var upErr *upstream.Error
	unavailable := errors.As(err, &upErr) && (upErr.Kind == upstream.KindUnavailable ||
		upErr.Kind == upstream.KindAbuseLimit || upErr.Kind == upstream.KindTooManyRequests)

	c.mu.Lock()
	defer c.mu.Unlock()

	b := c.breakers[name]
	if !unavailable {
		if b != nil {
			delete(c.breakers, name)
		}
		return
	}
	if b == nil {
		b = &breaker{}
		c.breakers[name] = b
	}
	switch {
	case b.backoff == 0:
		b.backoff = breakerFirstBackoff
	case b.backoff < breakerMaxBackoff:
		b.backoff = min(2*b.backoff, breakerMaxBackoff)
	}
	b.openUntil = c.now().Add(max(b.backoff, upErr.RetryAfter))
}

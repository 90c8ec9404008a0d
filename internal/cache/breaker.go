package cache

import (
	"errors"
	"time"

	"github.com/pullcache/pullcache/internal/upstream"
)

// A breaker stops the cache from revalidating stored tags with an upstream
// that just failed (5xx, timeout, refused connection), so that
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

// recordUpstreamResult opens the breaker after an unavailability failure,
// doubling the wait each time, and closes it after any upstream response.
func (c *Cache) recordUpstreamResult(name string, err error) {
	var upErr *upstream.Error
	unavailable := errors.As(err, &upErr) && upErr.Kind == upstream.KindUnavailable

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
	b.openUntil = c.now().Add(b.backoff)
}

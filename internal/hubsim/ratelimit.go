package hubsim

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// identity is who a registry request is charged to.
type identity struct {
	// source is the docker-ratelimit-source value and the key of the count:
	// the client address (an IPv6 client's /64 prefix) for anonymous
	// requests, the account id for an account.
	source    string
	username  string // empty for anonymous requests
	limit     int
	unlimited bool
}

// bucket is one identity's pulls in its current window.
type bucket struct {
	start time.Time
	used  int
}

// rateLimiter counts pulls per identity in fixed windows. A window starts at
// the identity's first pull and lasts Options.Window; the first pull after it
// ends starts a new window with a full quota. Docker Hub does not document
// how its window moves, so this is a simplification.
type rateLimiter struct {
	window time.Duration
	clock  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

func newRateLimiter(window time.Duration, clock func() time.Time) *rateLimiter {
	return &rateLimiter{window: window, clock: clock, buckets: map[string]*bucket{}}
}

// currentLocked returns the identity's bucket, rolled over when its window
// has ended, or nil when it has no pulls in a current window.
func (l *rateLimiter) currentLocked(source string) *bucket {
	b := l.buckets[source]
	if b == nil {
		return nil
	}
	if !l.clock().Before(b.start.Add(l.window)) {
		delete(l.buckets, source)
		return nil
	}
	return b
}

// remaining returns the pulls id has left in its window.
func (l *rateLimiter) remaining(id identity) int {
	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.currentLocked(id.source)
	if b == nil {
		return id.limit
	}
	return max(id.limit-b.used, 0)
}

// take charges one pull to id. It reports false, and charges nothing, when
// the quota is spent. Unlimited identities are charged nothing here and
// always succeed; Stats still counts their pulls.
func (l *rateLimiter) take(id identity) (remaining int, ok bool) {
	if id.unlimited {
		return id.limit, true
	}

	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.currentLocked(id.source)
	if b == nil {
		b = &bucket{start: l.clock()}
		l.buckets[id.source] = b
	}
	if b.used >= id.limit {
		return 0, false
	}
	b.used++
	return id.limit - b.used, true
}

func (l *rateLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.buckets)
}

// setRateLimitHeaders writes Docker Hub's ratelimit-limit,
// ratelimit-remaining and docker-ratelimit-source headers, unless id is
// unlimited. The names are lower case on the wire, as Docker Hub sends them.
func (h *Hub) setRateLimitHeaders(w http.ResponseWriter, id identity, remaining int) {
	if id.unlimited {
		return
	}

	window := int64(h.opts.Window / time.Second)
	w.Header()["ratelimit-limit"] = []string{fmt.Sprintf("%d;w=%d", id.limit, window)}
	w.Header()["ratelimit-remaining"] = []string{fmt.Sprintf("%d;w=%d", remaining, window)}
	w.Header()["docker-ratelimit-source"] = []string{id.source}
}

// anonymousIdentity charges a request to its client address. Docker Hub
// counts IPv6 clients per /64, so an IPv6 address is cut to its prefix.
func (h *Hub) anonymousIdentity(r *http.Request) identity {
	return identity{
		source:    clientSource(r.RemoteAddr),
		limit:     h.opts.Limit,
		unlimited: h.opts.NoRateLimitHeaders,
	}
}

// clientSource returns the docker-ratelimit-source value for a RemoteAddr.
func clientSource(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}

	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, err := addr.Prefix(64)
		if err == nil {
			return prefix.Addr().String()
		}
	}
	return addr.String()
}

// accountIdentity charges a request to an account.
func (h *Hub) accountIdentity(username string) identity {
	account := h.opts.Accounts[username]
	limit := account.Limit
	if limit <= 0 {
		limit = DefaultAccountLimit
	}
	return identity{
		source:    AccountID(username),
		username:  username,
		limit:     limit,
		unlimited: account.Unlimited || h.opts.NoRateLimitHeaders,
	}
}

// lookupIdentity resolves a name given to Remaining or PullsBy: a username
// of Options.Accounts, or a docker-ratelimit-source value.
func (h *Hub) lookupIdentity(name string) identity {
	if _, ok := h.opts.Accounts[name]; ok {
		return h.accountIdentity(name)
	}
	for username := range h.opts.Accounts {
		if AccountID(username) == name {
			return h.accountIdentity(username)
		}
	}
	return identity{source: name, limit: h.opts.Limit, unlimited: h.opts.NoRateLimitHeaders}
}

// Remaining returns the pulls left in the current window for identity: a
// username of Options.Accounts, an account id, or a client address such as
// "127.0.0.1".
func (h *Hub) Remaining(identity string) int {
	return h.limiter.remaining(h.lookupIdentity(identity))
}

// PullsBy returns the pulls charged to identity (a username, an account id
// or a client address) since New or the last ResetStats.
func (h *Hub) PullsBy(identity string) int {
	return h.Stats().PullsBy(h.lookupIdentity(identity).source)
}

// ResetRateLimits gives every identity a full quota again.
func (h *Hub) ResetRateLimits() {
	h.limiter.reset()
}

package upstream

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRateLimit reads Docker Hub's rate-limit headers, such as
// "ratelimit-limit: 100;w=21600", "ratelimit-remaining: 76;w=21600" and
// "docker-ratelimit-source: 203.0.113.7". Header names match in any case.
// A missing ";w=" leaves Window 0. ok is false unless both the limit and
// the remaining count are present and valid. Docker Hub sends no headers at
// all for an unlimited pull.
func ParseRateLimit(h http.Header, now time.Time) (RateLimit, bool) {
	limit, limitWindow, ok := parseRateLimitValue(headerValue(h, "ratelimit-limit"))
	if !ok {
		return RateLimit{}, false
	}

	remaining, remainingWindow, ok := parseRateLimitValue(headerValue(h, "ratelimit-remaining"))
	if !ok {
		return RateLimit{}, false
	}

	window := limitWindow
	if window == 0 {
		window = remainingWindow
	}

	return RateLimit{
		Limit:     limit,
		Remaining: remaining,
		Window:    window,
		Source:    strings.TrimSpace(headerValue(h, "docker-ratelimit-source")),
		Seen:      now,
	}, true
}

// parseRateLimitValue parses "N" or "N;w=SECONDS". Of a comma-separated
// list (the IETF draft's "10, 10;w=1, 50;w=60" form) the first item is the
// one in force.
func parseRateLimitValue(v string) (n int, window time.Duration, ok bool) {
	item, _, _ := strings.Cut(v, ",")
	parts := strings.Split(item, ";")

	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n < 0 {
		return 0, 0, false
	}

	for _, p := range parts[1:] {
		key, value, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(key), "w") {
			continue
		}

		// A window too long for a time.Duration would wrap negative.
		secs, err := strconv.Atoi(strings.TrimSpace(value))
		if err == nil && secs > 0 && int64(secs) <= math.MaxInt64/int64(time.Second) {
			window = time.Duration(secs) * time.Second
		}
	}

	return n, window, true
}

// headerValue looks a header up by name in any case. http.Header.Get only
// finds canonical keys, and a header map built by hand may not have them.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}

	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}

	return ""
}

// recordRateLimit keeps the state from h when h carries rate-limit headers.
// A response without them leaves the last seen state in place.
func (r *Registry) recordRateLimit(h http.Header) {
	rl, ok := ParseRateLimit(h, r.now())
	if !ok {
		return
	}

	r.rateMu.Lock()
	r.rateLimit = rl
	r.rateLimitSeen = true
	r.rateMu.Unlock()
}

// RateLimit returns the rate-limit state from the last response that
// carried it; ok is false if no response has.
func (r *Registry) RateLimit() (RateLimit, bool) {
	r.rateMu.Lock()
	defer r.rateMu.Unlock()

	return r.rateLimit, r.rateLimitSeen
}

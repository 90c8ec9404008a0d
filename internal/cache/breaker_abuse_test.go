package cache

import (
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/upstream"
)

func TestBreakerOpensOnAbuseLimit(t *testing.T) {
	for _, kind := range []upstream.Kind{upstream.KindAbuseLimit, upstream.KindTooManyRequests} {
		t.Run(kind.String(), func(t *testing.T) { testBreakerOpensOn429(t, kind) })
	}
}

func testBreakerOpensOn429(t *testing.T, kind upstream.Kind) {
	f := newFixture(t, 0)
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	f.get(t, "v1")
	tooMany := &upstream.Error{Upstream: testUpstream, Kind: kind, Status: 429, RetryAfter: 30 * time.Second}
	f.up.setErr("HeadManifest", tooMany)

	if res := f.get(t, "v1"); res.Status != StatusStale {
		t.Fatalf("status after the abuse limit = %s, want STALE", res.Status)
	}
	heads := f.up.count("HeadManifest")

	// The breaker stays open for the Retry-After, past its first back-off.
	f.clock.Advance(20 * time.Second)
	for range 3 {
		if res := f.get(t, "v1"); res.Status != StatusStale {
			t.Fatalf("status while the breaker is open = %s, want STALE", res.Status)
		}
	}
	if got := f.up.count("HeadManifest"); got != heads {
		t.Errorf("upstream HEADs while the breaker is open = %d, want %d", got, heads)
	}

	f.clock.Advance(11 * time.Second)
	f.up.setErr("HeadManifest", nil)
	if res := f.get(t, "v1"); res.Status != StatusRevalidated {
		t.Errorf("after the Retry-After status = %s, want REVALIDATED", res.Status)
	}
}

func TestBreakerStaysClosedOnQuota(t *testing.T) {
	f := newFixture(t, 0)
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	f.get(t, "v1")
	f.up.setErr("HeadManifest", quotaErr())

	f.get(t, "v1")
	heads := f.up.count("HeadManifest")
	f.get(t, "v1")
	if got := f.up.count("HeadManifest"); got != heads+1 {
		t.Errorf("upstream HEADs after a quota 429 = %d, want %d: the quota must not open the breaker", got, heads+1)
	}
}

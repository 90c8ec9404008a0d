package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// outageRound is one pull of a stored image while upstream is down: a HEAD
// of the tag, the manifest by digest and every blob. It checks that all of
// it is served from the store and returns how long the tag HEAD took.
func outageRound(t *testing.T, m *mirror, round int) time.Duration {
	t.Helper()
	img := m.std.Alpine
	name := "library/alpine"

	tag := m.head(manifestPath(name, img.Tag), acceptAll())
	if tag.status != http.StatusOK {
		t.Errorf("round %d: HEAD tag: status %d, want 200 from the store", round, tag.status)
	}
	if got := tag.header.Get("Docker-Content-Digest"); got != img.Digest.String() {
		t.Errorf("round %d: HEAD tag: Docker-Content-Digest %q, want the stored %s", round, got, img.Digest)
	}
	if got := tag.header.Get("X-Cache-Status"); got != "STALE" {
		t.Errorf("round %d: HEAD tag: X-Cache-Status %q, want STALE while upstream is down", round, got)
	}

	before := hubRequests(m.hub)
	byDigest := m.get(manifestPath(name, img.Digest.String()), acceptAll())
	if byDigest.status != http.StatusOK {
		t.Errorf("round %d: GET manifest by digest: status %d, want 200", round, byDigest.status)
	}
	if got := sha256Digest(byDigest.body); got != img.Digest {
		t.Errorf("round %d: GET manifest by digest: body hashes to %s, want %s", round, got, img.Digest)
	}
	for _, d := range imageBlobs(img) {
		blob := m.get(blobPath(name, d), nil)
		if blob.status != http.StatusOK {
			t.Errorf("round %d: GET blob %s: status %d, want 200", round, d, blob.status)
		}
		if got := sha256Digest(blob.body); got != d {
			t.Errorf("round %d: GET blob %s: body hashes to %s", round, d, got)
		}
	}
	if after := hubRequests(m.hub); after != before {
		t.Errorf("round %d: requests by digest reached the hub %d times, want none: stored content needs no upstream", round, after-before)
	}
	return tag.elapsed
}

func TestOutageServesStale(t *testing.T) {
	modes := []struct {
		name string
		fail func(m *mirror)
	}{
		{"bad gateway", func(m *mirror) {
			m.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Status: http.StatusBadGateway})
		}},
		{"connection refused", func(m *mirror) {
			m.hub.Close()
		}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMirror(t, mirrorConfig{upstreamTimeout: 300 * time.Millisecond})
			m.pullImage("library/alpine", m.std.Alpine)

			mode.fail(m)

			// Ten rounds, each after the tag TTL has passed, spread over
			// an hour of test clock: longer than any breaker back-off.
			for round := range 10 {
				m.clock.Advance(defaultTagTTL + time.Minute)
				outageRound(t, m, round)
			}
		})
	}
}

func TestOutageBlackHoleWaitsOnce(t *testing.T) {
	m := newMirror(t, mirrorConfig{upstreamTimeout: 300 * time.Millisecond})
	m.pullImage("library/alpine", m.std.Alpine)

	// The hub accepts every connection and never sends a response.
	m.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultBlackHole})
	m.clock.Advance(defaultTagTTL + time.Minute)

	first := outageRound(t, m, 0)
	if m.hub.Stats().FaultsInjected == 0 {
		t.Errorf("the first round after the tag TTL sent the hub no request, so the black hole was never tested")
	}
	if first > 5*time.Second {
		t.Errorf("first round after the black hole took %v, want it bounded by the upstream timeouts (300ms each)", first)
	}

	// The breaker's first back-off is 2 s of clock time. Rounds inside it
	// must not wait for upstream or send it anything.
	hubBefore := hubRequests(m.hub)
	for round := 1; round <= 5; round++ {
		m.clock.Advance(200 * time.Millisecond)
		if took := outageRound(t, m, round); took > 200*time.Millisecond {
			t.Errorf("round %d took %v; after the first timeout the stored tag must be served without waiting again", round, took)
		}
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("hub received %d requests while the breaker was open, want 0", got)
	}

	// Once the back-off has passed, one more attempt is made, and it is
	// again bounded.
	m.clock.Advance(2 * time.Second)
	if took := outageRound(t, m, 6); took > 5*time.Second {
		t.Errorf("round after the back-off took %v, want it bounded by the upstream timeouts", took)
	}
	m.clock.Advance(time.Second)
	if took := outageRound(t, m, 7); took > 200*time.Millisecond {
		t.Errorf("round inside the doubled back-off took %v, want no wait", took)
	}
}

package upstream

import (
	"context"
	"testing"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// A request marked WithoutHoldWait neither retries an abuse-limit 429 nor
// waits out the hold it starts; an unmarked request still waits.
func TestWithoutHoldWaitFailsFast(t *testing.T) {
	clock := newFakeClock()
	hub, std := startRetryHub(t, clock)
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	reg := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries))
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultAbuse, Target: hubsim.TargetManifests, Repo: std.Alpine.Repo, Count: 1})
	noWait := WithoutHoldWait(context.Background())

	_, err := reg.GetManifest(noWait, std.Alpine.Repo, std.Alpine.Tag)
	if KindOf(err) != KindAbuseLimit {
		t.Fatalf("marked GET during the abuse limit = %v, want the abuse limit at once", err)
	}
	if got := sleeps.recorded(); len(got) != 0 {
		t.Errorf("the marked GET waited %v, want no wait", got)
	}
	if len(retries) != 0 {
		t.Errorf("the marked GET was retried: %v", retries)
	}

	// The hold it started is in force: a marked request fails without
	// sending anything, an unmarked one waits it out and succeeds.
	before := hub.Stats().ManifestGets
	if _, err := reg.HeadManifest(noWait, std.Moving.Repo, "v1"); KindOf(err) != KindAbuseLimit {
		t.Fatalf("marked HEAD during the hold = %v, want the abuse limit", err)
	}
	if _, err := reg.GetManifest(context.Background(), std.Moving.Repo, "v1"); err != nil {
		t.Fatalf("unmarked GET during the hold: %v", err)
	}
	if got := sleeps.recorded(); len(got) != 1 || got[0] != DefaultAbuseBackoff {
		t.Errorf("waits %v, want the unmarked request's one wait of %s", got, DefaultAbuseBackoff)
	}
	if got := hub.Stats().ManifestGets - before; got != 1 {
		t.Errorf("manifest GETs during the hold = %d, want only the unmarked one", got)
	}
}

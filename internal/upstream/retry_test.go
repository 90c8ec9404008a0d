package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestDecideRetry(t *testing.T) {
	o := RetryOptions{}
	o.setDefaults()
	unavailable := &Error{Upstream: "u", Kind: KindUnavailable, Status: 503}

	tests := []struct {
		name     string
		method   string
		attempts int
		elapsed  time.Duration
		err      error
		jitter   float64
		want     retryDecision
	}{
		{name: "5xx first try", method: http.MethodGet, attempts: 1, err: unavailable,
			want: retryDecision{retry: true, delay: 125 * time.Millisecond}},
		{name: "5xx jitter spreads the upper half", method: http.MethodGet, attempts: 1, err: unavailable, jitter: 0.5,
			want: retryDecision{retry: true, delay: 187500 * time.Microsecond}},
		{name: "5xx backoff doubles", method: http.MethodHead, attempts: 2, err: unavailable,
			want: retryDecision{retry: true, delay: 250 * time.Millisecond}},
		{name: "5xx attempts used up", method: http.MethodGet, attempts: 3, err: unavailable,
			want: retryDecision{delay: 500 * time.Millisecond}},
		{name: "connection refused", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindUnavailable, Err: errors.New("connect: connection refused")},
			want: retryDecision{retry: true, delay: 125 * time.Millisecond}},
		{name: "timeout", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindUnavailable, Err: fmt.Errorf("no response headers: %w", errIdleTimeout)},
			want: retryDecision{retry: true, delay: 125 * time.Millisecond}},
		{name: "timeout after the idle limit", method: http.MethodGet, attempts: 1, elapsed: time.Minute,
			err:  &Error{Kind: KindUnavailable, Err: fmt.Errorf("no response headers: %w", errIdleTimeout)},
			want: retryDecision{delay: 125 * time.Millisecond}},
		{name: "wait would end past the budget", method: http.MethodGet, attempts: 1, elapsed: 14 * time.Second,
			err:  &Error{Kind: KindUnavailable, Status: 503, RetryAfter: 2 * time.Second},
			want: retryDecision{delay: 2 * time.Second}},
		{name: "Retry-After within the cap", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindUnavailable, Status: 503, RetryAfter: 7 * time.Second},
			want: retryDecision{retry: true, delay: 7 * time.Second}},
		{name: "Retry-After beyond the cap", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindUnavailable, Status: 503, RetryAfter: time.Hour},
			want: retryDecision{delay: time.Hour}},
		{name: "pull quota never retried", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindQuota, Status: 429, Code: "TOOMANYREQUESTS", RetryAfter: time.Second},
			want: retryDecision{}},
		{name: "abuse limit holds the upstream", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindAbuseLimit, Status: 429},
			want: retryDecision{retry: true, delay: DefaultAbuseBackoff, hold: true, holdFor: DefaultAbuseBackoff}},
		{name: "abuse limit with Retry-After", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindAbuseLimit, Status: 429, RetryAfter: 2 * time.Second},
			want: retryDecision{retry: true, delay: 2 * time.Second, hold: true, holdFor: 2 * time.Second}},
		{name: "long abuse hold is not waited for", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindAbuseLimit, Status: 429, RetryAfter: time.Minute},
			want: retryDecision{delay: time.Minute, hold: true, holdFor: time.Minute}},
		{name: "429 to a HEAD holds the upstream", method: http.MethodHead, attempts: 1,
			err:  &Error{Kind: KindTooManyRequests, Status: 429},
			want: retryDecision{retry: true, delay: DefaultAbuseBackoff, hold: true, holdFor: DefaultAbuseBackoff}},
		{name: "other 429 after Retry-After", method: http.MethodGet, attempts: 1,
			err:  &Error{Kind: KindTooManyRequests, Status: 429, RetryAfter: 3 * time.Second},
			want: retryDecision{retry: true, delay: 3 * time.Second}},
		{name: "POST not retried", method: http.MethodPost, attempts: 1, err: unavailable,
			want: retryDecision{delay: 125 * time.Millisecond}},
		{name: "not found", method: http.MethodGet, attempts: 1, err: &Error{Kind: KindNotFound, Status: 404}},
		{name: "denied", method: http.MethodGet, attempts: 1, err: &Error{Kind: KindDenied, Status: 401}},
		{name: "digest mismatch", method: http.MethodGet, attempts: 1, err: &Error{Kind: KindInvalid}},
		{name: "redirect loop", method: http.MethodGet, attempts: 1,
			err: &Error{Kind: KindUnavailable, Err: errTooManyRedirects}},
		{name: "context canceled", method: http.MethodGet, attempts: 1, err: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideRetry(o, tt.method, tt.attempts, tt.elapsed, tt.err, tt.jitter)
			if got != tt.want {
				t.Errorf("decideRetry = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// sleepRecorder is an injected Sleep that moves a test clock instead of
// waiting.
type sleepRecorder struct {
	clock *fakeClock
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.clock.Advance(d)
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func withRecordedSleep(s *sleepRecorder, retries *[]RetryInfo) func(*Options) {
	return func(o *Options) {
		o.Clock = s.clock.Now
		o.Retry.Sleep = s.sleep
		o.Retry.Jitter = func() float64 { return 0 }
		o.Retry.OnRetry = func(ri RetryInfo) { *retries = append(*retries, ri) }
	}
}

// startRetryHub starts hubsim with the standard content on loopback.
func startRetryHub(t *testing.T, clock *fakeClock) (*hubsim.Hub, hubsim.Standard) {
	t.Helper()
	hub := hubsim.New(hubsim.Options{Clock: clock.Now})
	if err := hub.Start(registryIP + ":0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(hub.Close)
	return hub, hub.SeedStandard(0)
}

func TestQuota429IsSentOnce(t *testing.T) {
	clock := newFakeClock()
	hub, std := startRetryHub(t, clock)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultQuota, Target: hubsim.TargetManifests, Method: http.MethodGet})
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	reg := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries))

	_, err := reg.GetManifest(context.Background(), std.Alpine.Repo, std.Alpine.Tag)

	requireKind(t, err, KindQuota)
	if n := hub.Stats().ManifestGets; n != 1 {
		t.Errorf("hubsim saw %d manifest GETs, want exactly 1: the pull-quota 429 must not be retried", n)
	}
	if len(retries) != 0 || len(sleeps.recorded()) != 0 {
		t.Errorf("retries %v, waits %v; want none", retries, sleeps.recorded())
	}
}

func TestServerErrorsRetriedWithBackoff(t *testing.T) {
	clock := newFakeClock()
	hub, std := startRetryHub(t, clock)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Target: hubsim.TargetManifests, Count: 2})
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	reg := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries))

	m, err := reg.GetManifest(context.Background(), std.Alpine.Repo, std.Alpine.Tag)
	if err != nil {
		t.Fatalf("GetManifest after two 503s: %v", err)
	}

	if m.Digest != std.Alpine.Digest {
		t.Errorf("digest %s, want %s", m.Digest, std.Alpine.Digest)
	}
	if n := hub.Stats().ManifestGets; n != 3 {
		t.Errorf("hubsim saw %d manifest GETs, want 3", n)
	}
	want := []time.Duration{125 * time.Millisecond, 250 * time.Millisecond}
	if got := sleeps.recorded(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if len(retries) != 2 || retries[0].Reason != KindUnavailable || retries[1].Attempt != 2 || retries[0].Kind != requestManifest {
		t.Errorf("retry events %+v, want two for unavailable manifest GETs", retries)
	}
}

func TestServerErrorsGiveUpAfterMaxAttempts(t *testing.T) {
	clock := newFakeClock()
	hub, std := startRetryHub(t, clock)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultDrop, Target: hubsim.TargetManifests})
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	reg := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries))

	_, err := reg.HeadManifest(context.Background(), std.Alpine.Repo, std.Alpine.Tag)

	requireKind(t, err, KindUnavailable)
	// net/http itself may resend a HEAD once on a reused connection that
	// closed, so the hub can see more tries than the policy makes.
	if len(retries) != DefaultMaxAttempts-1 {
		t.Errorf("retry events %+v, want %d", retries, DefaultMaxAttempts-1)
	}
	if n := hub.Stats().ManifestHeads; n < DefaultMaxAttempts {
		t.Errorf("hubsim saw %d manifest HEADs, want at least %d", n, DefaultMaxAttempts)
	}
}

func TestRetryAfterBothForms(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{name: "seconds", value: "4", want: 4 * time.Second},
		{name: "HTTP date", value: clock.Now().Add(6 * time.Second).UTC().Format(http.TimeFormat), want: 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			requests := 0
			srv := startServer(t, registryIP, pingOK(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				first := requests == 1
				mu.Unlock()
				if first {
					w.Header().Set("Retry-After", tt.value)
					writeOCIError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "maintenance")
					return
				}
				w.Header().Set("Content-Type", MediaTypeOCIManifest)
				_, _ = io.WriteString(w, `{"schemaVersion":2}`)
			})))
			sleeps := &sleepRecorder{clock: newFakeClock()}
			var retries []RetryInfo
			reg := newTestRegistry(t, srv.URL, withRecordedSleep(sleeps, &retries))

			if _, err := reg.GetManifest(context.Background(), "library/alpine", "3.20"); err != nil {
				t.Fatalf("GetManifest: %v", err)
			}

			if got := sleeps.recorded(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("waits %v, want [%s]", got, tt.want)
			}
		})
	}
}

func TestAbuseLimitHoldsEveryRequest(t *testing.T) {
	clock := newFakeClock()
	hub, std := startRetryHub(t, clock)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultAbuse, Target: hubsim.TargetManifests, Repo: std.Alpine.Repo, Count: 1})
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	reg := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries))

	// A GET, because the abuse limit is recognised by its short body, which
	// a HEAD response cannot carry.
	if _, err := reg.GetManifest(context.Background(), std.Alpine.Repo, std.Alpine.Tag); err != nil {
		t.Fatalf("GET after one abuse-limit 429: %v", err)
	}
	if got := sleeps.recorded(); len(got) != 1 || got[0] != DefaultAbuseBackoff {
		t.Fatalf("waits %v, want one of %s", got, DefaultAbuseBackoff)
	}

	// A second 429 holds the whole upstream: a request for another
	// repository, which never got a 429, waits for the hold too.
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultAbuse, Target: hubsim.TargetManifests, Repo: std.Alpine.Repo, Count: 1})
	noRetry := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries), func(o *Options) { o.Retry.MaxAttempts = 1 })
	if _, err := noRetry.GetManifest(context.Background(), std.Alpine.Repo, std.Alpine.Tag); KindOf(err) != KindAbuseLimit {
		t.Fatalf("GET with retries off = %v, want the abuse limit", err)
	}
	clock.Advance(time.Second)
	before := len(sleeps.recorded())
	if _, err := noRetry.HeadManifest(context.Background(), std.Moving.Repo, "v1"); err != nil {
		t.Fatalf("HEAD of another repository: %v", err)
	}
	waits := sleeps.recorded()[before:]
	if len(waits) != 1 || waits[0] != DefaultAbuseBackoff-time.Second {
		t.Errorf("the other repository's request waited %v, want [%s]", waits, DefaultAbuseBackoff-time.Second)
	}
}

func TestLongAbuseHoldFailsFast(t *testing.T) {
	clock := newFakeClock()
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	var mu sync.Mutex
	requests := 0
	srv := startServer(t, registryIP, pingOK(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "Too Many Requests (HAP429)")
	})))
	reg := newTestRegistry(t, srv.URL, withRecordedSleep(sleeps, &retries))

	_, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")
	requireKind(t, err, KindAbuseLimit)
	_, err = reg.HeadManifest(context.Background(), "library/busybox", "latest")
	e := requireKind(t, err, KindAbuseLimit)

	if e.RetryAfter != time.Minute {
		t.Errorf("held request RetryAfter = %s, want 1m", e.RetryAfter)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 1 {
		t.Errorf("upstream saw %d requests, want 1: the second must fail while the hold lasts", requests)
	}
	if len(sleeps.recorded()) != 0 {
		t.Errorf("waits %v, want none", sleeps.recorded())
	}
}

func TestBrokenBodyNotRetried(t *testing.T) {
	clock := newFakeClock()
	hub, std := startRetryHub(t, clock)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultTruncate, Target: hubsim.TargetBlobs})
	sleeps := &sleepRecorder{clock: clock}
	var retries []RetryInfo
	reg := newTestRegistry(t, hub.URL(), withRecordedSleep(sleeps, &retries))
	layer := std.Alpine.Layers[0]

	body, _, err := reg.GetBlob(context.Background(), std.Alpine.Repo, layer.Digest)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	_, readErr := io.ReadAll(body)
	body.Close()

	requireKind(t, readErr, KindUnavailable)
	if n := hub.Stats().BlobGets; n != 1 {
		t.Errorf("hubsim saw %d blob GETs, want 1: a body already handed over is not fetched again", n)
	}
	if len(retries) != 0 {
		t.Errorf("retry events %+v, want none", retries)
	}
}

package status

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/testclock"
	"github.com/pullcache/pullcache/internal/upstream"
)

// run is one process's metrics, fed by hand.
type run struct {
	t       *testing.T
	metrics *metrics.Metrics
	client  http.Handler
	quota   upstream.RateLimit
}

func newRun(t *testing.T, clock *testclock.Clock) *run {
	r := &run{t: t, metrics: metrics.New()}
	r.client = r.metrics.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		metrics.NoteUpstream(req.Context(), "docker.io")
		w.Header().Set("X-Cache-Status", req.Header.Get("Want-Status"))
		w.Write([]byte("{}"))
	}))
	r.metrics.WatchRateLimit("docker.io", func() (upstream.RateLimit, bool) { return r.quota, r.quota.Limit > 0 })
	return r
}

// pull records a client manifest GET answered with cacheStatus; a MISS
// also records the upstream manifest GET it cost.
func (r *run) pull(cacheStatus string, remaining int, now time.Time) {
	req := httptest.NewRequest(http.MethodGet, "/v2/library/alpine/manifests/3.20", nil)
	req.Header.Set("Want-Status", cacheStatus)
	r.client.ServeHTTP(httptest.NewRecorder(), req)
	if cacheStatus == "MISS" {
		r.metrics.UpstreamObserver("docker.io")(upstream.ResponseInfo{Method: http.MethodGet, Kind: "manifest", Status: http.StatusOK})
	}
	r.quota = upstream.RateLimit{Limit: 100, Remaining: remaining, Window: 6 * time.Hour, Source: "127.0.0.1", Seen: now}
}

func TestHistorySurvivesRestart(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	upstreams := []string{"docker.io", "ghcr.io"}

	first := newRun(t, clock)
	s1 := New(Options{Metrics: first.metrics, Store: store, Upstreams: upstreams, Clock: clock.Now})
	if err := s1.Load(ctx); err != nil {
		t.Fatalf("load empty history: %v", err)
	}
	first.pull("MISS", 99, clock.Now())
	first.pull("HIT", 99, clock.Now())
	first.pull("HIT", 99, clock.Now())
	clock.Advance(time.Hour)
	if err := s1.Sample(ctx); err != nil {
		t.Fatalf("sample: %v", err)
	}

	// A new process: fresh counters, the stored history.
	clock.Advance(time.Hour)
	second := newRun(t, clock)
	recent := logging.NewRecent(5)
	log := logging.New(&strings.Builder{}, logging.Options{Recent: recent})
	log.Warn("serving stored manifest because upstream failed", "upstream", "docker.io", "err", "upstream 503 <b>")
	s2 := New(Options{Metrics: second.metrics, Store: store, Upstreams: upstreams, Clock: clock.Now, Recent: recent, Version: "test"})
	if err := s2.Load(ctx); err != nil {
		t.Fatalf("load history: %v", err)
	}
	second.pull("MISS", 98, clock.Now())
	second.pull("REVALIDATED", 98, clock.Now())

	report, err := s2.Report()
	if err != nil {
		t.Fatal(err)
	}
	hub := report.Upstreams[0]
	if hub.Name != "docker.io" || hub.PullsAnswered != 5 || hub.PullsSpent != 2 || hub.PullsSaved != 3 {
		t.Errorf("docker.io report %+v, want 5 answered, 2 spent, 3 saved across both runs", hub)
	}
	if len(hub.History) != 2 || hub.History[0].Remaining != 99 || hub.History[1].Remaining != 98 {
		t.Errorf("docker.io history %+v, want the stored point (99 left) and now (98 left)", hub.History)
	}
	if report.Upstreams[1].Name != "ghcr.io" || report.Upstreams[1].RateLimit != nil {
		t.Errorf("ghcr.io report %+v, want no rate limit", report.Upstreams[1])
	}
	if report.HitRatio != 0.5 {
		t.Errorf("hit ratio %v, want 0.5 (this run: one MISS, one REVALIDATED)", report.HitRatio)
	}

	// The page shows the same numbers and loads nothing from elsewhere.
	rec := httptest.NewRecorder()
	s2.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.String()
	for id, want := range map[string]string{
		"docker.io-answered":  "5",
		"docker.io-spent":     "2",
		"docker.io-remaining": "98",
		"docker.io-limit":     "100",
		"hit-ratio":           "50.0%",
		"requests-MISS":       "1",
	} {
		if got := textOf(page, id); got != want {
			t.Errorf("page #%s = %q, want %q", id, got, want)
		}
	}
	for _, banned := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q; it must load nothing", banned)
		}
	}
	if !strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, "<polyline") {
		t.Errorf("page lacks its refresh or its chart lines")
	}
	if !strings.Contains(page, "upstream 503 &lt;b&gt;") {
		t.Errorf("page does not list the warning, escaped")
	}

	rec = httptest.NewRecorder()
	s2.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status.json", nil))
	var decoded Report
	if err := json.Unmarshal(rec.Body.Bytes(), &decoded); err != nil {
		t.Fatalf("/status.json: %v", err)
	}
	if decoded.Upstreams[0].PullsSaved != 3 || len(decoded.Errors) != 1 {
		t.Errorf("/status.json %+v, want 3 pulls saved and one warning", decoded)
	}
}

func TestHistoryKeepsOneDay(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(t, clock)
	s := New(Options{Metrics: r.metrics, Store: store, Upstreams: []string{"docker.io"}, Clock: clock.Now})
	for range 30 {
		if err := s.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
	points := s.history.points("docker.io")
	if len(points) != 25 {
		t.Errorf("%d points kept, want 25 (one an hour over 24 hours, both ends)", len(points))
	}
}

// textOf returns the text of the element with the given id, tags removed.
func textOf(page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

package metrics_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/server"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/testclock"
	"github.com/pullcache/pullcache/internal/testlog"
	"github.com/pullcache/pullcache/internal/upstream"
)

const tagTTL = 5 * time.Minute

// stack is a mirror wired as the serve command wires it, metrics
// included, in front of a hubsim, with one test clock for both.
type stack struct {
	t       *testing.T
	logs    *syncBuffer
	clock   *testclock.Clock
	hub     *hubsim.Hub
	std     hubsim.Standard
	store   *fs.FS
	metrics *metrics.Metrics
	srv     *httptest.Server
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, clock: testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), metrics: metrics.New(), logs: &syncBuffer{}}
	log := logging.New(s.logs, logging.Options{Format: "json", Clock: s.clock.Now})

	s.hub = hubsim.New(hubsim.Options{Clock: s.clock.Now})
	if err := s.hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(s.hub.Close)
	s.std = s.hub.SeedStandard(0)

	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	s.store = store

	client, err := upstream.New(upstream.Options{
		Name:            "docker.io",
		URL:             s.hub.URL(),
		ConnectTimeout:  5 * time.Second,
		IdleReadTimeout: 5 * time.Second,
		Clock:           s.clock.Now,
		OnResponse:      s.metrics.UpstreamObserver("docker.io"),
		OnBody:          s.metrics.BodyObserver("docker.io"),
	})
	if err != nil {
		t.Fatalf("create upstream client: %v", err)
	}
	s.metrics.WatchRateLimit("docker.io", client.RateLimit)

	c, err := cache.New(cache.Options{
		Store:       store,
		SpoolDir:    filepath.Join(store.Root(), ".tmp"),
		Remotes:     map[string]cache.Remote{"docker.io": {Client: client, TagTTL: tagTTL}},
		Logger:      log,
		Clock:       s.clock.Now,
		OnCoalesced: s.metrics.Coalesced,
	})
	if err != nil {
		t.Fatalf("create cache: %v", err)
	}
	handler := server.New(server.Options{Cache: c, Upstreams: []server.Upstream{{Name: "docker.io", Default: true, DockerHub: true}}, Logger: log})
	s.srv = httptest.NewServer(s.metrics.Middleware(handler))
	t.Cleanup(s.srv.Close)
	return s
}

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	testlog.Buffer
}

// records returns the JSON log records whose msg is msg.
func (b *syncBuffer) records(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split(b.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// do sends one request to the mirror and reads the body to its end.
func (s *stack) do(method, path string) (status int, cacheStatus string, body []byte) {
	status, cacheStatus, body, _ = s.doWithID(method, path)
	return status, cacheStatus, body
}

// doWithID is do that also returns the X-Request-Id header.
func (s *stack) doWithID(method, path string) (status int, cacheStatus string, body []byte, requestID string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatalf("build request: %v", err)
	}
	req.Header.Set("Accept", hubsim.AllManifestTypes)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Cache-Status"), body, resp.Header.Get("X-Request-Id")
}

// expect sends one request and checks its status and X-Cache-Status.
func (s *stack) expect(method, path string, wantStatus int, wantCache string) []byte {
	s.t.Helper()
	status, cacheStatus, body := s.do(method, path)
	if status != wantStatus || cacheStatus != wantCache {
		s.t.Fatalf("%s %s = %d %q, want %d %q (body %.200s)", method, path, status, cacheStatus, wantStatus, wantCache, body)
	}
	return body
}

// value sums the samples of the metric family name whose labels include
// every pair of match: counters, gauges, and histograms (sample count).
func value(t *testing.T, m *metrics.Metrics, name string, match map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			if !labelsMatch(metric, match) {
				continue
			}
			switch {
			case metric.Counter != nil:
				sum += metric.GetCounter().GetValue()
			case metric.Gauge != nil:
				sum += metric.GetGauge().GetValue()
			case metric.Histogram != nil:
				sum += float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func labelsMatch(metric *dto.Metric, match map[string]string) bool {
	found := 0
	for _, lp := range metric.GetLabel() {
		if want, ok := match[lp.GetName()]; ok {
			if want != lp.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(match)
}

func labels(pairs ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

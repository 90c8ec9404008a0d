package status

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/testclock"
)

// storedKeys returns the keys under status/ in store, sorted.
func storedKeys(t *testing.T, store storage.Store) []string {
	t.Helper()
	var keys []string
	err := store.Walk(context.Background(), "status/", func(key string, _ storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("walk status/: %v", err)
	}
	slices.Sort(keys)
	return keys
}

func TestSharedStoreKeepsHistoryPerReplica(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	upstreams := []string{"docker.io"}

	// Two replicas on one store: a pulls three times, b once.
	runA, runB := newRun(t, clock), newRun(t, clock)
	a := New(Options{Metrics: runA.metrics, Store: store, Shared: true, Replica: "pullcache-0", Upstreams: upstreams, Clock: clock.Now})
	b := New(Options{Metrics: runB.metrics, Store: store, Shared: true, Replica: "pullcache-1", Upstreams: upstreams, Clock: clock.Now})
	for _, s := range []*Status{a, b} {
		if err := s.Load(ctx); err != nil {
			t.Fatalf("load empty history: %v", err)
		}
	}
	runA.pull("MISS", 99, clock.Now())
	runA.pull("HIT", 99, clock.Now())
	runA.pull("HIT", 99, clock.Now())
	runB.pull("MISS", 98, clock.Now())
	clock.Advance(time.Hour)
	if err := a.Sample(ctx); err != nil {
		t.Fatalf("sample pullcache-0: %v", err)
	}
	if err := b.Sample(ctx); err != nil {
		t.Fatalf("sample pullcache-1: %v", err)
	}

	keys := storedKeys(t, store)
	want := []string{"status/replicas/pullcache-0/history.json", "status/replicas/pullcache-1/history.json"}
	if !slices.Equal(keys, want) {
		t.Errorf("stored status keys %q, want %q", keys, want)
	}

	// pullcache-0 restarts after pullcache-1 saved last: it must read its
	// own totals back, not those of pullcache-1.
	clock.Advance(time.Hour)
	restarted := New(Options{Metrics: newRun(t, clock).metrics, Store: store, Shared: true, Replica: "pullcache-0", Upstreams: upstreams, Clock: clock.Now})
	if err := restarted.Load(ctx); err != nil {
		t.Fatalf("load pullcache-0 history: %v", err)
	}
	report, err := restarted.Report()
	if err != nil {
		t.Fatal(err)
	}
	hub := report.Upstreams[0]
	if hub.PullsAnswered != 3 {
		t.Errorf("pullcache-0 pulls answered %v after restart, want 3 (its own)", hub.PullsAnswered)
	}
	if hub.PullsSpent != 1 {
		t.Errorf("pullcache-0 pulls spent %v after restart, want 1 (its own)", hub.PullsSpent)
	}
	if report.Replica != "pullcache-0" {
		t.Errorf("report replica %q, want pullcache-0", report.Replica)
	}

	rec := httptest.NewRecorder()
	restarted.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), "replica pullcache-0") {
		t.Errorf("status page does not name the replica")
	}

	// A replica with a new name starts a new history.
	renamed := New(Options{Metrics: newRun(t, clock).metrics, Store: store, Shared: true, Replica: "pullcache-7f9c", Upstreams: upstreams, Clock: clock.Now})
	if err := renamed.Load(ctx); err != nil {
		t.Fatalf("load new replica's history: %v", err)
	}
	report, err = renamed.Report()
	if err != nil {
		t.Fatal(err)
	}
	if report.Upstreams[0].PullsAnswered != 0 {
		t.Errorf("new replica pulls answered %v, want 0", report.Upstreams[0].PullsAnswered)
	}
}

func TestSharedStoreDefaultsToHostname(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := New(Options{Metrics: newRun(t, clock).metrics, Store: store, Shared: true, Upstreams: []string{"docker.io"}, Clock: clock.Now})
	if err := s.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := storedKeys(t, store)
	want := "status/replicas/" + hostname + "/history.json"
	if len(keys) != 1 || keys[0] != want {
		t.Errorf("stored status keys %q, want [%s]", keys, want)
	}
}

func TestOwnStoreKeepsOneHistory(t *testing.T) {
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := New(Options{Metrics: newRun(t, clock).metrics, Store: store, Upstreams: []string{"docker.io"}, Clock: clock.Now})
	if err := s.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := storedKeys(t, store)
	if len(keys) != 1 || keys[0] != HistoryKey {
		t.Errorf("stored status keys %q, want [%s]", keys, HistoryKey)
	}
}

func TestInvalidReplicaNameKeepsHistoryInMemory(t *testing.T) {
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := New(Options{Metrics: newRun(t, clock).metrics, Store: store, Shared: true, Replica: "../history", Upstreams: []string{"docker.io"}, Clock: clock.Now})
	if err := s.Load(context.Background()); err == nil {
		t.Errorf("load with replica name ../history succeeded, want an error")
	}
	if err := s.Sample(context.Background()); err != nil {
		t.Fatalf("sample: %v", err)
	}
	if keys := storedKeys(t, store); len(keys) != 0 {
		t.Errorf("stored status keys %q, want none", keys)
	}
}

func TestReplicaHistoryKeyRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "-x", "a b", strings.Repeat("a", 254)} {
		if key, err := ReplicaHistoryKey(name); err == nil {
			t.Errorf("ReplicaHistoryKey(%q) = %q, want an error", name, key)
		}
	}
	if key, err := ReplicaHistoryKey("pullcache-5d8f7c-x2x9q"); err != nil || key != "status/replicas/pullcache-5d8f7c-x2x9q/history.json" {
		t.Errorf("ReplicaHistoryKey(pod name) = %q, %v", key, err)
	}
}

package status

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/testclock"
)

// The store card shows when the store was last measured, because the size
// is sampled and may lag behind what was just stored.
func TestPageShowsStoreSampleTime(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(t, clock)
	s := New(Options{Metrics: r.metrics, Store: store, Upstreams: []string{"docker.io"}, Clock: clock.Now})

	storeCard := func() string {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		body, _ := io.ReadAll(rec.Body)
		page := string(body)
		start := strings.Index(page, `id="store-bytes"`)
		if start < 0 {
			t.Fatalf("no store card in the page:\n%s", page)
		}
		end := strings.Index(page[start:], "</dd>")
		return page[start : start+end]
	}

	if card := storeCard(); !strings.Contains(card, "not measured yet") {
		t.Errorf("store card before the first sample = %q, want it to say not measured yet", card)
	}

	if err := storage.PutBytes(context.Background(), store, "blobs/sha256/aa", []byte("content")); err != nil {
		t.Fatal(err)
	}
	if err := r.metrics.SampleStore(context.Background(), store, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if card := storeCard(); !strings.Contains(card, "measured 2026-03-02 09:00:00 UTC") {
		t.Errorf("store card after a sample at 09:00 = %q, want the sample time", card)
	}
}

package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/testclock"
	"github.com/pullcache/pullcache/internal/testlog"
)

// toggledFullStore fails every write with ENOSPC while full is set.
type toggledFullStore struct {
	storage.Store
	full atomic.Bool
}

func (s *toggledFullStore) Create(ctx context.Context, key string) (storage.Writer, error) {
	if s.full.Load() {
		return nil, &writeError{key}
	}
	return s.Store.Create(ctx, key)
}

type writeError struct{ key string }

func (e *writeError) Error() string { return "create " + e.key + ": " + syscall.ENOSPC.Error() }
func (e *writeError) Unwrap() error { return syscall.ENOSPC }

// countingObserver records failed writes by kind.
type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *countingObserver) StoreWriteFailed(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = make(map[string]int)
	}
	o.counts[kind]++
}

func (o *countingObserver) count(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[kind]
}

func TestManifestBypassOnFullStore(t *testing.T) {
	observer := &countingObserver{}
	logs := &testlog.Buffer{}
	f := newFixture(t, time.Minute, func(o *Options) {
		o.WriteErrors = observer
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	store := &toggledFullStore{Store: f.store}
	store.full.Store(true)
	f.cache.store = store
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))

	res := f.get(t, "v1")
	if res.Status != StatusBypass || res.Digest != d {
		t.Errorf("GET v1 on a full store: status %s, digest %s; want BYPASS and %s", res.Status, res.Digest, d)
	}
	if _, err := f.store.Stat(context.Background(), manifestKey(d)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("manifest stored although every write failed: %v", err)
	}
	if _, found, _ := f.cache.loadTag(context.Background(), testUpstream, testRepo, "v1"); found {
		t.Errorf("tag stored although its manifest was not")
	}
	if got := observer.count("manifest"); got != 1 {
		t.Errorf("observer counted %d failed manifest writes, want 1", got)
	}
	if !strings.Contains(logs.String(), "store write failed") {
		t.Errorf("log does not report the failed write:\n%s", logs.String())
	}

	res = f.get(t, "v1")
	if res.Status != StatusBypass {
		t.Errorf("second GET v1 on a full store: status %s, want BYPASS", res.Status)
	}
	if got := f.up.count("GetManifest"); got != 2 {
		t.Errorf("upstream manifest GETs = %d, want 2 (nothing stored in between)", got)
	}

	store.full.Store(false)
	if res := f.get(t, "v1"); res.Status != StatusMiss {
		t.Errorf("GET v1 after space returned: status %s, want MISS", res.Status)
	}
	if res := f.get(t, "v1"); res.Status != StatusHit {
		t.Errorf("GET v1 once stored: status %s, want HIT", res.Status)
	}
	if !strings.Contains(logs.String(), "storing resumed") {
		t.Errorf("log does not report that storing resumed:\n%s", logs.String())
	}
}

func TestWriteFailuresLoggedOncePerInterval(t *testing.T) {
	logs := &testlog.Buffer{}
	clock := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	observer := &countingObserver{}
	w := &writeFailures{log: slog.New(slog.NewTextHandler(logs, nil)), observer: observer, now: clock.Now}

	for range 3 {
		w.failed(context.Background(), "blob", "blobs/sha256/ab", syscall.ENOSPC)
	}
	if got := strings.Count(logs.String(), "store write failed"); got != 1 {
		t.Errorf("3 failures within a minute logged %d lines, want 1", got)
	}
	clock.Advance(writeFailureLogInterval)
	w.failed(context.Background(), "blob", "blobs/sha256/ab", syscall.ENOSPC)
	if got := strings.Count(logs.String(), "store write failed"); got != 2 {
		t.Errorf("a failure a minute later: %d lines in all, want 2", got)
	}
	if !strings.Contains(logs.String(), "failures_not_logged=2") {
		t.Errorf("second line does not count the 2 failures not logged:\n%s", logs.String())
	}
	if got := observer.count("blob"); got != 4 {
		t.Errorf("observer counted %d failures, want every one of 4", got)
	}

	w.succeeded()
	w.succeeded()
	if got := strings.Count(logs.String(), "storing resumed"); got != 1 {
		t.Errorf("two successes after failures logged %d resume lines, want 1", got)
	}
}

func TestBypassBlobStreamsWithoutStoring(t *testing.T) {
	f := newFixture(t, time.Minute)
	data := bytes.Repeat([]byte("bypass"), 100_000)
	d := f.up.putBlob(data)

	blob, err := f.cache.bypassBlob(context.Background(), f.cache.remotes[testUpstream], testRepo, d)
	if err != nil {
		t.Fatalf("bypassBlob: %v", err)
	}
	if blob.Status != StatusBypass || blob.Size != int64(len(data)) {
		t.Errorf("bypassed blob: status %s, size %d; want BYPASS and %d", blob.Status, blob.Size, len(data))
	}
	got, err := readBlob(t, blob, 10)
	if err != nil || !bytes.Equal(got, data[10:]) {
		t.Errorf("read from offset 10: %d bytes, %v; want the %d bytes after it", len(got), err, len(data)-10)
	}
	if _, err := blob.Open(context.Background(), 0); err == nil {
		t.Errorf("a second Open of a bypassed blob succeeded, want an error: its body is read once")
	}
	blob.Close()
	if n := len(f.cache.fetchSlots); n != 0 {
		t.Errorf("%d upstream transfer slots still taken after Close, want 0", n)
	}
	if _, err := f.store.Stat(context.Background(), blobKey(d)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("bypassed blob was stored: %v", err)
	}
}

func TestVerifyingReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	good := digest.FromBytes(data)
	other := digest.FromString("other bytes")
	tests := []struct {
		name    string
		want    digest.Digest
		size    int64
		skip    int64
		wantErr error
	}{
		{"whole blob", good, int64(len(data)), 0, nil},
		{"from an offset", good, int64(len(data)), 12_345, nil},
		{"unknown size", good, -1, 7, nil},
		{"wrong digest", other, int64(len(data)), 0, ErrDigestMismatch},
		{"short body", good, int64(len(data)) + 1, 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &verifyingReader{body: bytes.NewReader(data), hasher: tt.want.Algorithm().Hash(), want: tt.want, size: tt.size, skip: tt.skip, upstream: testUpstream}
			got, err := io.ReadAll(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if len(got) >= len(data) {
					t.Errorf("%d bytes delivered before the error, want the last byte held back", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data[tt.skip:]) {
				t.Errorf("read %d bytes, want the %d bytes from offset %d", len(got), len(data)-int(tt.skip), tt.skip)
			}
		})
	}
}

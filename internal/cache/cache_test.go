package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/testclock"
	"github.com/pullcache/pullcache/internal/upstream"
)

const (
	testUpstream  = "docker.io"
	testRepo      = "library/demo"
	mediaTypeOCI  = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

type fixture struct {
	cache *Cache
	up    *fakeUpstream
	store *fs.FS
	clock *testclock.Clock
}

func newFixture(t testing.TB, ttl time.Duration, modify ...func(*Options)) *fixture {
	t.Helper()
	root := t.TempDir()
	store, err := fs.New(root, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	up := newFakeUpstream(testUpstream)
	clock := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	opts := Options{
		Store:    store,
		SpoolDir: filepath.Join(root, ".tmp"),
		Remotes:  map[string]Remote{testUpstream: {Client: up, TagTTL: ttl}},
		Clock:    clock.Now,
	}
	for _, m := range modify {
		m(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("new cache: %v", err)
	}
	return &fixture{cache: c, up: up, store: store, clock: clock}
}

func manifestBody(n int) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"size":%d},"layers":[]}`, mediaTypeOCI, n))
}

func (f *fixture) get(t *testing.T, ref string) ManifestResult {
	t.Helper()
	res, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, ref)
	if err != nil {
		t.Fatalf("GetManifest %s: %v", ref, err)
	}
	return res
}

func quotaErr() error {
	return &upstream.Error{Upstream: testUpstream, Kind: upstream.KindQuota, Status: 429, Code: "TOOMANYREQUESTS", RetryAfter: time.Minute}
}

func unavailableErr() error {
	return &upstream.Error{Upstream: testUpstream, Kind: upstream.KindUnavailable, Err: errors.New("connection refused")}
}

func TestTagMissThenHitWithinTTL(t *testing.T) {
	f := newFixture(t, 5*time.Minute)
	d := f.up.putManifest(testRepo, "latest", mediaTypeOCI, manifestBody(1))

	first := f.get(t, "latest")
	if first.Status != StatusMiss || first.Digest != d {
		t.Fatalf("first pull: status %s digest %s, want MISS %s", first.Status, first.Digest, d)
	}

	f.clock.Advance(time.Minute)
	second := f.get(t, "latest")
	if second.Status != StatusHit {
		t.Errorf("second pull status = %s, want HIT", second.Status)
	}
	if !bytes.Equal(second.Body, first.Body) {
		t.Errorf("second pull body differs from the first")
	}
	if n := f.up.count("GetManifest") + f.up.count("HeadManifest"); n != 1 {
		t.Errorf("upstream manifest requests = %d, want 1", n)
	}
}

func TestTagRevalidatedWithHeadOnly(t *testing.T) {
	f := newFixture(t, 0)
	f.up.putManifest(testRepo, "latest", mediaTypeOCI, manifestBody(1))
	f.get(t, "latest")

	for i := range 20 {
		res := f.get(t, "latest")
		if res.Status != StatusRevalidated {
			t.Fatalf("pull %d status = %s, want REVALIDATED", i, res.Status)
		}
	}
	if n := f.up.count("GetManifest"); n != 1 {
		t.Errorf("upstream manifest GETs = %d, want 1", n)
	}
	if n := f.up.count("HeadManifest"); n != 20 {
		t.Errorf("upstream manifest HEADs = %d, want 20", n)
	}
}

func TestMovedTagFetchesNewDigest(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	old := f.get(t, "v1")

	moved := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(2))
	f.clock.Advance(2 * time.Minute)

	res := f.get(t, "v1")
	if res.Status != StatusMiss || res.Digest != moved {
		t.Fatalf("after move: status %s digest %s, want MISS %s", res.Status, res.Digest, moved)
	}
	byDigest := f.get(t, old.Digest.String())
	if byDigest.Status != StatusHit {
		t.Errorf("old digest status = %s, want HIT (still stored)", byDigest.Status)
	}
}

func TestStaleOnUpstreamFailure(t *testing.T) {
	tests := []struct {
		name   string
		method string
		err    error
		move   bool
	}{
		{"quota on HEAD", "HeadManifest", quotaErr(), false},
		{"unavailable on HEAD", "HeadManifest", unavailableErr(), false},
		{"denied on HEAD", "HeadManifest", &upstream.Error{Upstream: testUpstream, Kind: upstream.KindDenied, Status: 401}, false},
		{"credentials rejected", "HeadManifest", &upstream.Error{Upstream: testUpstream, Kind: upstream.KindCredentialsRejected, Status: 401}, false},
		{"quota on GET of a moved tag", "GetManifest", quotaErr(), true},
		{"unavailable on GET of a moved tag", "GetManifest", unavailableErr(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, time.Minute, func(o *Options) { o.UpstreamAuthoritative = true })
			stored := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
			f.get(t, "v1")
			if tt.move {
				f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(2))
			}
			f.up.setErr(tt.method, tt.err)
			f.clock.Advance(2 * time.Minute)

			for round := range 2 {
				res := f.get(t, "v1")
				if res.Status != StatusStale {
					t.Fatalf("round %d status = %s, want STALE", round, res.Status)
				}
				if res.Digest != stored {
					t.Errorf("round %d digest = %s, want the stored %s", round, res.Digest, stored)
				}
				if res.UpstreamErr == nil {
					t.Errorf("round %d: STALE answer carries no upstream error", round)
				}
			}
		})
	}
}

func TestBreakerSkipsUpstreamWhileOpen(t *testing.T) {
	f := newFixture(t, 0)
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	f.get(t, "v1")
	f.up.setErr("HeadManifest", unavailableErr())

	f.get(t, "v1")
	heads := f.up.count("HeadManifest")
	for range 5 {
		if res := f.get(t, "v1"); res.Status != StatusStale {
			t.Fatalf("status = %s, want STALE", res.Status)
		}
	}
	if got := f.up.count("HeadManifest"); got != heads {
		t.Errorf("upstream HEADs while the breaker is open = %d, want %d", got, heads)
	}

	f.clock.Advance(breakerMaxBackoff)
	f.up.setErr("HeadManifest", nil)
	if res := f.get(t, "v1"); res.Status != StatusRevalidated {
		t.Errorf("after the back-off status = %s, want REVALIDATED", res.Status)
	}
}

func TestDeletedTagPolicy(t *testing.T) {
	for _, authoritative := range []bool{false, true} {
		t.Run(fmt.Sprintf("authoritative=%v", authoritative), func(t *testing.T) {
			f := newFixture(t, time.Minute, func(o *Options) { o.UpstreamAuthoritative = authoritative })
			f.up.putManifest(testRepo, "rc-42", mediaTypeOCI, manifestBody(1))
			f.get(t, "rc-42")
			f.up.setErr("HeadManifest", f.up.notFound())
			f.up.setErr("GetManifest", f.up.notFound())
			f.clock.Advance(2 * time.Minute)

			for round := range 2 {
				res, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, "rc-42")
				if authoritative {
					if !errors.Is(err, ErrManifestUnknown) {
						t.Fatalf("round %d: err = %v, want ErrManifestUnknown", round, err)
					}
					continue
				}
				if err != nil || res.Status != StatusStale {
					t.Fatalf("round %d: status %s err %v, want STALE", round, res.Status, err)
				}
			}
		})
	}
}

func TestDigestManifestNeverRefetched(t *testing.T) {
	f := newFixture(t, 0)
	d := f.up.putManifest(testRepo, "", mediaTypeOCI, manifestBody(7))

	if res := f.get(t, d.String()); res.Status != StatusMiss {
		t.Fatalf("first status = %s, want MISS", res.Status)
	}
	f.up.setErr("GetManifest", unavailableErr())
	f.up.setErr("HeadManifest", unavailableErr())
	f.clock.Advance(24 * time.Hour)
	if res := f.get(t, d.String()); res.Status != StatusHit {
		t.Errorf("second status = %s, want HIT", res.Status)
	}
	if n := f.up.count("GetManifest"); n != 1 {
		t.Errorf("upstream GETs = %d, want 1", n)
	}
}

func TestMissingContentErrors(t *testing.T) {
	f := newFixture(t, time.Minute)
	_, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, "nope")
	if !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("unknown tag: err = %v, want ErrManifestUnknown", err)
	}

	f.up.setErr("GetManifest", quotaErr())
	_, err = f.cache.GetManifest(context.Background(), testUpstream, testRepo, "other")
	var upErr *upstream.Error
	if !errors.As(err, &upErr) || upErr.Kind != upstream.KindQuota {
		t.Errorf("quota with nothing stored: err = %v, want the upstream quota error", err)
	}
}

func TestQuotaReserveHoldsBackGet(t *testing.T) {
	f := newFixture(t, time.Minute, func(o *Options) {
		r := o.Remotes[testUpstream]
		r.QuotaReserve = 5
		o.Remotes[testUpstream] = r
	})
	stored := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	f.get(t, "v1")
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(2))
	f.up.rateLimit = &upstream.RateLimit{Limit: 100, Remaining: 5, Window: 6 * time.Hour}
	f.clock.Advance(2 * time.Minute)

	res := f.get(t, "v1")
	if res.Status != StatusStale || res.Digest != stored {
		t.Errorf("status %s digest %s, want STALE %s", res.Status, res.Digest, stored)
	}
	if n := f.up.count("GetManifest"); n != 1 {
		t.Errorf("upstream GETs = %d, want 1 (the reserve must hold back the second)", n)
	}
}

func TestHeadOfUnstoredTagStoresNothing(t *testing.T) {
	f := newFixture(t, time.Minute)
	d := f.up.putManifest(testRepo, "latest", mediaTypeOCI, manifestBody(1))

	res, err := f.cache.HeadManifest(context.Background(), testUpstream, testRepo, "latest")
	if err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	if res.Digest != d || res.MediaType != mediaTypeOCI || res.Status != StatusMiss {
		t.Errorf("HEAD result %+v, want digest %s and media type %s, MISS", res, d, mediaTypeOCI)
	}
	if n := f.up.count("GetManifest"); n != 0 {
		t.Errorf("upstream GETs = %d, want 0", n)
	}
	if _, found, _ := f.cache.loadTag(context.Background(), testUpstream, testRepo, "latest"); found {
		t.Errorf("a HEAD stored the tag")
	}
}

func TestHeadWithoutDigestRevalidatesWithGet(t *testing.T) {
	f := newFixture(t, 0)
	f.up.noDigest = true
	f.up.putManifest(testRepo, "9", mediaTypeOCI, manifestBody(1))

	res, err := f.cache.HeadManifest(context.Background(), testUpstream, testRepo, "9")
	if err != nil || res.Digest == "" {
		t.Fatalf("cold HEAD: %+v, %v; want a computed digest", res, err)
	}
	moved := f.up.putManifest(testRepo, "9", mediaTypeOCI, manifestBody(2))
	if res := f.get(t, "9"); res.Digest != moved || res.Status != StatusMiss {
		t.Errorf("after move: %s %s, want MISS %s", res.Status, res.Digest, moved)
	}
	if res := f.get(t, "9"); res.Status != StatusRevalidated {
		t.Errorf("unchanged: status %s, want REVALIDATED", res.Status)
	}
}

func readBlob(t *testing.T, b *Blob, offset int64) ([]byte, error) {
	t.Helper()
	r, err := b.Open(context.Background(), offset)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestConcurrentBlobFetchCoalesces(t *testing.T) {
	f := newFixture(t, time.Minute)
	data := bytes.Repeat([]byte("pullcache"), 3<<20/9)
	d := f.up.putBlob(data)
	gate := make(chan struct{})
	f.up.blobGate = gate

	const clients = 16
	var wg sync.WaitGroup
	results := make([][]byte, clients)
	errs := make([]error, clients)
	started := make(chan struct{}, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
			started <- struct{}{}
			if err != nil {
				errs[i] = err
				return
			}
			defer blob.Close()
			results[i], errs[i] = readBlob(t, blob, 0)
		}()
	}
	for range clients {
		<-started
	}
	close(gate)
	wg.Wait()

	for i := range clients {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		if !bytes.Equal(results[i], data) {
			t.Fatalf("client %d received %d bytes that differ from the blob", i, len(results[i]))
		}
	}
	if n := f.up.count("GetBlob"); n != 1 {
		t.Errorf("upstream blob GETs = %d, want 1", n)
	}
	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err != nil || blob.Status != StatusHit {
		t.Fatalf("after the fetch: %v, status %v; want HIT", err, blob)
	}
	blob.Close()
}

func TestBadBlobNotStored(t *testing.T) {
	for _, fault := range []string{"corrupt", "truncate"} {
		t.Run(fault, func(t *testing.T) {
			f := newFixture(t, time.Minute)
			data := bytes.Repeat([]byte{7}, 1<<20)
			d := f.up.putBlob(data)
			f.up.corrupt = fault == "corrupt"
			f.up.truncate = fault == "truncate"

			// The failure shows when GetBlob returns if the whole bad body
			// arrived before the first byte was handed over. Otherwise it
			// shows while reading. It never shows as a complete blob.
			blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
			if err == nil {
				got, readErr := readBlob(t, blob, 0)
				blob.Close()
				if readErr == nil {
					t.Fatalf("reading a %s blob succeeded with %d bytes; want an error", fault, len(got))
				}
				if len(got) >= len(data) {
					t.Errorf("client received %d bytes, want fewer than %d (the last byte is held back)", len(got), len(data))
				}
			}
			waitFetchDone(t, f.cache, d)
			if _, err := f.store.Stat(context.Background(), blobKey(d)); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("blob stored after a %s transfer: %v", fault, err)
			}

			f.up.corrupt, f.up.truncate = false, false
			blob, err = f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			got, err := readBlob(t, blob, 0)
			blob.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("retry read: %d bytes, %v", len(got), err)
			}
		})
	}
}

func waitFetchDone(t *testing.T, c *Cache, d digest.Digest) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		_, busy := c.blobs[d]
		c.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fetch of %s did not end", d)
}

func TestBlobFetchOutlivesClient(t *testing.T) {
	f := newFixture(t, time.Minute)
	data := bytes.Repeat([]byte{1, 2, 3}, 1<<20)
	d := f.up.putBlob(data)
	gate := make(chan struct{})
	f.up.blobGate = gate

	ctx, cancel := context.WithCancel(context.Background())
	blob, err := f.cache.GetBlob(ctx, testUpstream, testRepo, d)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	cancel()
	blob.Close()
	close(gate)
	waitFetchDone(t, f.cache, d)

	info, err := f.store.Stat(context.Background(), blobKey(d))
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("stored blob: %+v, %v; want %d bytes", info, err, len(data))
	}
}

func TestInFlightRangeRead(t *testing.T) {
	f := newFixture(t, time.Minute)
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	d := f.up.putBlob(data)

	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	defer blob.Close()
	got, err := readBlob(t, blob, 1<<20)
	if err != nil || !bytes.Equal(got, data[1<<20:]) {
		t.Fatalf("read from offset: %d bytes, %v", len(got), err)
	}
}

func TestQueueFull(t *testing.T) {
	f := newFixture(t, time.Minute, func(o *Options) {
		o.MaxUpstreamFetches = 1
		o.FetchQueueWait = 50 * time.Millisecond
	})
	gate := make(chan struct{})
	defer close(gate)
	f.up.blobGate = gate
	first := f.up.putBlob([]byte("first blob"))
	second := f.up.putBlob([]byte("second blob"))

	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, first)
	if err != nil {
		t.Fatalf("first GetBlob: %v", err)
	}
	defer blob.Close()

	_, err = f.cache.GetBlob(context.Background(), testUpstream, testRepo, second)
	if !errors.Is(err, ErrQueueFull) {
		t.Errorf("second GetBlob err = %v, want ErrQueueFull", err)
	}
}

// fullStore is a fake store on a full disk: every Create fails.
type fullStore struct{ storage.Store }

func (fullStore) Create(context.Context, string) (storage.Writer, error) {
	return nil, errors.New("write: no space left on device")
}

func TestBlobBypassWhenStoreFull(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.cache.store = fullStore{f.store}
	data := bytes.Repeat([]byte{9}, 1<<20)
	d := f.up.putBlob(data)

	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	if blob.Status != StatusBypass {
		t.Errorf("status = %s, want BYPASS", blob.Status)
	}
	got, err := readBlob(t, blob, 0)
	blob.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("streamed blob: %d bytes, %v; want the whole blob", len(got), err)
	}
	waitFetchDone(t, f.cache, d)
	if _, err := f.store.Stat(context.Background(), blobKey(d)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("blob stored although every write failed: %v", err)
	}
}

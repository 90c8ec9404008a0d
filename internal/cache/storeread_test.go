package cache

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/testlog"
)

// errBucketUnreachable is the error of an S3 bucket that does not respond.
var errBucketUnreachable = errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")

// unreachableStore fails every read and write while down is set, as a
// store on an unreachable bucket does.
type unreachableStore struct {
	storage.Store
	down atomic.Bool
}

func (s *unreachableStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	if s.down.Load() {
		return storage.Info{}, errBucketUnreachable
	}
	return s.Store.Stat(ctx, key)
}

func (s *unreachableStore) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, storage.Info, error) {
	if s.down.Load() {
		return nil, storage.Info{}, errBucketUnreachable
	}
	return s.Store.Open(ctx, key, offset)
}

func (s *unreachableStore) Create(ctx context.Context, key string) (storage.Writer, error) {
	if s.down.Load() {
		return nil, errBucketUnreachable
	}
	return s.Store.Create(ctx, key)
}

func newUnreachableFixture(t *testing.T, logs *testlog.Buffer) (*fixture, *unreachableStore) {
	t.Helper()
	f := newFixture(t, time.Hour, func(o *Options) {
		o.Logger = logging.New(logs, logging.Options{})
	})
	store := &unreachableStore{Store: f.store}
	f.cache.store = store
	return f, store
}

func TestStoreReadErrorServesTagAsBypass(t *testing.T) {
	logs := &testlog.Buffer{}
	f, store := newUnreachableFixture(t, logs)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	store.down.Store(true)

	res := f.get(t, "v1")
	if res.Status != StatusBypass || res.Digest != d {
		t.Errorf("GET v1 with the store unreachable: status %s, digest %s; want BYPASS and %s", res.Status, res.Digest, d)
	}
	if string(res.Body) != string(manifestBody(1)) {
		t.Errorf("GET v1 with the store unreachable: body %q, want the upstream manifest", res.Body)
	}
	if !strings.Contains(logs.String(), "store read failed; serving from upstream without storing") {
		t.Errorf("log does not report the failed read:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log does not give the store's error:\n%s", logs.String())
	}
}

func TestStoreReadErrorServesDigestAsBypass(t *testing.T) {
	logs := &testlog.Buffer{}
	f, store := newUnreachableFixture(t, logs)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(2))
	store.down.Store(true)

	res := f.get(t, d.String())
	if res.Status != StatusBypass || res.Digest != d {
		t.Errorf("GET by digest with the store unreachable: status %s, digest %s; want BYPASS and %s", res.Status, res.Digest, d)
	}
}

func TestStoreReadErrorOnStoredTag(t *testing.T) {
	logs := &testlog.Buffer{}
	f, store := newUnreachableFixture(t, logs)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(3))
	if res := f.get(t, "v1"); res.Status != StatusMiss {
		t.Fatalf("first GET v1: status %s, want MISS", res.Status)
	}
	store.down.Store(true)

	res := f.get(t, "v1")
	if res.Status != StatusBypass || res.Digest != d {
		t.Errorf("GET of a stored tag with the store unreachable: status %s, digest %s; want BYPASS and %s", res.Status, res.Digest, d)
	}
	if got := f.up.count("GetManifest"); got != 2 {
		t.Errorf("upstream manifest GETs = %d, want 2 (the miss, then the bypass)", got)
	}
}

func TestStoreReadErrorKeepsCancellation(t *testing.T) {
	logs := &testlog.Buffer{}
	f, store := newUnreachableFixture(t, logs)
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(4))
	store.down.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := f.cache.GetManifest(ctx, testUpstream, testRepo, "v1"); err == nil {
		t.Errorf("GetManifest on a canceled request succeeded, want its error")
	}
	if got := f.up.count("GetManifest"); got != 0 {
		t.Errorf("a canceled request made %d upstream manifest GETs, want 0", got)
	}
}

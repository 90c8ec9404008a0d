package evict

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/s3"
	"github.com/pullcache/pullcache/internal/storage/s3/s3test"
	"github.com/pullcache/pullcache/internal/testclock"
)

// s3Stack is the stack of stack_test.go over an S3 store in versitygw:
// a hubsim, the store, a cache with an evictor and the registry API.
type s3Stack struct {
	hub     *hubsim.Hub
	std     hubsim.Standard
	store   *s3.Store
	evictor *Evictor
	url     string
}

// s3Bucket starts versitygw and creates a bucket in it.
func s3Bucket(t *testing.T) (*s3test.Gateway, string) {
	t.Helper()
	gw := s3test.Start(t)
	s3test.IsolateSDK(t)
	return gw, gw.CreateBucket(t)
}

// openS3 opens a store on the bucket, as one replica does. now is the
// store's clock, which decides when a lease has expired; nil is time.Now.
func openS3(t *testing.T, gw *s3test.Gateway, bucket string, now func() time.Time) *s3.Store {
	t.Helper()
	store, err := s3.New(context.Background(), s3.Options{
		Bucket: bucket, Prefix: "mirror", Region: s3test.Region, Endpoint: gw.Endpoint,
		PathStyle: true, Credentials: gw.Credentials(), Now: now,
	})
	if err != nil {
		t.Fatalf("open S3 store: %v", err)
	}
	return store
}

// newS3Stack builds the stack of stack_test.go over store, with gate as the
// evictor's gate.
func newS3Stack(t *testing.T, hub *hubsim.Hub, std hubsim.Standard, store *s3.Store, grace time.Duration, gate Gate) *s3Stack {
	t.Helper()
	_, evictor, url := serveStore(t, hub, store, t.TempDir(), grace, gate)
	return &s3Stack{hub: hub, std: std, store: store, evictor: evictor, url: url}
}

func (s *s3Stack) get(t *testing.T, path string) int {
	t.Helper()
	status, _, _ := getMirror(t, s.url, path)
	return status
}

// pull GETs an image's manifest by tag, its config and its layers, and
// waits until the store holds them all: a blob is committed after the
// client received its last byte.
func (s *s3Stack) pull(t *testing.T, img hubsim.Image) {
	t.Helper()
	if status := s.get(t, "/v2/"+img.Repo+"/manifests/"+img.Tag); status != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: status %d", img.Repo, img.Tag, status)
	}
	for _, d := range append([]digest.Digest{img.Config.Digest}, layerDigests(img)...) {
		if status := s.get(t, "/v2/"+img.Repo+"/blobs/"+d.String()); status != http.StatusOK {
			t.Fatalf("GET blob %s of %s: status %d", d, img.Repo, status)
		}
	}
	s.waitStored(t, imageKeys(img)...)
}

func (s *s3Stack) waitStored(t *testing.T, keys ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if !slices.ContainsFunc(keys, func(key string) bool { return !storeHas(t, s.store, key) }) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not all stored after 10s", describe(keys))
}

// s3Walk returns the total size of the keys under prefix, and the keys.
func s3Walk(t *testing.T, store storage.Store, prefix string) (int64, []string) {
	t.Helper()
	var total int64
	var keys []string
	err := store.Walk(context.Background(), prefix, func(key string, info storage.Info) error {
		total += info.Size
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", prefix, err)
	}
	slices.Sort(keys)
	return total, keys
}

func TestS3EvictionOrderAfterRealPulls(t *testing.T) {
	gw, bucket := s3Bucket(t)
	hub, std := startHubsim(t)
	s := newS3Stack(t, hub, std, openS3(t, gw, bucket, nil), 0, nil)
	ctx := context.Background()
	alpine, v1, v2 := std.Alpine, std.Moving, std.MovingNext

	s.pull(t, alpine)
	s.pull(t, v1)
	s.pull(t, v2)
	s.pull(t, alpine) // alpine is now the most recently used image
	// A blob fetched on its own is named by no stored manifest.
	loose := std.Big.Config.Digest
	if status := s.get(t, "/v2/library/big/blobs/"+loose.String()); status != http.StatusOK {
		t.Fatalf("GET loose blob: status %d", status)
	}
	s.waitStored(t, cache.BlobKey(loose))

	total, _ := s3Walk(t, s.store, "")
	info, err := s.store.Stat(ctx, cache.BlobKey(loose))
	if err != nil {
		t.Fatal(err)
	}
	// Room for everything except the loose blob and one image: the run
	// must remove the loose blob, then the least recently used image.
	s.evictor.maxSize = total - info.Size - 1

	res, err := s.evictor.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Skipped {
		t.Fatal("run skipped on a gate that always opens")
	}
	if res.Blobs != 3 || res.Manifests != 1 || res.Records != 2 {
		t.Errorf("run removed %d blobs, %d manifests and %d records, want 3 blobs (the loose one, then v1's config and layer), 1 manifest and 2 records (its tag and link)",
			res.Blobs, res.Manifests, res.Records)
	}
	if res.Blocked || res.SizeAfter > s.evictor.maxSize {
		t.Errorf("size after the run is %d (blocked %v), want at most max size %d", res.SizeAfter, res.Blocked, s.evictor.maxSize)
	}
	if got, _ := s3Walk(t, s.store, ""); got != res.SizeAfter {
		t.Errorf("the bucket measures %d bytes after the run, but the run reports %d", got, res.SizeAfter)
	}

	if storeHas(t, s.store, cache.BlobKey(loose)) {
		t.Errorf("the loose blob is still stored, want it removed first")
	}
	for _, key := range imageKeys(v1) {
		if storeHas(t, s.store, key) {
			t.Errorf("%s of the least recently used image moving:v1 is still stored", key)
		}
	}
	for _, key := range append(imageKeys(alpine), imageKeys(v2)...) {
		if !storeHas(t, s.store, key) {
			t.Errorf("%s of a recently used image was removed", key)
		}
	}
	_, records := s3Walk(t, s.store, "repositories/docker.io/library/moving/")
	want := []string{
		"repositories/docker.io/library/moving/_digests/sha256-" + v2.Digest.Encoded(),
		"repositories/docker.io/library/moving/_tags/v2",
	}
	if !slices.Equal(records, want) {
		t.Errorf("records of library/moving after eviction are %s, want %s", describe(records), describe(want))
	}

	// The evicted image pulls again through the same store.
	blobGets := hub.Stats().BlobGets
	s.pull(t, v1)
	if got := hub.Stats().BlobGets - blobGets; got != 2 {
		t.Errorf("pull of evicted moving:v1 made %d upstream blob GETs, want 2 (config and layer)", got)
	}
}

func TestS3EvictionKeepsYoungObjects(t *testing.T) {
	gw, bucket := s3Bucket(t)
	hub, std := startHubsim(t)
	s := newS3Stack(t, hub, std, openS3(t, gw, bucket, nil), time.Hour, nil)
	s.pull(t, std.Alpine)
	before, keys := s3Walk(t, s.store, "")

	s.evictor.maxSize = 1
	res, err := s.evictor.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Removed() != 0 || !res.Blocked {
		t.Errorf("run with a 1h grace removed %d objects (blocked %v), want none removed and blocked", res.Removed(), res.Blocked)
	}
	if after, left := s3Walk(t, s.store, ""); after != before || !slices.Equal(left, keys) {
		t.Errorf("the bucket holds %s (%d bytes) after the run, want %s (%d bytes) untouched", describe(left), after, describe(keys), before)
	}

	// Past the grace period the same objects go.
	s.evictor.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	res, err = s.evictor.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce 2h later: %v", err)
	}
	if res.Manifests != 1 || res.Blobs != 1+len(std.Alpine.Layers) {
		t.Errorf("run 2h later removed %d manifests and %d blobs, want alpine's manifest and its %d blobs",
			res.Manifests, res.Blobs, 1+len(std.Alpine.Layers))
	}
}

// holdingGate passes gate and, once it opened, reports on held and waits
// for resume before the run goes on: the run holds the gate meanwhile.
func holdingGate(gate Gate, held chan<- struct{}, resume <-chan struct{}) Gate {
	return func(ctx context.Context) (func(), bool) {
		release, ok := gate(ctx)
		if ok {
			held <- struct{}{}
			<-resume
		}
		return release, ok
	}
}

// TestS3EvictionOneReplicaAtATime runs two evictors on one bucket, each
// with its own store and its own lease on the name the serve command uses.
// While one run holds the lease the other is skipped, and after a release
// or an expiry the other runs.
func TestS3EvictionOneReplicaAtATime(t *testing.T) {
	const leaseName, ttl = "maintenance", time.Minute
	gw, bucket := s3Bucket(t)
	hub, std := startHubsim(t)
	clockB := testclock.New(time.Now())
	storeA, storeB := openS3(t, gw, bucket, nil), openS3(t, gw, bucket, clockB.Now)
	held, resume := make(chan struct{}), make(chan struct{})
	a := newS3Stack(t, hub, std, storeA, 0, holdingGate(storeA.Lease(leaseName, ttl).Gate, held, resume))
	b := newS3Stack(t, hub, std, storeB, 0, storeB.Lease(leaseName, ttl).Gate)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a.pull(t, std.Moving)
	b.pull(t, std.MovingNext)
	a.evictor.maxSize, b.evictor.maxSize = 1, 1

	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := a.evictor.RunOnce(ctx)
		done <- outcome{res, err}
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("replica A's run did not get the lease within a minute")
	}

	res, err := b.evictor.RunOnce(ctx)
	if err != nil || !res.Skipped || res.Removed() != 0 {
		t.Errorf("replica B's run while A holds the lease: %+v, err %v; want skipped", res, err)
	}
	close(resume)
	var gotA outcome
	select {
	case gotA = <-done:
	case <-ctx.Done():
		t.Fatal("replica A's run did not end within a minute")
	}
	if gotA.err != nil || gotA.res.Skipped || gotA.res.Manifests != 2 {
		t.Errorf("replica A's run: %+v, err %v; want both images' manifests removed", gotA.res, gotA.err)
	}

	// A released the lease at the end of its run: B runs and finds the
	// bucket emptied by A.
	res, err = b.evictor.RunOnce(ctx)
	if err != nil || res.Skipped {
		t.Fatalf("replica B's run after A released the lease: %+v, err %v; want a run", res, err)
	}
	if res.SizeBefore != 0 {
		t.Errorf("replica B measures %d bytes after A's run, want 0 (A removed everything)", res.SizeBefore)
	}

	// A holder that stops renewing, as a crashed replica does, blocks B
	// until the lease expires.
	crashed, err := storeA.Lease(leaseName, ttl).TryAcquire(ctx)
	if err != nil {
		t.Fatalf("take the lease as a replica that then crashes: %v", err)
	}
	defer crashed.Release(context.Background())
	b.pull(t, std.Alpine)
	if res, err := b.evictor.RunOnce(ctx); err != nil || !res.Skipped {
		t.Errorf("replica B's run while a crashed replica's lease is in force: %+v, err %v; want skipped", res, err)
	}
	clockB.Advance(ttl + time.Second)
	res, err = b.evictor.RunOnce(ctx)
	if err != nil || res.Skipped || res.Manifests != 1 {
		t.Errorf("replica B's run after the crashed replica's lease expired: %+v, err %v; want alpine's manifest removed", res, err)
	}
}

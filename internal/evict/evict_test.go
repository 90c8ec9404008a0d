package evict

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/storage"
)

func TestEvictionOrderAfterRealPulls(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	alpine, v1, v2 := s.std.Alpine, s.std.Moving, s.std.MovingNext

	s.pull(t, alpine)
	s.pull(t, v1)
	s.pull(t, v2)
	s.pull(t, alpine) // alpine is now the most recently used image
	// A blob fetched on its own is named by no stored manifest.
	loose := s.std.Big.Config.Digest
	if status, _, _ := s.get(t, "/v2/library/big/blobs/"+loose.String()); status != http.StatusOK {
		t.Fatalf("GET loose blob: status %d", status)
	}
	s.waitForWrites(t)

	total := s.size(t)
	looseSize := s.sizeOf(t, cache.BlobKey(loose))
	// Room for everything except the loose blob and one image: the run
	// must remove the loose blob, then the least recently used image.
	s.evictor.maxSize = total - looseSize - 1

	res, err := s.evictor.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Blobs != 3 || res.Manifests != 1 {
		t.Errorf("run removed %d blobs and %d manifests, want 3 blobs (the loose one, then v1's config and layer) and 1 manifest", res.Blobs, res.Manifests)
	}
	if res.Blocked {
		t.Errorf("run reports it was blocked, want it to reach its target")
	}
	if res.SizeAfter > s.evictor.maxSize {
		t.Errorf("size after the run is %d, want at most max size %d", res.SizeAfter, s.evictor.maxSize)
	}
	if got := s.size(t); got != res.SizeAfter {
		t.Errorf("store measures %d bytes after the run, but the run reports %d", got, res.SizeAfter)
	}

	if s.has(t, cache.BlobKey(loose)) {
		t.Errorf("the loose blob is still stored, want it removed first")
	}
	for _, key := range imageKeys(v1) {
		if s.has(t, key) {
			t.Errorf("%s of the least recently used image moving:v1 is still stored", key)
		}
	}
	for _, img := range []struct {
		name string
		keys []string
	}{{"alpine:3.20", imageKeys(alpine)}, {"moving:v2", imageKeys(v2)}} {
		for _, key := range img.keys {
			if !s.has(t, key) {
				t.Errorf("%s of the recently used image %s was removed", key, img.name)
			}
		}
	}

	// The tag and the repository link of the evicted manifest are gone;
	// those of moving:v2 stay.
	records := s.keysUnder(t, "repositories/docker.io/library/moving/")
	want := []string{
		"repositories/docker.io/library/moving/_digests/sha256-" + v2.Digest.Encoded(),
		"repositories/docker.io/library/moving/_tags/v2",
	}
	slices.Sort(records)
	if !slices.Equal(records, want) {
		t.Errorf("records of library/moving after eviction are %s, want %s", describe(records), describe(want))
	}
}

func TestEvictedImagePullsAgain(t *testing.T) {
	s := newStack(t, 0)
	v1, v2 := s.std.Moving, s.std.MovingNext
	s.pull(t, v1)
	s.pull(t, v2)

	s.evictor.maxSize = s.size(t) - 1
	if _, err := s.evictor.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if s.has(t, cache.ManifestKey(v1.Digest)) {
		t.Fatalf("moving:v1 is still stored; the test needs it evicted")
	}

	blobGets := s.hub.Stats().BlobGets
	statuses := s.pull(t, v1)
	for i, status := range statuses {
		if status != "MISS" {
			t.Errorf("pull of evicted moving:v1, request %d: X-Cache-Status %s, want MISS", i, status)
		}
	}
	if got := s.hub.Stats().BlobGets - blobGets; got != 2 {
		t.Errorf("pull of evicted moving:v1 made %d upstream blob GETs, want 2 (config and layer)", got)
	}
	for i, status := range s.pull(t, v1) {
		if status != "HIT" {
			t.Errorf("second pull of moving:v1, request %d: X-Cache-Status %s, want HIT", i, status)
		}
	}
	for i, status := range s.pull(t, v2) {
		if status != "HIT" {
			t.Errorf("pull of kept moving:v2, request %d: X-Cache-Status %s, want HIT", i, status)
		}
	}
}

func TestEvictionRemovesReferrersOfEvictedManifest(t *testing.T) {
	s := newStack(t, 0)
	child := s.std.MultiArch.Images[0]
	path := "/v2/" + child.Repo + "/referrers/" + child.Digest.String()
	if status, _, _ := s.get(t, "/v2/"+child.Repo+"/manifests/"+child.Digest.String()); status != http.StatusOK {
		t.Fatalf("GET child manifest: status %d", status)
	}
	if status, _, _ := s.get(t, path); status != http.StatusOK {
		t.Fatalf("GET referrers: status %d", status)
	}
	referrers := "repositories/docker.io/" + child.Repo + "/_referrers/sha256-" + child.Digest.Encoded()
	if !s.has(t, referrers) {
		t.Fatalf("referrers record %s not stored; the test needs it", referrers)
	}

	s.evictor.maxSize = 1
	res, err := s.evictor.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Manifests != 1 {
		t.Errorf("run removed %d manifests, want 1", res.Manifests)
	}
	if s.has(t, referrers) {
		t.Errorf("referrers record of the evicted manifest is still stored")
	}
	if keys := s.keysUnder(t, "repositories/"); len(keys) != 0 {
		t.Errorf("records left after evicting the only manifest: %s", describe(keys))
	}
}

func TestEvictionKeepsHeldAndYoungObjects(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	alpine := s.std.Alpine
	s.pull(t, alpine)

	// A client is reading the layer: it must stay even though nothing
	// else may.
	blob, err := s.cache.GetBlob(ctx, "docker.io", alpine.Repo, alpine.Layers[0].Digest)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	reader, err := blob.Open(ctx, 0)
	if err != nil {
		t.Fatalf("open blob: %v", err)
	}
	s.evictor.maxSize = 1
	res, err := s.evictor.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if !s.has(t, cache.BlobKey(alpine.Layers[0].Digest)) {
		t.Errorf("the layer a client is reading was removed")
	}
	if !res.Blocked {
		t.Errorf("run not reported as blocked although a held blob keeps the store over its size")
	}
	reader.Close()
	blob.Close()

	res, err = s.evictor.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if s.has(t, cache.BlobKey(alpine.Layers[0].Digest)) {
		t.Errorf("the layer is still stored after its reader closed")
	}

	young := newStack(t, time.Hour)
	young.pull(t, young.std.Alpine)
	young.evictor.maxSize = 1
	res, err = young.evictor.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce with grace: %v", err)
	}
	if res.Removed() != 0 || !res.Blocked {
		t.Errorf("run with a 1h grace removed %d objects (blocked %v), want none removed and blocked", res.Removed(), res.Blocked)
	}
}

func TestAccessRecordSurvivesRestart(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	s.pull(t, s.std.Alpine)
	key := cache.ManifestKey(s.std.Alpine.Digest)
	at, ok := s.evictor.tracker.readAt(key)
	if !ok {
		t.Fatalf("no read recorded for %s", key)
	}
	if err := s.evictor.tracker.flush(ctx, s.store); err != nil {
		t.Fatalf("flush: %v", err)
	}

	restarted := newTracker(time.Now)
	if err := restarted.load(ctx, s.store); err != nil {
		t.Fatalf("load: %v", err)
	}
	got, ok := restarted.readAt(key)
	if !ok || got.Unix() != at.Unix() {
		t.Errorf("read time after reload is %v (found %v), want %v to the second", got, ok, at)
	}
}

func TestAccessRecordMergesAndRecovers(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	if err := storage.PutBytes(ctx, s.store, AccessRecordKey, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	first := newTracker(time.Now)
	first.Touched("blobs/sha256/aa")
	if err := first.flush(ctx, s.store); err != nil {
		t.Fatalf("flush over an unreadable record: %v", err)
	}

	// A second process sharing the store keeps the first one's reads.
	second := newTracker(time.Now)
	second.Touched("blobs/sha256/bb")
	if err := second.flush(ctx, s.store); err != nil {
		t.Fatalf("flush: %v", err)
	}
	merged := newTracker(time.Now)
	if err := merged.load(ctx, s.store); err != nil {
		t.Fatalf("load: %v", err)
	}
	for _, key := range []string{"blobs/sha256/aa", "blobs/sha256/bb"} {
		if _, ok := merged.readAt(key); !ok {
			t.Errorf("the access record lost the read of %s", key)
		}
	}
}

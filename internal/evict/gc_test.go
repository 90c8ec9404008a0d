package evict

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/cache"
)

// gcFixture is a store with one complete image, one blob that no manifest
// names, the dangling tag and link of a removed manifest, and an old
// temporary file.
func gcFixture(t *testing.T) (*stack, []string) {
	t.Helper()
	s := newStack(t, 0)
	s.pull(t, s.std.Alpine)
	s.pull(t, s.std.Moving)
	loose := s.std.Big.Config.Digest
	s.get(t, "/v2/library/big/blobs/"+loose.String())
	s.waitForWrites(t)

	// Removing moving:v1's manifest leaves its tag, its link and its two
	// blobs behind.
	if err := s.store.Delete(context.Background(), cache.ManifestKey(s.std.Moving.Digest)); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	leftover := filepath.Join(s.store.Root(), ".tmp", "write-123")
	if err := os.WriteFile(leftover, []byte("half a blob"), 0o600); err != nil {
		t.Fatalf("write leftover: %v", err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(leftover, old, old); err != nil {
		t.Fatalf("age leftover: %v", err)
	}

	garbage := []string{
		cache.BlobKey(loose),
		cache.BlobKey(s.std.Moving.Config.Digest),
		cache.BlobKey(s.std.Moving.Layers[0].Digest),
		"repositories/docker.io/library/moving/_digests/sha256-" + s.std.Moving.Digest.Encoded(),
		"repositories/docker.io/library/moving/_tags/v1",
	}
	slices.Sort(garbage)
	return s, garbage
}

func TestCollectGarbage(t *testing.T) {
	s, garbage := gcFixture(t)
	ctx := context.Background()

	dry, err := CollectGarbage(ctx, s.store, GCOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	got := slices.Sorted(slices.Values(dry.Keys))
	if !slices.Equal(got, garbage) {
		t.Errorf("dry run lists %s, want %s", describe(got), describe(garbage))
	}
	if dry.Leftovers != 1 {
		t.Errorf("dry run counts %d leftovers, want 1", dry.Leftovers)
	}
	for _, key := range garbage {
		if !s.has(t, key) {
			t.Errorf("dry run removed %s", key)
		}
	}

	res, err := CollectGarbage(ctx, s.store, GCOptions{})
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	if res.Blobs != 3 || res.Records != 2 || res.Leftovers != 1 {
		t.Errorf("gc removed %d blobs, %d records, %d leftovers, want 3, 2, 1", res.Blobs, res.Records, res.Leftovers)
	}
	if res.Freed() != dry.Freed() {
		t.Errorf("gc freed %d bytes but the dry run reported %d", res.Freed(), dry.Freed())
	}
	for _, key := range garbage {
		if s.has(t, key) {
			t.Errorf("%s is still stored after gc", key)
		}
	}
	for _, key := range imageKeys(s.std.Alpine) {
		if !s.has(t, key) {
			t.Errorf("gc removed %s of the complete image alpine", key)
		}
	}
	for i, status := range s.pull(t, s.std.Alpine) {
		if status != "HIT" {
			t.Errorf("pull of alpine after gc, request %d: X-Cache-Status %s, want HIT", i, status)
		}
	}
}

func TestCollectGarbageKeepsYoungObjects(t *testing.T) {
	s, garbage := gcFixture(t)
	res, err := CollectGarbage(context.Background(), s.store, GCOptions{Grace: time.Hour})
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	if res.Blobs != 0 || res.Records != 0 {
		t.Errorf("gc with a 1h grace removed %d blobs and %d records committed just now, want none", res.Blobs, res.Records)
	}
	if res.Leftovers != 1 {
		t.Errorf("gc with a 1h grace removed %d leftovers, want the one 2h old", res.Leftovers)
	}
	for _, key := range garbage {
		if !s.has(t, key) {
			t.Errorf("gc with a 1h grace removed %s", key)
		}
	}
}

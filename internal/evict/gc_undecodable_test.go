package evict

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
)

// brokenTagKey is a tag record that is not valid JSON.
const brokenTagKey = "repositories/docker.io/library/broken/_tags/latest"

func TestCollectGarbageRemovesUndecodableTag(t *testing.T) {
	s, _ := gcFixture(t)
	ctx := context.Background()
	if err := storage.PutBytes(ctx, s.store, brokenTagKey, []byte("{not json")); err != nil {
		t.Fatalf("write broken tag record: %v", err)
	}

	dry, err := CollectGarbage(ctx, s.store, GCOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run with an undecodable tag record: %v", err)
	}
	if !slices.Equal(dry.Undecodable, []string{brokenTagKey}) {
		t.Errorf("dry run reports undecodable records %v, want [%s]", dry.Undecodable, brokenTagKey)
	}
	if !slices.Contains(dry.Keys, brokenTagKey) {
		t.Errorf("dry run does not list %s for removal: %v", brokenTagKey, dry.Keys)
	}

	res, err := CollectGarbage(ctx, s.store, GCOptions{})
	if err != nil {
		t.Fatalf("gc with an undecodable tag record: %v", err)
	}
	if res.Records != 3 {
		t.Errorf("gc removed %d records, want 3 (two dangling, one undecodable)", res.Records)
	}
	if s.has(t, brokenTagKey) {
		t.Errorf("%s is still stored after gc", brokenTagKey)
	}
}

func TestCollectGarbageKeepsYoungUndecodableTag(t *testing.T) {
	s, _ := gcFixture(t)
	ctx := context.Background()
	if err := storage.PutBytes(ctx, s.store, brokenTagKey, []byte("{not json")); err != nil {
		t.Fatalf("write broken tag record: %v", err)
	}

	res, err := CollectGarbage(ctx, s.store, GCOptions{Grace: time.Hour})
	if err != nil {
		t.Fatalf("gc with an undecodable tag record: %v", err)
	}
	if !slices.Equal(res.Undecodable, []string{brokenTagKey}) {
		t.Errorf("gc reports undecodable records %v, want [%s]", res.Undecodable, brokenTagKey)
	}
	if !s.has(t, brokenTagKey) {
		t.Errorf("gc with a 1h grace removed %s written just now", brokenTagKey)
	}
}

func TestCollectGarbageListsLeftovers(t *testing.T) {
	s, _ := gcFixture(t)
	dry, err := CollectGarbage(context.Background(), s.store, GCOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if want := []string{".tmp/write-123"}; !slices.Equal(dry.LeftoverPaths, want) {
		t.Errorf("dry run lists leftovers %v, want %v", dry.LeftoverPaths, want)
	}
}

package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
)

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	put(t, store, "repositories/docker.io/library/alpine/tags/latest", "x")
	put(t, store, "repositories/docker.io/library/busybox/tags/latest", "y")

	if err := store.Delete(ctx, "repositories/docker.io/library/alpine/tags/latest"); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	emptyDir := filepath.Join(store.Root(), "repositories", "docker.io", "library", "alpine")
	if _, err := os.Stat(emptyDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty directory %s still exists: %v", emptyDir, err)
	}
	parentDir := filepath.Join(store.Root(), "repositories", "docker.io", "library")
	if _, err := os.Stat(parentDir); err != nil {
		t.Errorf("non-empty directory %s removed: %v", parentDir, err)
	}
	if got := get(t, store, "repositories/docker.io/library/busybox/tags/latest"); got != "y" {
		t.Errorf("sibling object = %q, want %q", got, "y")
	}
}

func TestDeleteKeepsRoot(t *testing.T) {
	store := newStore(t)
	put(t, store, "a/b", "x")

	if err := store.Delete(context.Background(), "a/b"); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	if _, err := os.Stat(store.Root()); err != nil {
		t.Errorf("root removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(store.Root(), "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty directory a still exists: %v", err)
	}
}

func TestDeleteMissingKey(t *testing.T) {
	store := newStore(t)
	put(t, store, "a/b", "x")

	for _, key := range []string{"a/missing", "a"} {
		if err := store.Delete(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Delete(%q) error = %v, want ErrNotFound", key, err)
		}
	}
	if got := get(t, store, "a/b"); got != "x" {
		t.Errorf("object = %q, want %q", got, "x")
	}
}

package fs

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
)

func walkKeys(t *testing.T, store *FS, prefix string) []string {
	t.Helper()
	var keys []string
	err := store.Walk(context.Background(), prefix, func(key string, info storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", prefix, err)
	}
	slices.Sort(keys)
	return keys
}

func TestWalkPrefix(t *testing.T) {
	store := newStore(t)
	for _, key := range []string{
		"blobs/sha256/aa",
		"repositories/docker.io/library/alpine/tags/latest",
		"repositories/docker.io/librarian/app/tags/v1",
		"repositories/docker.io/other/app/tags/v1",
		"repositories/ghcr.io/owner/app/tags/v1",
	} {
		put(t, store, key, "x")
	}
	unlock, err := store.Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer unlock()
	w, err := store.Create(context.Background(), "blobs/sha256/bb")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()

	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"blobs/sha256/aa",
			"repositories/docker.io/librarian/app/tags/v1",
			"repositories/docker.io/library/alpine/tags/latest",
			"repositories/docker.io/other/app/tags/v1",
			"repositories/ghcr.io/owner/app/tags/v1",
		}},
		{"repositories/docker.io/libr", []string{
			"repositories/docker.io/librarian/app/tags/v1",
			"repositories/docker.io/library/alpine/tags/latest",
		}},
		{"repositories/docker.io/library/", []string{
			"repositories/docker.io/library/alpine/tags/latest",
		}},
		{"repositories/g", []string{"repositories/ghcr.io/owner/app/tags/v1"}},
		{"blobs/sha256/aa", []string{"blobs/sha256/aa"}},
		{"blobs/sha256/aa/", nil},
		{"missing/dir/", nil},
		{"blobs/sha256/aa/below-an-object", nil},
	}
	for _, tt := range tests {
		if got := walkKeys(t, store, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("Walk(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	store := newStore(t)
	put(t, store, "a/1", "x")
	put(t, store, "a/2", "x")
	stop := errors.New("stop")

	calls := 0
	err := store.Walk(context.Background(), "", func(string, storage.Info) error {
		calls++
		return stop
	})

	if !errors.Is(err, stop) {
		t.Errorf("Walk error = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback ran %d times, want 1", calls)
	}
}

func TestWalkReportsInfo(t *testing.T) {
	store := newStore(t)
	put(t, store, "a/1", "hello")

	var got storage.Info
	err := store.Walk(context.Background(), "a/", func(key string, info storage.Info) error {
		got = info
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}

	if got.Size != 5 {
		t.Errorf("Size = %d, want 5", got.Size)
	}
}

package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
)

func TestCheckKey(t *testing.T) {
	valid := []string{
		"blobs/sha256/0123456789abcdef",
		"repositories/docker.io/library/alpine/_manifests/tags/3.20",
		"repositories/localhost:5000/org/app/tags/v1.2.3-rc.1",
		"x@y+z=w",
		"a/...",
		"tmp/.tmp",
	}
	for _, key := range valid {
		if err := checkKey(key); err != nil {
			t.Errorf("checkKey(%q) = %v, want nil", key, err)
		}
	}

	invalid := []string{
		"",
		"/abs",
		"a//b",
		"a/",
		"./a",
		"a/./b",
		"..",
		"../x",
		"a/../../x",
		"a/..",
		`a\b`,
		"a\x00b",
		"a b",
		"ä",
		"a*",
		".tmp/write-1",
		".tmpx",
		".lock",
		".lock/x",
	}
	for _, key := range invalid {
		if err := checkKey(key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("checkKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestInvalidKeyTouchesNothing(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	outside := filepath.Join(filepath.Dir(store.Root()), "x")

	for _, key := range []string{"../x", "a/../../x", outside} {
		if _, err := store.Create(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Create(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := store.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := store.Open(ctx, key, 0); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := store.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}

	if _, err := os.Stat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file appeared outside the store: %v", err)
	}
}

func TestWalkPrefixValidation(t *testing.T) {
	store := newStore(t)
	noop := func(string, storage.Info) error { return nil }

	for _, prefix := range []string{"", "blobs/", "repositories/docker.io/libr"} {
		if err := store.Walk(context.Background(), prefix, noop); err != nil {
			t.Errorf("Walk(%q) = %v, want nil", prefix, err)
		}
	}
	for _, prefix := range []string{"../", "a/../..", "a/.", "/", ".tmp", "a//b"} {
		if err := store.Walk(context.Background(), prefix, noop); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Walk(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

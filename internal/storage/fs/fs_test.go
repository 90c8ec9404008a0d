package fs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
)

func newStore(t *testing.T) *FS {
	t.Helper()
	store, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return store
}

func put(t *testing.T, store *FS, key, data string) {
	t.Helper()
	if err := storage.PutBytes(context.Background(), store, key, []byte(data)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, store *FS, key string) string {
	t.Helper()
	data, err := storage.GetBytes(context.Background(), store, key, 1<<20)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(data)
}

func tmpFiles(t *testing.T, store *FS) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(store.Root(), tmpDirName))
	if err != nil {
		t.Fatalf("read temporary directory: %v", err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	return names
}

func TestNewCreatesRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b")

	store, err := New(root, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("root not created: %v", err)
	}
	if !filepath.IsAbs(store.Root()) {
		t.Errorf("Root() = %q, want an absolute path", store.Root())
	}
}

func TestNewRemovesLeftoverTempFiles(t *testing.T) {
	root := t.TempDir()
	store, err := New(root, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	// Two writes that never finish, as after kill -9.
	for _, key := range []string{"blobs/a", "blobs/b"} {
		w, err := store.Create(context.Background(), key)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := w.Write([]byte("partial")); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	put(t, store, "blobs/c", "complete")

	var logs bytes.Buffer
	reopened, err := New(root, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("New again: %v", err)
	}

	if names := tmpFiles(t, reopened); len(names) != 0 {
		t.Errorf("temporary files after New: %v", names)
	}
	if !strings.Contains(logs.String(), "count=2") {
		t.Errorf("log does not report 2 removed files: %q", logs.String())
	}
	if got := get(t, reopened, "blobs/c"); got != "complete" {
		t.Errorf("committed object = %q, want %q", got, "complete")
	}
}

func TestNewKeepsTempFilesWhileLocked(t *testing.T) {
	root := t.TempDir()
	store, err := New(root, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	unlock, err := store.Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer unlock()

	w, err := store.Create(context.Background(), "blobs/a")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()

	if _, err := New(root, nil); err != nil {
		t.Fatalf("New while locked: %v", err)
	}

	if names := tmpFiles(t, store); len(names) != 1 {
		t.Errorf("temporary files = %v, want the one of the running write", names)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Errorf("Commit of the running write: %v", err)
	}
}

func TestStatMissingKey(t *testing.T) {
	store := newStore(t)
	put(t, store, "blobs/a", "x")

	for _, key := range []string{"blobs/missing", "blobs", "blobs/a/below-an-object"} {
		_, err := store.Stat(context.Background(), key)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func TestStatReportsSizeAndTime(t *testing.T) {
	store := newStore(t)
	put(t, store, "blobs/a", "hello")

	info, err := store.Stat(context.Background(), "blobs/a")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}

	if info.Size != 5 {
		t.Errorf("Size = %d, want 5", info.Size)
	}
	if info.ModTime.IsZero() {
		t.Error("ModTime is zero")
	}
}

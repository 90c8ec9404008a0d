package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
)

// fullDisk is a store whose writes fail with ENOSPC after limit bytes.
type fullDisk struct {
	storage.Store
	limit int
}

func (f *fullDisk) Create(ctx context.Context, key string) (storage.Writer, error) {
	w, err := f.Store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &fullWriter{Writer: w, left: f.limit}, nil
}

type fullWriter struct {
	storage.Writer
	left int
}

func (w *fullWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, fmt.Errorf("write %s: %w", "blob", syscall.ENOSPC)
	}
	w.left -= len(p)
	return w.Writer.Write(p)
}

func TestWatchStoreWritesReportsFullDisk(t *testing.T) {
	base, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	disk := &fullDisk{Store: base, limit: 10}
	h := New(func(context.Context) error { return nil })
	store := WatchStoreWrites(disk, h)
	ctx := context.Background()

	write := func(key, data string) error {
		w, err := store.Create(ctx, key)
		if err != nil {
			return err
		}
		defer w.Abort()
		if _, err := io.WriteString(w, data); err != nil {
			return err
		}
		return w.Commit(ctx)
	}

	if err := write("blobs/sha256/small", "tiny"); err != nil {
		t.Fatalf("small write: %v", err)
	}
	if got := h.StoreWrites(); got.Failing || got.Errors != 0 {
		t.Errorf("after a good write: %+v", got)
	}

	err = write("blobs/sha256/large", "more than ten bytes")
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("large write: %v, want ENOSPC", err)
	}
	if got := h.StoreWrites(); !got.Failing || got.Errors != 1 {
		t.Errorf("after a full disk: %+v, want failing with one error", got)
	}
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("after a full disk: /readyz = %d, want 200", code)
	}

	if err := write("blobs/sha256/again", "ok"); err != nil {
		t.Fatalf("write after space came back: %v", err)
	}
	if got := h.StoreWrites(); got.Failing || got.Errors != 1 {
		t.Errorf("after space came back: %+v, want not failing, one error counted", got)
	}
}

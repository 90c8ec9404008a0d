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

// unreadable is a store whose reads of existing objects fail, as an
// unreachable bucket's do.
type unreadable struct {
	storage.Store
}

var errUnreachable = errors.New("dial tcp: connection refused")

func (u unreadable) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, storage.Info, error) {
	if _, err := u.Store.Stat(ctx, key); err != nil {
		return nil, storage.Info{}, err
	}
	return nil, storage.Info{}, errUnreachable
}

// readReporter records read failures next to the write reports.
type readReporter struct {
	reads []error
}

func (r *readReporter) StoreWriteFailed(error)    {}
func (r *readReporter) StoreWriteSucceeded()      {}
func (r *readReporter) StoreReadFailed(err error) { r.reads = append(r.reads, err) }

func TestWatchStoreReportsReadFailures(t *testing.T) {
	base, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := storage.PutBytes(ctx, base, "blobs/sha256/aa", []byte("x")); err != nil {
		t.Fatal(err)
	}
	reporter := &readReporter{}
	store := WatchStoreWrites(unreadable{Store: base}, Reporters{reporter})

	if _, _, err := store.Open(ctx, "blobs/sha256/missing", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Open of a missing key: %v, want ErrNotFound", err)
	}
	if len(reporter.reads) != 0 {
		t.Errorf("a missing object was reported as a read failure: %v", reporter.reads)
	}

	if _, _, err := store.Open(ctx, "blobs/sha256/aa", 0); !errors.Is(err, errUnreachable) {
		t.Fatalf("Open of a stored key: %v, want the store's error", err)
	}
	if len(reporter.reads) != 1 || !errors.Is(reporter.reads[0], errUnreachable) {
		t.Errorf("read failures reported = %v, want the one Open failure", reporter.reads)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, _, _ = store.Open(canceled, "blobs/sha256/aa", 0)
	if len(reporter.reads) != 1 {
		t.Errorf("a canceled read was reported: %v", reporter.reads)
	}
}

package fs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
)

func TestWriteInvisibleUntilCommit(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()

	w, err := store.Create(ctx, "blobs/sha256/aa")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatalf("Write: %v", err)
	}

	if _, err := store.Stat(ctx, "blobs/sha256/aa"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat before Commit: %v, want ErrNotFound", err)
	}
	if keys := walkKeys(t, store, ""); len(keys) != 0 {
		t.Errorf("Walk before Commit found %v", keys)
	}

	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	if got := get(t, store, "blobs/sha256/aa"); got != "hello" {
		t.Errorf("object = %q, want %q", got, "hello")
	}
	if names := tmpFiles(t, store); len(names) != 0 {
		t.Errorf("temporary files after Commit: %v", names)
	}
}

func TestCommitReplacesObject(t *testing.T) {
	store := newStore(t)
	put(t, store, "tags/latest", "old")

	put(t, store, "tags/latest", "new")

	if got := get(t, store, "tags/latest"); got != "new" {
		t.Errorf("object = %q, want %q", got, "new")
	}
}

func TestAbortRemovesTempFile(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()

	w, err := store.Create(ctx, "blobs/a")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := w.Write([]byte("discard me")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}

	if names := tmpFiles(t, store); len(names) != 0 {
		t.Errorf("temporary files after Abort: %v", names)
	}
	if _, err := store.Stat(ctx, "blobs/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after Abort: %v, want ErrNotFound", err)
	}
}

func TestWriterStateErrors(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()

	aborted, err := store.Create(ctx, "a")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := aborted.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := aborted.Commit(ctx); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if err := aborted.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}

	committed, err := store.Create(ctx, "b")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := committed.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := committed.Commit(ctx); err == nil {
		t.Error("second Commit succeeded")
	}
	if _, err := committed.Write([]byte("x")); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if err := committed.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if got := get(t, store, "b"); got != "" {
		t.Errorf("object b = %q, want empty", got)
	}
}

func TestCommitWithCanceledContext(t *testing.T) {
	store := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())

	w, err := store.Create(ctx, "a")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	cancel()

	if err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit error = %v, want context.Canceled", err)
	}
	if names := tmpFiles(t, store); len(names) != 0 {
		t.Errorf("temporary files after failed Commit: %v", names)
	}
}

// The temporary file is closed underneath the writer, so the next write
// fails the way a disk error would, with a real error from the file.
func TestWriteFailureCommitsNothing(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()

	w, err := store.Create(ctx, "blobs/a")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("first part")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	w.(*writer).file.Close()

	_, err = w.Write([]byte("second part"))
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write error = %v, want os.ErrClosed", err)
	}
	if err == nil || !strings.Contains(err.Error(), "blobs/a") {
		t.Errorf("Write error %v does not name the key", err)
	}

	if err := w.Commit(ctx); err == nil {
		t.Error("Commit after a failed Write succeeded")
	}
	if _, err := store.Stat(ctx, "blobs/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after failed write: %v, want ErrNotFound", err)
	}
	if names := tmpFiles(t, store); len(names) != 0 {
		t.Errorf("temporary files after failed Commit: %v", names)
	}
}

// Sync fails in Commit because the file is closed, standing in for a flush
// that fails on a full or broken disk.
func TestCommitFailureLeavesOldObject(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	put(t, store, "tags/latest", "old")

	w, err := store.Create(ctx, "tags/latest")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("new")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	w.(*writer).file.Close()

	err = w.Commit(ctx)
	if err == nil || !strings.Contains(err.Error(), "tags/latest") {
		t.Errorf("Commit error = %v, want an error naming the key", err)
	}
	if got := get(t, store, "tags/latest"); got != "old" {
		t.Errorf("object = %q, want %q", got, "old")
	}
	if names := tmpFiles(t, store); len(names) != 0 {
		t.Errorf("temporary files after failed Commit: %v", names)
	}
}

func TestLastCommitWins(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()

	first, err := store.Create(ctx, "tags/latest")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	second, err := store.Create(ctx, "tags/latest")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := first.Write([]byte("first")); err != nil {
		t.Fatalf("Write first: %v", err)
	}
	if _, err := second.Write([]byte("second")); err != nil {
		t.Fatalf("Write second: %v", err)
	}

	if err := second.Commit(ctx); err != nil {
		t.Fatalf("Commit second: %v", err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatalf("Commit first: %v", err)
	}

	if got := get(t, store, "tags/latest"); got != "first" {
		t.Errorf("object = %q, want the last committed %q", got, "first")
	}
}

// Writers fill the same key with different bytes in many small writes while
// readers check that every version they see is whole and from one writer.
func TestConcurrentWritersNeverMix(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	const (
		writers = 8
		size    = 256 << 10
		chunk   = 4 << 10
	)

	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := store.Create(ctx, "blobs/shared")
			if err != nil {
				t.Errorf("Create: %v", err)
				return
			}
			defer w.Abort()
			block := bytes.Repeat([]byte{byte('a' + i)}, chunk)
			for range size / chunk {
				if _, err := w.Write(block); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
			if err := w.Commit(ctx); err != nil {
				t.Errorf("Commit: %v", err)
			}
		}()
	}

	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				data, err := storage.GetBytes(ctx, store, "blobs/shared", size)
				if errors.Is(err, storage.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				checkUniform(t, data, size)
			}
		}()
	}

	wg.Wait()
	close(done)
	readers.Wait()

	data, err := storage.GetBytes(ctx, store, "blobs/shared", size)
	if err != nil {
		t.Fatalf("read final object: %v", err)
	}
	checkUniform(t, data, size)
	if names := tmpFiles(t, store); len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

func checkUniform(t *testing.T, data []byte, size int) {
	t.Helper()
	if len(data) != size {
		t.Errorf("object has %d bytes, want %d", len(data), size)
		return
	}
	if n := bytes.Count(data, data[:1]); n != size {
		t.Errorf("object mixes writers: %d of %d bytes are %q", n, size, data[:1])
	}
}

package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
)

// Create returns a writer to a new temporary file. Its bytes appear under
// key only when Commit succeeds.
func (f *FS) Create(ctx context.Context, key string) (storage.Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := f.path(key)
	if err != nil {
		return nil, err
	}

	file, err := os.CreateTemp(f.tmpDir, "write-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return &writer{store: f, key: key, path: path, file: file, state: storage.NewWriterState(key)}, nil
}

// writer is a storage.Writer backed by a temporary file.
type writer struct {
	store *FS
	key   string
	path  string // final location

	mu    sync.Mutex // serializes Abort from another goroutine with Write
	file  *os.File
	state storage.WriterState
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state.Write(p, w.file.Write)
}

// Commit flushes the file to disk, renames it into place and flushes the
// directory entry, so that a committed object survives a crash. On failure
// the temporary file is removed and nothing becomes visible.
func (w *writer) Commit(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()

	if err := w.state.BeginCommit(ctx, w.discard); err != nil {
		return err
	}

	if err := w.publish(); err != nil {
		w.discard()
		return fmt.Errorf("commit %s: %w", w.key, err)
	}
	w.state.SetCommitted()
	return nil
}

// Abort removes the temporary file. It does nothing after Commit or a
// previous Abort.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()

	if !w.state.Writing() {
		return nil
	}
	return w.discard()
}

// publish makes the temporary file the object under w.path.
func (w *writer) publish() error {
	tmpPath := w.file.Name()

	// The object's ModTime is its commit time, which gc_grace and tag ages
	// are measured from, not the time of its last write.
	now := time.Now()
	if err := os.Chtimes(tmpPath, now, now); err != nil {
		return err
	}
	if err := w.file.Sync(); err != nil {
		return err
	}
	if err := w.file.Close(); err != nil {
		return err
	}

	created, err := w.store.renameIntoPlace(tmpPath, w.path)
	if err != nil {
		return err
	}
	return w.store.syncDirs(filepath.Dir(w.path), created)
}

// discard closes and removes the temporary file and marks the writer closed.
func (w *writer) discard() error {
	w.state.SetClosed()

	closeErr := w.file.Close()
	if errors.Is(closeErr, os.ErrClosed) {
		closeErr = nil
	}
	removeErr := os.Remove(w.file.Name())
	if errors.Is(removeErr, os.ErrNotExist) {
		removeErr = nil
	}
	if err := errors.Join(closeErr, removeErr); err != nil {
		return fmt.Errorf("abort %s: %w", w.key, err)
	}
	return nil
}

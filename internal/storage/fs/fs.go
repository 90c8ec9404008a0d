// Package fs is the filesystem backend of storage.Store.
//
// Each object is a regular file at <root>/<key>. Writes go to a file with a
// random name under <root>/.tmp, which is on the same filesystem, and are
// renamed into place on Commit, so a reader sees either the old object or the
// whole new one. A crash leaves only files under .tmp, which New removes.
//
// The store assumes that nothing under root is a symbolic link: keys are
// checked lexically, and a symlink placed inside root by someone else could
// point outside it.
package fs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pullcache/pullcache/internal/storage"
)

// Names reserved at the top of root. Keys may not start with them.
const (
	tmpDirName   = ".tmp"
	lockFileName = ".lock"
)

// Objects and directories are private to the server's user because the store
// can hold images pulled with that user's registry credentials.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// FS is a storage.Store on a local directory. It is safe for concurrent use.
type FS struct {
	root   string
	tmpDir string
	logger *slog.Logger
}

var _ storage.Store = (*FS)(nil)

// New opens the store at root, creating the directory when it is missing,
// and removes temporary files left by interrupted writes. A nil logger
// discards log output.
//
// Leftovers are removed only when no other process holds the store's lock,
// because a running server's temporary files are writes still in progress.
func New(root string, logger *slog.Logger) (*FS, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}

	f := &FS{
		root:   absRoot,
		tmpDir: filepath.Join(absRoot, tmpDirName),
		logger: logger,
	}
	if err := os.MkdirAll(f.tmpDir, dirMode); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}

	if err := f.removeLeftovers(); err != nil {
		return nil, err
	}
	return f, nil
}

// Root returns the absolute path of the store's directory.
func (f *FS) Root() string { return f.root }

// removeLeftovers deletes every file under .tmp while holding the lock for a
// moment, and logs how many it removed.
func (f *FS) removeLeftovers() error {
	unlock, err := f.Lock()
	if errors.Is(err, ErrLocked) {
		f.logger.Info("store in use by another process, keeping its temporary files", "root", f.root)
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()

	entries, err := os.ReadDir(f.tmpDir)
	if err != nil {
		return fmt.Errorf("list temporary files in %s: %w", f.tmpDir, err)
	}

	removed := 0
	for _, entry := range entries {
		if err := os.RemoveAll(filepath.Join(f.tmpDir, entry.Name())); err != nil {
			return fmt.Errorf("remove leftover temporary file: %w", err)
		}
		removed++
	}
	if removed > 0 {
		f.logger.Info("removed temporary files of interrupted writes", "root", f.root, "count", removed)
	}
	return nil
}

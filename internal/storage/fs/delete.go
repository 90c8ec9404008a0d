package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pullcache/pullcache/internal/storage"
)

// Delete removes the object under key and then every parent directory that
// it leaves empty, up to root.
func (f *FS) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := f.path(key)
	if err != nil {
		return err
	}

	// A directory is not an object, and os.Remove would delete an empty one.
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("delete %w", statError(key, err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("delete %s: %w", key, storage.ErrNotFound)
	}

	if err := os.Remove(path); err != nil {
		return fmt.Errorf("delete %w", statError(key, err))
	}
	f.pruneEmptyDirs(filepath.Dir(path))
	return nil
}

package fs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
)

// renameAttempts bounds the retries of renameIntoPlace. A concurrent Delete
// can remove a parent directory that has just become empty between MkdirAll
// and Rename; one retry almost always wins that race.
const renameAttempts = 5

// renameIntoPlace renames tmpPath to path, creating the parent directories.
// It reports whether it had to create any of them.
func (f *FS) renameIntoPlace(tmpPath, path string) (created bool, err error) {
	dir := filepath.Dir(path)
	for range renameAttempts {
		if _, statErr := os.Stat(dir); errors.Is(statErr, iofs.ErrNotExist) {
			created = true
			if err := os.MkdirAll(dir, dirMode); err != nil {
				return created, err
			}
		}

		err = os.Rename(tmpPath, path)
		if !errors.Is(err, iofs.ErrNotExist) {
			return created, err
		}
	}
	return created, fmt.Errorf("parent directory %s kept disappearing: %w", dir, err)
}

// syncDirs flushes dir so the rename in it is durable. When Commit created
// directories, it also flushes each parent up to root, because a new
// directory's own entry lives in its parent.
func (f *FS) syncDirs(dir string, created bool) error {
	if err := syncDir(dir); err != nil {
		return err
	}
	if !created {
		return nil
	}
	for dir != f.root && len(dir) > len(f.root) {
		dir = filepath.Dir(dir)
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()

	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// pruneEmptyDirs removes dir and then its parents while they are empty,
// stopping below root. It is best effort: a directory that is not empty, or
// that a concurrent Commit has just filled, simply stays.
func (f *FS) pruneEmptyDirs(dir string) {
	for dir != f.root && len(dir) > len(f.root) {
		if err := os.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

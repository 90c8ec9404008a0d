package fs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// OpenExisting opens the store at root like New, but neither creates the
// directory nor removes temporary files, so that gc can report them in a
// dry run. A nil logger discards log output.
func OpenExisting(root string, logger *slog.Logger) (*FS, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	info, err := os.Stat(absRoot)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("open store %s: not a directory", root)
	}
	return &FS{root: absRoot, tmpDir: filepath.Join(absRoot, tmpDirName), logger: logger}, nil
}

// Leftovers lists the files under .tmp last modified before olderThan, as
// paths relative to the store's root, and removes them unless dryRun. The
// caller must hold the store's lock, since a running server's temporary
// files are writes in progress.
func (f *FS) Leftovers(ctx context.Context, olderThan time.Time, dryRun bool) (paths []string, size int64, err error) {
	entries, err := os.ReadDir(f.tmpDir)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list temporary files in %s: %w", f.tmpDir, err)
	}

	for _, entry := range entries {
		if err := ctx.Err(); err != nil {
			return paths, size, err
		}
		info, err := entry.Info()
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return paths, size, fmt.Errorf("stat temporary file: %w", err)
		}
		if !info.ModTime().Before(olderThan) {
			continue
		}
		if !dryRun {
			if err := os.RemoveAll(filepath.Join(f.tmpDir, entry.Name())); err != nil {
				return paths, size, fmt.Errorf("remove leftover temporary file: %w", err)
			}
		}
		paths = append(paths, filepath.Join(tmpDirName, entry.Name()))
		size += info.Size()
	}
	return paths, size, nil
}

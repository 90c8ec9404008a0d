package fs

import (
	"context"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"strings"

	"github.com/pullcache/pullcache/internal/storage"
)

// Walk calls fn for every committed object whose key starts with prefix. The
// prefix may end inside a name: "repositories/docker.io/libr" matches
// "repositories/docker.io/library/alpine/…". Objects deleted while the walk
// runs are skipped without an error.
func (f *FS) Walk(ctx context.Context, prefix string, fn func(key string, info storage.Info) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}

	// Start at the deepest directory the prefix names completely.
	startDir := f.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		startDir = filepath.Join(f.root, filepath.FromSlash(prefix[:i]))
	}

	err := filepath.WalkDir(startDir, func(path string, entry iofs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			// The start directory is missing when nothing was stored under
			// the prefix, and a directory vanishes when Delete prunes it.
			if isMissing(err) {
				return nil
			}
			return err
		}
		if path == f.root {
			return nil
		}

		key := f.keyOf(path)
		if isReserved(key) {
			return skip(entry)
		}
		if entry.IsDir() {
			if strings.HasPrefix(key+"/", prefix) || strings.HasPrefix(prefix, key+"/") {
				return nil
			}
			return iofs.SkipDir
		}
		if !entry.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}

		fi, err := entry.Info()
		if isMissing(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(key, infoOf(fi))
	})
	if err != nil {
		return fmt.Errorf("walk %q: %w", prefix, err)
	}
	return nil
}

// keyOf returns the key of a path under root, with forward slashes.
func (f *FS) keyOf(path string) string {
	rel := strings.TrimPrefix(path, f.root+string(filepath.Separator))
	return filepath.ToSlash(rel)
}

// isReserved reports whether key is, or is under, a name the store keeps for
// itself.
func isReserved(key string) bool {
	first, _, _ := strings.Cut(key, "/")
	return first == tmpDirName || first == lockFileName
}

func skip(entry iofs.DirEntry) error {
	if entry.IsDir() {
		return iofs.SkipDir
	}
	return nil
}

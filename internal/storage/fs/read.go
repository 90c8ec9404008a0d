package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"syscall"

	"github.com/pullcache/pullcache/internal/storage"
)

// Stat returns the size and commit time of the object under key.
func (f *FS) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	path, err := f.path(key)
	if err != nil {
		return storage.Info{}, err
	}

	fi, err := os.Stat(path)
	if err != nil {
		return storage.Info{}, statError(key, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.Info{}, fmt.Errorf("stat %s: %w", key, storage.ErrNotFound)
	}
	return infoOf(fi), nil
}

// Open returns the object under key positioned at offset. The reader is an
// *os.File, so callers may use it as an io.ReaderAt or io.Seeker (ReadAt and
// Seek take offsets from the start of the object, not from offset) and
// http.ServeContent can send it with sendfile.
func (f *FS) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.Info{}, err
	}
	path, err := f.path(key)
	if err != nil {
		return nil, storage.Info{}, err
	}

	file, err := os.Open(path)
	if err != nil {
		return nil, storage.Info{}, statError(key, err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, storage.Info{}, fmt.Errorf("open %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		file.Close()
		return nil, storage.Info{}, fmt.Errorf("open %s: %w", key, storage.ErrNotFound)
	}

	if offset < 0 || offset > fi.Size() {
		file.Close()
		return nil, storage.Info{}, fmt.Errorf("open %s: offset %d is outside the object of %d bytes", key, offset, fi.Size())
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		file.Close()
		return nil, storage.Info{}, fmt.Errorf("open %s at offset %d: %w", key, offset, err)
	}
	return file, infoOf(fi), nil
}

// statError turns a missing file into storage.ErrNotFound and keeps every
// other error, such as a permission or I/O fault, as it is.
func statError(key string, err error) error {
	if isMissing(err) {
		return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", key, err)
}

// isMissing reports whether err means that a path does not exist. ENOTDIR
// counts as missing: it means that a parent element of the path is an
// object, not a directory.
func isMissing(err error) bool {
	return errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func infoOf(fi iofs.FileInfo) storage.Info {
	return storage.Info{Size: fi.Size(), ModTime: fi.ModTime()}
}

package fs

import (
	"fmt"
	"path/filepath"

	"github.com/pullcache/pullcache/internal/storage"
)

// checkKey returns a wrapped storage.ErrInvalidKey unless key follows the
// store's key rules and stays outside the names the store reserves for
// itself.
func checkKey(key string) error {
	return storage.CheckKey(key, tmpDirName, lockFileName)
}

// checkPrefix applies the rules of checkKey to a Walk prefix.
func checkPrefix(prefix string) error {
	return storage.CheckPrefix(prefix, tmpDirName, lockFileName)
}

// path returns the file that holds key, after checking the key.
func (f *FS) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}

	// checkKey already rules out every way out of root; IsLocal is a second,
	// independent check so that a future change to the rules cannot open one.
	native := filepath.FromSlash(key)
	if !filepath.IsLocal(native) {
		return "", fmt.Errorf("%w %q: resolves outside the store", storage.ErrInvalidKey, key)
	}
	return filepath.Join(f.root, native), nil
}

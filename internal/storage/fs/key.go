package fs

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pullcache/pullcache/internal/storage"
)

// isKeyChar reports whether c may appear in a key element. The set covers
// repository names ([a-z0-9._-]), tags ([A-Za-z0-9_.-]) and digests
// ("sha256:hex"), with "@", "+" and "=" to spare for encoded names.
func isKeyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._:@+=-", c) >= 0
}

// checkKey returns a wrapped storage.ErrInvalidKey unless key is a relative,
// slash-separated path of non-empty elements other than "." and "..", made of
// key characters, outside the names the store reserves for itself.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", storage.ErrInvalidKey)
	}
	if err := checkPrefix(key); err != nil {
		return err
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w %q: ends with a slash", storage.ErrInvalidKey, key)
	}
	return nil
}

// checkPrefix applies the rules of checkKey to a Walk prefix, which may be
// empty and may end with a slash or in the middle of an element.
func checkPrefix(prefix string) error {
	for i := 0; i < len(prefix); i++ {
		if prefix[i] != '/' && !isKeyChar(prefix[i]) {
			return fmt.Errorf("%w %q: character %q at offset %d is not allowed", storage.ErrInvalidKey, prefix, prefix[i], i)
		}
	}
	if strings.HasPrefix(prefix, tmpDirName) || strings.HasPrefix(prefix, lockFileName) {
		return fmt.Errorf("%w %q: names starting with %s or %s are reserved", storage.ErrInvalidKey, prefix, tmpDirName, lockFileName)
	}

	// Every element followed by a slash is complete and must name a
	// directory inside root. A trailing partial element only filters names.
	elements := strings.Split(prefix, "/")
	for _, element := range elements[:len(elements)-1] {
		if element == "" || element == "." || element == ".." {
			return fmt.Errorf("%w %q: empty, \".\" or \"..\" path element", storage.ErrInvalidKey, prefix)
		}
	}
	if last := elements[len(elements)-1]; last == "." || last == ".." {
		return fmt.Errorf("%w %q: \".\" or \"..\" path element", storage.ErrInvalidKey, prefix)
	}
	return nil
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

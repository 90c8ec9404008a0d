package s3

import (
	"fmt"
	"strings"

	"github.com/pullcache/pullcache/internal/storage"
)

// isKeyChar reports whether c may appear in a key element: the characters
// of repository names, tags and digests, with "@", "+" and "=" to spare.
// It is the filesystem store's alphabet, so a key valid on one backend is
// valid on the other.
func isKeyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._:@+=-", c) >= 0
}

// checkKey returns a wrapped storage.ErrInvalidKey unless key is a relative,
// slash-separated path of non-empty elements other than "." and "..", made of
// key characters, whose first element does not start with ".".
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
	if strings.HasPrefix(prefix, ".") {
		return fmt.Errorf("%w %q: names starting with \".\" are reserved", storage.ErrInvalidKey, prefix)
	}

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

// isStoreKey reports whether an S3 key below the prefix is an object of the
// store, as opposed to the store's own objects or foreign ones.
func isStoreKey(key string) bool {
	return checkKey(key) == nil
}

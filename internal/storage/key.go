package storage

import (
	"fmt"
	"strings"
)

// isKeyChar reports whether c may appear in a key element. The set covers
// repository names ([a-z0-9._-]), tags ([A-Za-z0-9_.-]) and digests
// ("sha256:hex"), with "@", "+" and "=" to spare for encoded names. Every
// backend uses this alphabet, so a key valid on one is valid on the others.
func isKeyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._:@+=-", c) >= 0
}

// CheckKey returns a wrapped ErrInvalidKey unless key is a relative,
// slash-separated path of non-empty elements other than "." and "..", made of
// key characters, that does not start with any of the reserved names a
// backend keeps for itself.
func CheckKey(key string, reserved ...string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if err := CheckPrefix(key, reserved...); err != nil {
		return err
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w %q: ends with a slash", ErrInvalidKey, key)
	}
	return nil
}

// CheckPrefix applies the rules of CheckKey to a Walk prefix, which may be
// empty and may end with a slash or in the middle of an element.
func CheckPrefix(prefix string, reserved ...string) error {
	for i := 0; i < len(prefix); i++ {
		if prefix[i] != '/' && !isKeyChar(prefix[i]) {
			return fmt.Errorf("%w %q: character %q at offset %d is not allowed", ErrInvalidKey, prefix, prefix[i], i)
		}
	}
	for _, name := range reserved {
		if strings.HasPrefix(prefix, name) {
			return fmt.Errorf("%w %q: names starting with %q are reserved", ErrInvalidKey, prefix, name)
		}
	}

	// Every element followed by a slash is complete. A trailing partial
	// element only filters names.
	elements := strings.Split(prefix, "/")
	for _, element := range elements[:len(elements)-1] {
		if element == "" || element == "." || element == ".." {
			return fmt.Errorf("%w %q: empty, \".\" or \"..\" path element", ErrInvalidKey, prefix)
		}
	}
	if last := elements[len(elements)-1]; last == "." || last == ".." {
		return fmt.Errorf("%w %q: \".\" or \"..\" path element", ErrInvalidKey, prefix)
	}
	return nil
}

package storage

import (
	"errors"
	"testing"
)

func TestCheckKey(t *testing.T) {
	valid := []string{
		"blobs/sha256/0123456789abcdef",
		"repositories/localhost:5000/org/app/tags/v1.2.3-rc.1",
		"x@y+z=w",
		"a/...",
		"a/.x",
	}
	for _, key := range valid {
		if err := CheckKey(key, ".x"); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", key, err)
		}
	}

	invalid := []string{
		"", "/abs", "a//b", "a/", "./a", "a/./b", "..", "../x", "a/..",
		`a\b`, "a\x00b", "a b", "ä", "a*",
		".x", ".xy/z",
	}
	for _, key := range invalid {
		if err := CheckKey(key, ".x"); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, prefix := range []string{"", "blobs/", "blobs/sha256/ab"} {
		if err := CheckPrefix(prefix, "."); err != nil {
			t.Errorf("CheckPrefix(%q) = %v, want nil", prefix, err)
		}
	}
	for _, prefix := range []string{"/", "a//", "../", "a/..", ".leases/", "a b"} {
		if err := CheckPrefix(prefix, "."); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckPrefix(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

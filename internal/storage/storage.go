// Package storage defines the object store that the cache keeps manifests,
// blobs and tag records in. Backends live in subpackages (fs, and later s3).
//
// Keys are slash-separated relative paths such as "blobs/sha256/ab12…". The
// cache package owns the key layout; a backend only checks that a key is
// well formed.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) when a key holds no committed object.
var ErrNotFound = errors.New("object not found")

// ErrInvalidKey is returned (wrapped) for a key that is empty, absolute,
// contains "." or ".." elements, or characters outside the key alphabet.
var ErrInvalidKey = errors.New("invalid storage key")

// Info describes a committed object.
type Info struct {
	Size    int64
	ModTime time.Time
}

// Store is implemented by every backend. All methods are safe for
// concurrent use.
type Store interface {
	// Stat returns the object's size and time of commit, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)

	// Open returns a reader of the object from offset to its end, with the
	// object's Info. An offset past the end is an error.
	Open(ctx context.Context, key string, offset int64) (io.ReadCloser, Info, error)

	// Create returns a writer whose bytes become visible under key only when
	// Commit succeeds. Commit replaces an existing object atomically.
	Create(ctx context.Context, key string) (Writer, error)

	// Delete removes the object. Deleting a missing key returns ErrNotFound.
	Delete(ctx context.Context, key string) error

	// Walk calls fn for each committed object whose key starts with prefix,
	// in no particular order. An error from fn stops the walk and is returned.
	Walk(ctx context.Context, prefix string, fn func(key string, info Info) error) error
}

// Writer receives an object's bytes. Exactly one of Commit or Abort must be
// called; Abort after a successful Commit does nothing, so callers can
// defer Abort right after Create.
type Writer interface {
	io.Writer

	// Commit makes the written bytes visible under the writer's key.
	Commit(ctx context.Context) error

	// Abort discards the written bytes.
	Abort() error
}

// Redirector is implemented by stores whose objects a client can download
// straight from the backend, such as S3 with presigned URLs, so that the
// bytes need not flow through pullcache.
type Redirector interface {
	// SignedURL returns a short-lived URL that serves the committed object
	// under key to anyone who holds it.
	SignedURL(ctx context.Context, key string) (string, error)
}

package cache

import (
	"context"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
)

// AccessRecorder learns which stored objects are read and written, so that
// an evictor can remove the least recently used ones and leave alone what
// is being served. Keys are store keys. Implementations must be safe for
// concurrent use and must not block.
type AccessRecorder interface {
	// Touched records a read of the object.
	Touched(key string)
	// Stored records a commit of size bytes under key.
	Stored(key string, size int64)
	// Hold marks the object as being served until release is called.
	Hold(key string) (release func())
}

// noAccessRecorder is the AccessRecorder used when Options.Access is nil.
type noAccessRecorder struct{}

func (noAccessRecorder) Touched(string)               {}
func (noAccessRecorder) Stored(string, int64)         {}
func (noAccessRecorder) Hold(string) (release func()) { return func() {} }

// openStoredBlob opens a stored blob for a client and holds it against
// eviction until the reader is closed.
func (c *Cache) openStoredBlob(ctx context.Context, d digest.Digest, offset int64) (io.ReadCloser, error) {
	key := blobKey(d)
	release := c.access.Hold(key)
	r, _, err := c.store.Open(ctx, key, offset)
	if err != nil {
		release()
		return nil, err
	}
	c.access.Touched(key)
	return &heldReader{ReadCloser: r, release: release}, nil
}

// heldReader releases its hold on the object when closed.
type heldReader struct {
	io.ReadCloser
	release func()
}

// File returns the stored file being read, or nil when the store is not a
// filesystem. The server sends a file with sendfile(2), which net/http uses
// only when it is given the *os.File itself.
func (r *heldReader) File() *os.File {
	f, _ := r.ReadCloser.(*os.File)
	return f
}

func (r *heldReader) Close() error {
	err := r.ReadCloser.Close()
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return err
}

// stored reports a successful commit: to the access recorder, and to the
// write-failure tracker, so that it logs once that storing works again.
func (c *Cache) stored(key string, size int64) {
	c.access.Stored(key, size)
	c.writes.succeeded()
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// bypassBlob streams a blob from upstream to one client without storing or
// spooling it, for when the disk cannot take it. Each client makes its own
// upstream transfer; blob GETs do not count against Docker Hub's pull limit.
func (c *Cache) bypassBlob(ctx context.Context, remote Remote, repo string, d digest.Digest) (*Blob, error) {
	name := remote.Client.Name()
	release, err := c.acquireFetchSlot(ctx)
	if err != nil {
		return nil, err
	}

	body, size, err := remote.Client.GetBlob(ctx, repo, d)
	c.recordUpstreamResult(name, err)
	if err != nil {
		release()
		return nil, c.mapNotFound(err, ErrBlobUnknown)
	}

	var once sync.Once
	opened := false
	closeAll := func() {
		once.Do(func() {
			body.Close()
			release()
		})
	}
	return &Blob{
		Digest: d,
		Size:   size,
		Status: StatusBypass,
		open: func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			if opened {
				return nil, fmt.Errorf("blob %s streamed from upstream can be read only once", d)
			}
			opened = true
			return &verifyingReader{body: body, hasher: d.Algorithm().Hash(), want: d, size: size, skip: offset, upstream: name}, nil
		},
		close: closeAll,
	}, nil
}

// verifyingReader passes a blob body through from offset skip while it
// hashes every byte. Like fetchReader it holds back the last byte until
// the digest verified, so a client never receives a complete-looking body
// of wrong bytes.
type verifyingReader struct {
	body     io.Reader
	hasher   hash.Hash
	want     digest.Digest
	size     int64 // expected length; -1 when unknown
	skip     int64
	upstream string

	buf     []byte
	read    int64
	pending []byte // bytes ready for the client
	held    []byte // the last byte read, until the next read or the end
	done    bool
	err     error
}

// verifyChunk is the read size of a bypassed blob.
const verifyChunk = 32 << 10

func (r *verifyingReader) Read(p []byte) (int, error) {
	for {
		if len(r.pending) > 0 || len(p) == 0 {
			n := copy(p, r.pending)
			r.pending = r.pending[n:]
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.fill()
	}
}

// fill reads the next chunk of the body into pending.
func (r *verifyingReader) fill() error {
	if r.buf == nil {
		r.buf = make([]byte, verifyChunk)
	}
	n, readErr := r.body.Read(r.buf)
	r.hasher.Write(r.buf[:n])
	r.read += int64(n)
	data := append(r.held, r.buf[:n]...)
	r.held = nil

	switch {
	case readErr == io.EOF:
		if err := r.verify(); err != nil {
			return err
		}
		r.done = true
	case readErr != nil:
		return fmt.Errorf("read blob %s from %s: %w", r.want, r.upstream, readErr)
	case len(data) > 0:
		r.held = []byte{data[len(data)-1]}
		data = data[:len(data)-1]
	}

	if r.skip > 0 {
		drop := min(r.skip, int64(len(data)))
		data = data[drop:]
		r.skip -= drop
	}
	r.pending = data
	return nil
}

func (r *verifyingReader) verify() error {
	if r.size >= 0 && r.read != r.size {
		return fmt.Errorf("read blob %s from %s: received %d bytes, expected Content-Length %d: %w", r.want, r.upstream, r.read, r.size, io.ErrUnexpectedEOF)
	}
	got := digest.NewDigestFromEncoded(r.want.Algorithm(), fmt.Sprintf("%x", r.hasher.Sum(nil)))
	if got != r.want {
		return fmt.Errorf("blob %s from %s: %w (got %s)", r.want, r.upstream, ErrDigestMismatch, got)
	}
	return nil
}

func (r *verifyingReader) Close() error { return nil }

// isSpoolFull reports whether a fetch failed only because its spool file
// had no room, so that the client can be served by bypassBlob.
func isSpoolFull(err error) bool { return errors.Is(err, errSpoolFull) }

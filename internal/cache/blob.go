package cache

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/storage"
)

// Blob is a blob ready to be read: from the store, or from a fetch in
// progress. Close releases it.
type Blob struct {
	Digest digest.Digest
	// Size is the blob's length, or -1 when upstream sent no Content-Length.
	Size   int64
	Status Status

	open  func(ctx context.Context, offset int64) (io.ReadCloser, error)
	wait  func(ctx context.Context) (int64, error)
	close func()
}

// WaitSize returns the blob's size, waiting for a fetch in progress to end
// when upstream sent no Content-Length. A Range request needs the size
// before the response can start.
func (b *Blob) WaitSize(ctx context.Context) (int64, error) {
	if b.Size >= 0 || b.wait == nil {
		return b.Size, nil
	}
	size, err := b.wait(ctx)
	if err != nil {
		return 0, err
	}
	b.Size = size
	return size, nil
}

// Open returns a reader from offset to the end of the blob. A reader of a
// fetch in progress waits for bytes as they arrive and fails if the fetch
// fails or the digest does not verify.
func (b *Blob) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	return b.open(ctx, offset)
}

// Close releases the blob; readers already opened must be closed first.
func (b *Blob) Close() {
	if b.close != nil {
		b.close()
		b.close = nil
	}
}

// GetBlob returns the blob from the store, or starts (or joins) its fetch
// from upstream and returns once the upstream response headers arrived.
func (c *Cache) GetBlob(ctx context.Context, upstreamName, repo string, d digest.Digest) (*Blob, error) {
	remote, err := c.remote(upstreamName)
	if err != nil {
		return nil, err
	}

	if blob, err := c.storedBlob(ctx, d); blob != nil || err != nil {
		return blob, err
	}

	f, err := c.joinBlobFetch(ctx, remote, repo, d)
	if err != nil {
		return nil, err
	}
	if f == nil {
		// Committed between the first look and the join.
		return c.storedBlob(ctx, d)
	}

	select {
	case <-f.ready:
	case <-ctx.Done():
		f.unref()
		return nil, ctx.Err()
	}

	f.mu.Lock()
	size, fetchErr, bypass := f.size, f.err, f.bypass
	f.mu.Unlock()
	if fetchErr != nil {
		f.unref()
		if isSpoolFull(fetchErr) {
			return c.bypassBlob(ctx, remote, repo, d)
		}
		return nil, fetchErr
	}
	status := StatusMiss
	if bypass {
		status = StatusBypass
	}

	return &Blob{
		Digest: d,
		Size:   size,
		Status: status,
		open: func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			return &fetchReader{ctx: ctx, fetch: f, offset: offset}, nil
		},
		wait:  f.wait,
		close: f.unref,
	}, nil
}

// storedBlob returns the stored blob, or nil and no error when it is not
// stored. Any other store error is returned: it must not pass for a miss.
// TODO: blobs are shared by every repository and upstream, and nothing checks
// that the requested repository contains the blob. Allow/deny rules and
// client authentication need a per-repository link first.
func (c *Cache) storedBlob(ctx context.Context, d digest.Digest) (*Blob, error) {
	info, err := c.store.Stat(ctx, blobKey(d))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat stored blob %s: %w", d, err)
	}
	return &Blob{
		Digest: d,
		Size:   info.Size,
		Status: StatusHit,
		open: func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			return c.openStoredBlob(ctx, d, offset)
		},
	}, nil
}

// joinBlobFetch returns the fetch in progress for d, starting one if there
// is none, with a reference held for the caller. It returns nil when the
// blob was committed to the store in the meantime.
func (c *Cache) joinBlobFetch(ctx context.Context, remote Remote, repo string, d digest.Digest) (*blobFetch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if f, ok := c.blobs[d]; ok {
		f.ref()
		if c.onCoalesced != nil {
			c.onCoalesced("blob")
		}
		return f, nil
	}
	if _, err := c.store.Stat(ctx, blobKey(d)); err == nil {
		return nil, nil
	}

	f, err := c.newBlobFetch(d)
	if err != nil {
		return nil, err
	}
	c.blobs[d] = f
	f.ref()
	go c.runBlobFetch(logging.RequestID(ctx), remote, repo, f)
	return f, nil
}

// HeadBlob returns a blob's size without fetching it: from the store, from
// a fetch in progress, or from an upstream HEAD (nothing is stored).
func (c *Cache) HeadBlob(ctx context.Context, upstreamName, repo string, d digest.Digest) (int64, Status, error) {
	remote, err := c.remote(upstreamName)
	if err != nil {
		return 0, "", err
	}

	blob, err := c.storedBlob(ctx, d)
	if err != nil {
		return 0, "", err
	}
	if blob != nil {
		return blob.Size, StatusHit, nil
	}

	c.mu.Lock()
	f := c.blobs[d]
	c.mu.Unlock()
	if f != nil {
		if size, ok := f.knownSize(); ok {
			return size, StatusMiss, nil
		}
	}

	desc, err := remote.Client.HeadBlob(ctx, repo, d)
	c.recordUpstreamResult(upstreamName, err)
	if err != nil && fallbackWorthy(err) {
		if size, ok := c.headBlobFromFallbacks(ctx, remote, repo, d); ok {
			return size, StatusMiss, nil
		}
	}
	if err != nil {
		return 0, "", c.mapNotFound(err, ErrBlobUnknown)
	}
	return desc.Size, StatusMiss, nil
}

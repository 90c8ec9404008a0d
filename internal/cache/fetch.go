package cache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/logging"
)

// blobFetch is one upstream transfer of a blob. Its bytes go to an
// unlinked spool file, from which every client that asked for the blob
// reads as they arrive, and at the same time to a store writer that is
// committed only when the digest verifies.
type blobFetch struct {
	digest digest.Digest
	spool  *os.File
	// ready is closed once the upstream response headers arrived (size is known) or the fetch failed (err is set).
	ready chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed and replaced each time written or done changes
	size    int64         // from Content-Length; -1 when upstream sent none
	bypass  bool          // the store could not take the blob: clients get it streamed only
	written int64
	done    bool  // all bytes arrived and were verified
	err     error // set when the fetch failed; readers return it
	refs    int   // the fetch goroutine and each open Blob
}

// blobChunk is the read size of a fetch: large enough for few system
// calls, small enough that memory stays flat whatever the blob size.
const blobChunk = 256 << 10

func (c *Cache) newBlobFetch(d digest.Digest) (*blobFetch, error) {
	spool, err := os.CreateTemp(c.spoolDir, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("create spool file for %s: %w", d, err)
	}
	// Unlinked at once: the open descriptors keep the bytes, and a crash
	// leaves nothing behind.
	if err := os.Remove(spool.Name()); err != nil {
		spool.Close()
		return nil, fmt.Errorf("unlink spool file for %s: %w", d, err)
	}
	return &blobFetch{
		digest:  d,
		spool:   spool,
		ready:   make(chan struct{}),
		changed: make(chan struct{}),
		size:    -1,
		refs:    1,
	}, nil
}

// notifyLocked wakes every reader waiting for bytes. f.mu must be held.
func (f *blobFetch) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *blobFetch) setSize(size int64) {
	f.mu.Lock()
	f.size = size
	f.mu.Unlock()
	close(f.ready)
}

func (f *blobFetch) advance(n int64) {
	f.mu.Lock()
	f.written += n
	f.notifyLocked()
	f.mu.Unlock()
}

// finish ends the fetch. A nil err means the bytes verified.
func (f *blobFetch) finish(err error) {
	f.mu.Lock()
	if err != nil {
		f.err = err
	} else {
		f.done = true
	}
	f.notifyLocked()
	f.mu.Unlock()

	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
}

func (f *blobFetch) ref() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

func (f *blobFetch) unref() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	f.mu.Unlock()
	if last {
		f.spool.Close()
	}
}

// knownSize returns the size once the upstream response headers arrived.
func (f *blobFetch) knownSize() (int64, bool) {
	select {
	case <-f.ready:
	default:
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || f.size < 0 {
		return 0, false
	}
	return f.size, true
}

// wait blocks until the fetch ends and returns its length.
func (f *blobFetch) wait(ctx context.Context) (int64, error) {
	for {
		f.mu.Lock()
		done, err, written, changed := f.done, f.err, f.written, f.changed
		f.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if done {
			return written, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// fetchReader reads a fetch's bytes from offset as they arrive. It holds
// back the last byte until the digest verified, so that a client never
// receives a complete-looking body of wrong bytes: on a mismatch its
// transfer fails short.
type fetchReader struct {
	ctx    context.Context
	fetch  *blobFetch
	offset int64
}

func (r *fetchReader) Read(p []byte) (int, error) {
	f := r.fetch
	for {
		f.mu.Lock()
		if f.err != nil {
			err := f.err
			f.mu.Unlock()
			return 0, err
		}
		available := f.written
		if !f.done {
			available--
		}
		if r.offset < available {
			n := min(int64(len(p)), available-r.offset)
			f.mu.Unlock()
			read, err := f.spool.ReadAt(p[:n], r.offset)
			r.offset += int64(read)
			if err == io.EOF && int64(read) == n {
				err = nil
			}
			return read, err
		}
		if f.done {
			f.mu.Unlock()
			return 0, io.EOF
		}
		wait := f.changed
		f.mu.Unlock()

		select {
		case <-wait:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

func (r *fetchReader) Close() error { return nil }

// runBlobFetch is the goroutine that transfers a blob from upstream. It
// runs on a context of its own, so the fetch completes and is stored when
// the client that started it leaves. That context carries only the
// starting request's id, for the log records of the fetch.
func (c *Cache) runBlobFetch(requestID string, remote Remote, repo string, f *blobFetch) {
	ctx := logging.WithRequestID(context.Background(), requestID)
	name := remote.Client.Name()
	err := c.transferBlob(ctx, remote, repo, f)

	// Leave the map before finishing, so that a request arriving now finds
	// the committed blob in the store or starts a fetch of its own, never
	// this finished one.
	c.mu.Lock()
	delete(c.blobs, f.digest)
	c.mu.Unlock()
	f.finish(err)
	f.unref()

	if err != nil && !isSpoolFull(err) {
		c.log.WarnContext(ctx, "blob fetch failed", slog.String("upstream", name), slog.String("repo", repo),
			slog.String("digest", f.digest.String()), slog.Any("err", err))
	}
}

func (c *Cache) transferBlob(ctx context.Context, remote Remote, repo string, f *blobFetch) error {
	name := remote.Client.Name()
	release, err := c.acquireFetchSlot(ctx)
	if err != nil {
		return err
	}
	defer release()

	body, size, err := remote.Client.GetBlob(ctx, repo, f.digest)
	c.recordUpstreamResult(name, err)
	if err != nil && fallbackWorthy(err) && len(fallbacksFor(remote, repo)) > 0 {
		return c.transferBlobFromFallbacks(ctx, remote, repo, f, err)
	}
	if err != nil {
		return c.mapNotFound(err, ErrBlobUnknown)
	}
	defer body.Close()
	if err := reserveSpool(f.spool, size); err != nil {
		c.writes.failed(ctx, "blob", blobKey(f.digest), err)
		return err
	}

	w, err := c.store.Create(ctx, blobKey(f.digest))
	if err != nil {
		c.writes.failed(ctx, "blob", blobKey(f.digest), err)
		w = nil
		f.bypass = true
	}
	f.setSize(size)
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()

	hasher := f.digest.Algorithm().Hash()
	buf := make([]byte, blobChunk)
	var total int64
	for {
		n, readErr := body.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if _, err := f.spool.WriteAt(chunk, total); err != nil {
				return fmt.Errorf("write spool file for %s: %w", f.digest, err)
			}
			hasher.Write(chunk)
			if w != nil {
				if _, err := w.Write(chunk); err != nil {
					c.writes.failed(ctx, "blob", blobKey(f.digest), err)
					w.Abort()
					w = nil
				}
			}
			total += int64(n)
			f.advance(int64(n))
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			return fmt.Errorf("read blob %s from %s: %w", f.digest, name, readErr)
		}
	}

	if size >= 0 && total != size {
		return fmt.Errorf("read blob %s from %s: received %d bytes, expected Content-Length %d: %w", f.digest, name, total, size, io.ErrUnexpectedEOF)
	}
	got := digest.NewDigestFromEncoded(f.digest.Algorithm(), fmt.Sprintf("%x", hasher.Sum(nil)))
	if got != f.digest {
		return fmt.Errorf("blob %s from %s: %w (got %s)", f.digest, name, ErrDigestMismatch, got)
	}

	if w != nil {
		if err := w.Commit(ctx); err != nil {
			c.writes.failed(ctx, "blob", blobKey(f.digest), err)
		} else {
			c.stored(blobKey(f.digest), total)
			c.log.InfoContext(ctx, "stored blob", slog.String("upstream", name), slog.String("repo", repo),
				slog.String("digest", f.digest.String()), slog.Int64("size", total))
		}
		w = nil
	}
	return nil
}

var _ io.ReadCloser = (*fetchReader)(nil)

package cache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/storage"
)

// transferBlobFromFallbacks fetches a blob that the upstream failed to send
// from the fallbacks in order. Unlike an upstream transfer, a fallback's
// bytes reach clients only after their digest verified. Until then the
// fetch reports no size and no bytes. So a source that sends wrong bytes
// can be skipped, and the next one tried, before any client read from it.
func (c *Cache) transferBlobFromFallbacks(ctx context.Context, remote Remote, repo string, f *blobFetch, upstreamErr error) error {
	name := remote.Client.Name()
	var failures []string
	mismatch := false

	for _, fb := range fallbacksFor(remote, repo) {
		source := fb.Client.Name()
		fallbackRepo, _ := fb.repository(repo)

		size, err := c.copyFallbackBlob(ctx, fb, fallbackRepo, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}

		outcome := fallbackOutcome(err)
		c.observer.FallbackFetch(FallbackEvent{Upstream: name, Source: source, Kind: "blob", Outcome: outcome})
		if err == nil {
			c.log.InfoContext(ctx, "fetched blob from fallback", slog.String("upstream", name), slog.String("fallback", source),
				slog.String("repo", repo), slog.String("fallback_repo", fallbackRepo), slog.String("digest", f.digest.String()),
				slog.Int64("size", size))
			return nil
		}
		if outcome == FallbackMismatch {
			mismatch = true
			c.log.WarnContext(ctx, "fallback sent a blob that does not match its digest; skipped", slog.String("upstream", name),
				slog.String("fallback", source), slog.String("repo", fallbackRepo), slog.String("digest", f.digest.String()),
				slog.Any("err", err))
		}
		failures = append(failures, fmt.Sprintf("%s: %v", source, err))
	}

	fallbackErr := fmt.Errorf("no fallback served blob %s: %s", f.digest, strings.Join(failures, "; "))
	if mismatch {
		fallbackErr = fmt.Errorf("%w: %w", ErrDigestMismatch, fallbackErr)
	}
	return joinFallbackError(c.mapNotFound(upstreamErr, ErrBlobUnknown), fallbackErr)
}

// copyFallbackBlob copies one fallback's blob into the spool file and a
// store writer, verifies it, and only then commits it and releases the
// bytes to the fetch's readers.
func (c *Cache) copyFallbackBlob(ctx context.Context, fb Fallback, fallbackRepo string, f *blobFetch) (int64, error) {
	source := fb.Client.Name()
	body, size, err := fb.Client.GetBlob(ctx, fallbackRepo, f.digest)
	if err != nil {
		return 0, err
	}
	defer body.Close()

	w, err := c.store.Create(ctx, blobKey(f.digest))
	if err != nil {
		c.log.Error("store blob: streaming without storing", slog.String("digest", f.digest.String()), slog.Any("err", err))
		w = nil
	}
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()

	hasher := f.digest.Algorithm().Hash()
	stored := &storeSink{w: w}
	sink := io.MultiWriter(io.NewOffsetWriter(f.spool, 0), hasher, stored)
	total, err := io.CopyBuffer(sink, body, make([]byte, blobChunk))
	if err != nil {
		return total, fmt.Errorf("read blob %s from fallback %s: %w", f.digest, source, err)
	}
	if size >= 0 && total != size {
		return total, fmt.Errorf("read blob %s from fallback %s: received %d bytes, expected Content-Length %d: %w", f.digest, source, total, size, io.ErrUnexpectedEOF)
	}
	got := digest.NewDigestFromEncoded(f.digest.Algorithm(), fmt.Sprintf("%x", hasher.Sum(nil)))
	if got != f.digest {
		return total, fmt.Errorf("blob %s from fallback %s: %w (got %s)", f.digest, source, ErrDigestMismatch, got)
	}

	if w != nil && stored.err != nil {
		c.log.Error("store blob: streaming without storing", slog.String("digest", f.digest.String()), slog.Any("err", stored.err))
		w.Abort()
		w = nil
	}
	if w != nil {
		if err := w.Commit(ctx); err != nil {
			c.log.Error("commit blob", slog.String("digest", f.digest.String()), slog.Any("err", err))
		}
		w = nil
	} else {
		f.bypass = true
	}
	f.setSize(total)
	f.advance(total)
	return total, nil
}

// storeSink writes to a store writer, if any. Its Write always returns
// len(p) and a nil error, so a store that cannot take the blob does not
// stop the copy to the client. The first write error is kept in err, and
// later writes to the store are dropped.
type storeSink struct {
	w   storage.Writer
	err error
}

func (s *storeSink) Write(p []byte) (int, error) {
	if s.w != nil && s.err == nil {
		if _, err := s.w.Write(p); err != nil {
			s.err = err
		}
	}
	return len(p), nil
}

// headBlobFromFallbacks returns a blob's size from the first fallback whose
// HEAD succeeds, for a client HEAD the upstream failed. The size is not
// verified here, but the GET that follows verifies the bytes.
func (c *Cache) headBlobFromFallbacks(ctx context.Context, remote Remote, repo string, d digest.Digest) (int64, bool) {
	for _, fb := range fallbacksFor(remote, repo) {
		fallbackRepo, _ := fb.repository(repo)
		desc, err := fb.Client.HeadBlob(ctx, fallbackRepo, d)
		if err == nil && desc.Size >= 0 {
			return desc.Size, true
		}
	}
	return 0, false
}

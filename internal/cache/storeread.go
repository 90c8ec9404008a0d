package cache

import (
	"context"
	"errors"
	"log/slog"

	"github.com/pullcache/pullcache/internal/storage"
)

// storeReadError is a failed read of a stored record for another reason
// than not found, such as an unreachable bucket.
type storeReadError struct{ err error }

func (e *storeReadError) Error() string { return "read store: " + e.err.Error() }
func (e *storeReadError) Unwrap() error { return e.err }

// asStoreReadError marks err as a failed store read unless it is nil or
// ErrNotFound, which callers handle as a miss.
func asStoreReadError(err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return &storeReadError{err: err}
}

// manifestAfterReadError serves a manifest from upstream, without storing
// it, when the store could not be read: the client gets the manifest as a
// BYPASS instead of a 500 while upstream is up. The request's own
// cancellation is returned as it is.
func (c *Cache) manifestAfterReadError(ctx context.Context, remote Remote, repo, ref string, readErr error) (ManifestResult, error) {
	if ctx.Err() != nil {
		return ManifestResult{}, readErr
	}
	name := remote.Client.Name()
	c.log.ErrorContext(ctx, "store read failed; serving from upstream without storing", slog.String("upstream", name),
		slog.String("repo", repo), slog.String("ref", ref), slog.Any("err", readErr))

	release, err := c.acquireFetchSlot(ctx)
	if err != nil {
		return ManifestResult{}, err
	}
	defer release()

	m, err := c.getVerifiedManifest(ctx, remote, repo, ref)
	if err != nil {
		return ManifestResult{}, err
	}
	mediaType := detectMediaType(m.MediaType, m.Body)
	c.log.InfoContext(ctx, "fetched manifest", slog.String("upstream", name), slog.String("repo", repo),
		slog.String("ref", ref), slog.String("digest", m.Digest.String()), slog.String("media_type", mediaType),
		slog.Bool("stored", false))
	return ManifestResult{MediaType: mediaType, Digest: m.Digest, Size: int64(len(m.Body)), Body: m.Body, Status: StatusBypass}, nil
}

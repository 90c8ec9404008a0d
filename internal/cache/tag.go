package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/upstream"
)

// tagResult is the outcome of one tag lookup, shared by concurrent requests.
type tagResult struct {
	rec         manifestRecord
	status      Status
	upstreamErr error
}

// manifestByTag serves a tag: from the store while it is younger than the
// TTL, else after an upstream HEAD (and a GET only when the digest moved).
func (c *Cache) manifestByTag(ctx context.Context, remote Remote, repo, tag string) (ManifestResult, error) {
	name := remote.Client.Name()

	rec, found, err := c.loadTag(ctx, name, repo, tag)
	if err != nil {
		return c.manifestAfterReadError(ctx, remote, repo, tag, err)
	}
	if found && c.now().Sub(rec.CheckedAt) < remote.TagTTL {
		m, err := c.loadManifest(ctx, rec.Digest)
		if err == nil {
			return resultFromRecord(m, StatusHit, nil), nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return c.manifestAfterReadError(ctx, remote, repo, tag, err)
		}
		// The manifest was evicted: treat the tag as not stored.
	}

	res, _, err := c.tags.do(ctx, "tag\x00"+name+"\x00"+repo+"\x00"+tag, func(ctx context.Context) (tagResult, error) {
		return c.refreshTag(ctx, remote, repo, tag)
	})
	var readErr *storeReadError
	if errors.As(err, &readErr) {
		return c.manifestAfterReadError(ctx, remote, repo, tag, readErr.err)
	}
	if err != nil {
		return ManifestResult{}, err
	}
	return resultFromRecord(res.rec, res.status, res.upstreamErr), nil
}

// refreshTag revalidates a stored tag or fetches one that is not stored.
func (c *Cache) refreshTag(ctx context.Context, remote Remote, repo, tag string) (tagResult, error) {
	name := remote.Client.Name()

	stored, found, err := c.loadTag(ctx, name, repo, tag)
	if err != nil {
		return tagResult{}, asStoreReadError(err)
	}
	var storedManifest manifestRecord
	if found {
		storedManifest, err = c.loadManifest(ctx, stored.Digest)
		if errors.Is(err, storage.ErrNotFound) {
			found = false
		} else if err != nil {
			return tagResult{}, asStoreReadError(err)
		}
	}
	if !found {
		return c.fetchTag(ctx, remote, repo, tag)
	}
	stale := func(cause error) (tagResult, error) {
		c.logStale(ctx, name, repo, tag, cause)
		return tagResult{rec: storedManifest, status: StatusStale, upstreamErr: cause}, nil
	}

	if until, suspended := c.upstreamSuspended(name); suspended {
		return stale(&SuspendedError{Upstream: name, Until: until})
	}
	if _, noDigest := c.noHeadDigest.Load(name); noDigest {
		// This upstream's HEAD cannot tell whether the tag moved, so one
		// GET is the whole revalidation.
		return c.revalidateWithGet(ctx, remote, repo, tag, stored, stale)
	}
	// While requests to the upstream are held after its abuse limit, this
	// HEAD fails at once, so the stored copy is served without waiting out
	// the hold.
	desc, err := remote.Client.HeadManifest(upstream.WithoutHoldWait(ctx), repo, tag)
	c.recordUpstreamResult(name, err)
	if err != nil {
		var upErr *upstream.Error
		if errors.As(err, &upErr) && upErr.Kind == upstream.KindNotFound && c.authoritative {
			return c.forgetTag(ctx, name, repo, tag, err)
		}
		return stale(err)
	}

	if desc.Digest == "" {
		if _, loaded := c.noHeadDigest.LoadOrStore(name, struct{}{}); !loaded {
			c.log.Warn("upstream sends no Docker-Content-Digest on manifest HEAD; revalidating its tags with GET",
				slog.String("upstream", name))
		}
		return c.revalidateWithGet(ctx, remote, repo, tag, stored, stale)
	}

	if desc.Digest == stored.Digest {
		stored.CheckedAt = c.now()
		if err := c.writeJSON(ctx, tagKey(name, repo, tag), stored); err != nil {
			c.writes.failed(ctx, "tag", tagKey(name, repo, tag), err)
		}
		return tagResult{rec: storedManifest, status: StatusRevalidated}, nil
	}

	if c.reserveHolds(remote) {
		return c.answerFromReserve(ctx, remote, repo, tag, desc.Digest, desc.MediaType, stale)
	}
	res, err := c.fetchTag(ctx, remote, repo, tag)
	if err != nil {
		return stale(err)
	}
	return res, nil
}

// revalidateWithGet fetches the tag again, for an upstream whose HEAD
// lacks the digest. The same digest counts as REVALIDATED.
func (c *Cache) revalidateWithGet(ctx context.Context, remote Remote, repo, tag string, stored tagRecord, stale func(error) (tagResult, error)) (tagResult, error) {
	res, err := c.fetchTag(ctx, remote, repo, tag)
	if err != nil {
		return stale(err)
	}
	if res.rec.Digest == stored.Digest {
		res.status = StatusRevalidated
	}
	return res, nil
}

// fetchTag GETs the tag's manifest, stores it and only then points the tag
// at it, so a failed fetch leaves the previous digest servable.
func (c *Cache) fetchTag(ctx context.Context, remote Remote, repo, tag string) (tagResult, error) {
	name := remote.Client.Name()

	rec, err := c.fetchManifest(ctx, remote, repo, tag)
	if err != nil {
		return tagResult{}, err
	}
	if rec.notStored {
		return tagResult{rec: rec, status: StatusMiss}, nil
	}
	tr := tagRecord{Digest: rec.Digest, MediaType: rec.MediaType, Size: int64(len(rec.Body)), CheckedAt: c.now()}
	if err := c.writeJSON(ctx, tagKey(name, repo, tag), tr); err != nil {
		c.writes.failed(ctx, "tag", tagKey(name, repo, tag), err)
	}
	return tagResult{rec: rec, status: StatusMiss}, nil
}

// forgetTag removes a tag that an authoritative upstream deleted.
func (c *Cache) forgetTag(ctx context.Context, upstreamName, repo, tag string, cause error) (tagResult, error) {
	err := c.store.Delete(ctx, tagKey(upstreamName, repo, tag))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return tagResult{}, fmt.Errorf("remove tag %s:%s deleted upstream: %w", repo, tag, err)
	}
	c.log.Info("tag deleted upstream; removed from the store", slog.String("upstream", upstreamName),
		slog.String("repo", repo), slog.String("tag", tag))
	return tagResult{}, fmt.Errorf("%w: %w", ErrManifestUnknown, cause)
}

func (c *Cache) logStale(ctx context.Context, upstreamName, repo, ref string, cause error) {
	c.log.WarnContext(ctx, "serving stored manifest because upstream failed", slog.String("upstream", upstreamName),
		slog.String("repo", repo), slog.String("ref", ref), slog.Any("err", cause))
}

package cache

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/opencontainers/go-digest"
)

// reserveHolds reports whether the quota reserve applies: the upstream's
// last response, in a window still in force, left QuotaReserve pulls or
// fewer. Those pulls are kept for content that is not stored at all.
func (c *Cache) reserveHolds(remote Remote) bool {
	rl, ok := remote.Client.RateLimit()
	return ok && rl.Remaining <= remote.QuotaReserve && c.rateLimitCurrent(rl)
}

// answerFromReserve serves a stored tag that moved upstream to moved while
// the reserve holds: with the new manifest from a fallback when one has
// it, else with the stored manifest as STALE. It makes no manifest GET to
// the upstream.
func (c *Cache) answerFromReserve(ctx context.Context, remote Remote, repo, tag string, moved digest.Digest, mediaType string,
	stale func(error) (tagResult, error)) (tagResult, error) {
	name := remote.Client.Name()
	rl, _ := remote.Client.RateLimit()
	held := fmt.Errorf("tag moved to %s, but upstream %s has %d pulls left and %d are held in reserve",
		moved, name, rl.Remaining, remote.QuotaReserve)

	sources := fallbacksFor(remote, repo)
	if len(sources) == 0 {
		c.observer.ReserveAnswer(name, ReserveStale)
		return stale(held)
	}

	m, err := c.manifestByDigestFromFallbacks(ctx, remote, sources, repo, moved)
	if err != nil {
		c.observer.ReserveAnswer(name, ReserveStale)
		return stale(fmt.Errorf("%w; %v", held, err))
	}
	if mediaType == "" {
		mediaType = m.MediaType
	}
	rec := manifestRecord{MediaType: detectMediaType(mediaType, m.Body), Digest: moved, Body: m.Body}
	if err := c.storeManifest(ctx, name, repo, rec); err != nil {
		return stale(err)
	}
	tr := tagRecord{Digest: rec.Digest, MediaType: rec.MediaType, Size: int64(len(rec.Body)), CheckedAt: c.now()}
	if err := c.writeJSON(ctx, tagKey(name, repo, tag), tr); err != nil {
		return stale(err)
	}

	c.observer.ReserveAnswer(name, ReserveFallback)
	c.log.Info("quota reserve: moved tag served from a fallback", slog.String("upstream", name), slog.String("repo", repo),
		slog.String("tag", tag), slog.String("digest", moved.String()), slog.Int("remaining", rl.Remaining),
		slog.Int("reserve", remote.QuotaReserve))
	return tagResult{rec: rec, status: StatusMiss}, nil
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/upstream"
)

// ManifestResult is the manifest sent to a client. Body is nil when a HEAD
// for a tag that is not stored was served from an upstream HEAD.
type ManifestResult struct {
	MediaType string
	Digest    digest.Digest
	Size      int64
	Body      []byte
	Status    Status
	// UpstreamErr is the upstream failure behind a STALE result.
	UpstreamErr error
}

func resultFromRecord(rec manifestRecord, status Status, upstreamErr error) ManifestResult {
	if rec.notStored && status == StatusMiss {
		status = StatusBypass
	}
	return ManifestResult{
		MediaType:   rec.MediaType,
		Digest:      rec.Digest,
		Size:        int64(len(rec.Body)),
		Body:        rec.Body,
		Status:      status,
		UpstreamErr: upstreamErr,
	}
}

// GetManifest returns the manifest that ref (a tag or a digest) names in
// repo of the named upstream, applying the freshness rules.
func (c *Cache) GetManifest(ctx context.Context, upstreamName, repo, ref string) (ManifestResult, error) {
	remote, err := c.remote(upstreamName)
	if err != nil {
		return ManifestResult{}, err
	}
	if d, err := digest.Parse(ref); err == nil {
		return c.manifestByDigest(ctx, remote, repo, d)
	}
	return c.manifestByTag(ctx, remote, repo, ref)
}

// HeadManifest serves a HEAD request. A tag or digest that is not stored
// is served from an upstream HEAD, which Docker Hub does not count as a
// pull, and nothing is stored; only when that HEAD lacks the digest or the
// media type is the manifest fetched.
func (c *Cache) HeadManifest(ctx context.Context, upstreamName, repo, ref string) (ManifestResult, error) {
	remote, err := c.remote(upstreamName)
	if err != nil {
		return ManifestResult{}, err
	}

	d, digestErr := digest.Parse(ref)
	if digestErr == nil {
		rec, err := c.loadManifest(ctx, d)
		if err == nil {
			return resultFromRecord(rec, StatusHit, nil), nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return ManifestResult{}, err
		}
	} else {
		_, found, err := c.loadTag(ctx, upstreamName, repo, ref)
		if err != nil {
			return ManifestResult{}, err
		}
		if found {
			return c.manifestByTag(ctx, remote, repo, ref)
		}
	}

	desc, err := remote.Client.HeadManifest(ctx, repo, ref)
	c.recordUpstreamResult(upstreamName, err)
	if err != nil && digestErr == nil && fallbackWorthy(err) && len(fallbacksFor(remote, repo)) > 0 {
		// A digest the fallbacks may hold: fetch and store it from them.
		return c.GetManifest(ctx, upstreamName, repo, ref)
	}
	if err != nil {
		return ManifestResult{}, c.mapNotFound(err, ErrManifestUnknown)
	}
	if desc.Digest == "" || desc.MediaType == "" || desc.Size <= 0 || (digestErr == nil && desc.Digest != d) {
		return c.GetManifest(ctx, upstreamName, repo, ref)
	}
	return ManifestResult{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Status: StatusMiss}, nil
}

func (c *Cache) manifestByDigest(ctx context.Context, remote Remote, repo string, d digest.Digest) (ManifestResult, error) {
	rec, err := c.loadManifest(ctx, d)
	if err == nil {
		return resultFromRecord(rec, StatusHit, nil), nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return c.manifestAfterReadError(ctx, remote, repo, d.String(), err)
	}

	name := remote.Client.Name()
	rec, _, err = c.manifests.do(ctx, "digest\x00"+name+"\x00"+repo+"\x00"+d.String(), func(ctx context.Context) (manifestRecord, error) {
		return c.fetchManifest(ctx, remote, repo, d.String())
	})
	if err != nil {
		return ManifestResult{}, err
	}
	return resultFromRecord(rec, StatusMiss, nil), nil
}

// fetchManifest GETs a manifest from upstream and stores it with its
// repository link. It does not touch tag records.
func (c *Cache) fetchManifest(ctx context.Context, remote Remote, repo, ref string) (manifestRecord, error) {
	name := remote.Client.Name()
	release, err := c.acquireFetchSlot(ctx)
	if err != nil {
		return manifestRecord{}, err
	}
	defer release()

	m, err := c.getVerifiedManifest(ctx, remote, repo, ref)
	if err != nil {
		return manifestRecord{}, err
	}

	rec := manifestRecord{
		MediaType: detectMediaType(m.MediaType, m.Body),
		Digest:    m.Digest,
		Body:      m.Body,
	}
	if err := c.storeManifest(ctx, name, repo, rec); err != nil {
		c.writes.failed(ctx, "manifest", manifestKey(rec.Digest), err)
		rec.notStored = true
	}
	c.log.InfoContext(ctx, "fetched manifest", slog.String("upstream", name), slog.String("repo", repo),
		slog.String("ref", ref), slog.String("digest", rec.Digest.String()), slog.String("media_type", rec.MediaType),
		slog.Bool("stored", !rec.notStored))
	return rec, nil
}

// getVerifiedManifest gets a manifest from upstream or a fallback, and
// checks that a manifest requested by digest has that digest. A not-found
// error from upstream is wrapped in ErrManifestUnknown.
func (c *Cache) getVerifiedManifest(ctx context.Context, remote Remote, repo, ref string) (upstream.Manifest, error) {
	m, err := c.getManifest(ctx, remote, repo, ref)
	if err != nil {
		return upstream.Manifest{}, c.mapNotFound(err, ErrManifestUnknown)
	}
	if want, err := digest.Parse(ref); err == nil && want != m.Digest {
		return upstream.Manifest{}, fmt.Errorf("fetch manifest %s@%s from %s: %w (got %s)", repo, want, remote.Client.Name(), ErrDigestMismatch, m.Digest)
	}
	return m, nil
}

func (c *Cache) storeManifest(ctx context.Context, upstreamName, repo string, rec manifestRecord) error {
	if _, err := c.store.Stat(ctx, manifestKey(rec.Digest)); errors.Is(err, storage.ErrNotFound) {
		if err := c.writeJSON(ctx, manifestKey(rec.Digest), rec); err != nil {
			return err
		}
		c.stored(manifestKey(rec.Digest), int64(len(rec.Body)))
	} else if err != nil {
		return fmt.Errorf("stat stored manifest %s: %w", rec.Digest, err)
	}
	if err := storage.PutBytes(ctx, c.store, digestLinkKey(upstreamName, repo, rec.Digest), nil); err != nil {
		return fmt.Errorf("link manifest %s into %s: %w", rec.Digest, repo, err)
	}
	return nil
}

// mapNotFound turns an upstream 404 into the cache's sentinel, keeping
// the upstream error as the cause.
func (c *Cache) mapNotFound(err error, sentinel error) error {
	var upErr *upstream.Error
	if errors.As(err, &upErr) && upErr.Kind == upstream.KindNotFound {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return err
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/repoglob"
	"github.com/pullcache/pullcache/internal/upstream"
)

// Fallback is another registry that serves an upstream's content by
// digest, for when the upstream refuses or fails. It is never asked to
// resolve a tag, and what it sends is kept only when its digest matches,
// so it needs no more trust than a disk does.
type Fallback struct {
	// Client is the fallback registry's client. Its Name appears in logs
	// and observer events.
	Client Upstream
	// Repositories are the globs of the upstream repositories it serves;
	// empty means all.
	Repositories []*repoglob.Glob
	// PathPrefix is prepended to the repository name there: with
	// "docker/", library/alpine is docker/library/alpine.
	PathPrefix string
}

// repository returns the fallback's name for the upstream repository
// repo, and false when the fallback does not serve it.
func (f Fallback) repository(repo string) (string, bool) {
	if len(f.Repositories) > 0 {
		matched := false
		for _, p := range f.Repositories {
			if p.Match(repo) {
				matched = true
				break
			}
		}
		if !matched {
			return "", false
		}
	}
	return f.PathPrefix + repo, true
}

// Outcomes of one fetch from a fallback, for the observer.
const (
	FallbackOK       = "ok"        // bytes verified and stored
	FallbackMismatch = "mismatch"  // bytes did not match the digest; skipped
	FallbackNotFound = "not_found" // the fallback does not have it
	FallbackError    = "error"     // any other failure
)

// fallbackWorthy reports whether a failure of the upstream is one a
// fallback may make up for. A 404 is not such a failure, because it means
// the upstream does not have the content, and a fallback that still has
// it would hide that.
func fallbackWorthy(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrQueueFull) {
		return false
	}
	switch upstream.KindOf(err) {
	case upstream.KindNotFound, upstream.KindNotAcceptable, upstream.KindTooLarge:
		return false
	}
	return true
}

// fallbacksFor returns the fallbacks of remote that serve repo.
func fallbacksFor(remote Remote, repo string) []Fallback {
	var out []Fallback
	for _, f := range remote.Fallbacks {
		if _, ok := f.repository(repo); ok {
			out = append(out, f)
		}
	}
	return out
}

// quotaSpent reports whether the upstream's last response reported no
// pulls left in a window that has not ended, so a manifest GET would only
// be rejected.
func (c *Cache) quotaSpent(remote Remote) bool {
	rl, ok := remote.Client.RateLimit()
	return ok && rl.Remaining == 0 && c.rateLimitCurrent(rl)
}

// rateLimitCurrent reports whether rl still describes the window in force.
// A state without a time or a window is taken as current.
func (c *Cache) rateLimitCurrent(rl upstream.RateLimit) bool {
	return rl.Seen.IsZero() || rl.Window <= 0 || c.now().Before(rl.Seen.Add(rl.Window))
}

// getManifest GETs a manifest from the upstream, and from its fallbacks by
// digest when the upstream fails. While the upstream's pull quota is known
// to be spent the fallbacks are asked first, since its GET would be
// refused.
func (c *Cache) getManifest(ctx context.Context, remote Remote, repo, ref string) (upstream.Manifest, error) {
	name := remote.Client.Name()
	sources := fallbacksFor(remote, repo)

	var fallbackErr error
	if len(sources) > 0 && c.quotaSpent(remote) {
		m, err := c.manifestFromFallbacks(ctx, remote, sources, repo, ref)
		if err == nil {
			return m, nil
		}
		fallbackErr = err
	}

	m, err := remote.Client.GetManifest(ctx, repo, ref)
	c.recordUpstreamResult(name, err)
	if err == nil || len(sources) == 0 || !fallbackWorthy(err) {
		return m, err
	}

	if fallbackErr == nil {
		m, fallbackErr = c.manifestFromFallbacks(ctx, remote, sources, repo, ref)
		if fallbackErr == nil {
			return m, nil
		}
	}
	return upstream.Manifest{}, joinFallbackError(err, fallbackErr)
}

// joinFallbackError keeps the upstream's failure as the error clients see,
// unless a fallback sent wrong bytes: that is what the client must hear
// about, as a digest mismatch.
func joinFallbackError(upstreamErr, fallbackErr error) error {
	if errors.Is(fallbackErr, ErrDigestMismatch) {
		return fmt.Errorf("%w; %w", fallbackErr, upstreamErr)
	}
	return fmt.Errorf("%w; %v", upstreamErr, fallbackErr)
}

// manifestFromFallbacks resolves ref to a digest (a tag with a HEAD to the
// upstream, which costs no pull, else from the stored tag) and fetches the
// manifest with that digest from the fallbacks in order.
func (c *Cache) manifestFromFallbacks(ctx context.Context, remote Remote, sources []Fallback, repo, ref string) (upstream.Manifest, error) {
	d, mediaType, err := c.resolveDigest(ctx, remote, repo, ref)
	if err != nil {
		return upstream.Manifest{}, fmt.Errorf("fallbacks not asked: %w", err)
	}
	m, err := c.manifestByDigestFromFallbacks(ctx, remote, sources, repo, d)
	if err != nil {
		return upstream.Manifest{}, err
	}
	if mediaType != "" {
		m.MediaType = mediaType
	}
	return m, nil
}

// resolveDigest returns the digest ref names: ref itself when it is a
// digest, else the digest from an upstream HEAD, else the stored tag.
func (c *Cache) resolveDigest(ctx context.Context, remote Remote, repo, ref string) (digest.Digest, string, error) {
	if d, err := digest.Parse(ref); err == nil {
		return d, "", nil
	}

	name := remote.Client.Name()
	desc, headErr := remote.Client.HeadManifest(ctx, repo, ref)
	c.recordUpstreamResult(name, headErr)
	if headErr == nil && desc.Digest != "" {
		return desc.Digest, desc.MediaType, nil
	}
	if headErr == nil {
		headErr = errors.New("the upstream's HEAD has no Docker-Content-Digest")
	}

	stored, found, err := c.loadTag(ctx, name, repo, ref)
	if err != nil {
		return "", "", err
	}
	if !found {
		return "", "", fmt.Errorf("resolve tag %s:%s: %w", repo, ref, headErr)
	}
	c.log.Warn("resolving tag from the store because upstream HEAD failed; a fallback may serve an older digest than upstream",
		slog.String("upstream", name), slog.String("repo", repo), slog.String("tag", ref),
		slog.String("digest", stored.Digest.String()), slog.Any("err", headErr))
	return stored.Digest, stored.MediaType, nil
}

// manifestByDigestFromFallbacks requests the manifest with digest d from
// each fallback in order and returns the first whose bytes match d.
func (c *Cache) manifestByDigestFromFallbacks(ctx context.Context, remote Remote, sources []Fallback, repo string, d digest.Digest) (upstream.Manifest, error) {
	name := remote.Client.Name()
	var failures []string
	mismatch := false

	for _, f := range sources {
		source := f.Client.Name()
		fallbackRepo, _ := f.repository(repo)

		m, err := f.Client.GetManifest(ctx, fallbackRepo, d.String())
		if err == nil && (!d.Algorithm().Available() || d.Algorithm().FromBytes(m.Body) != d) {
			err = fmt.Errorf("%w: fallback %s sent manifest bytes for %s that do not match it", ErrDigestMismatch, source, d)
		}
		if ctx.Err() != nil {
			return upstream.Manifest{}, ctx.Err()
		}

		outcome := fallbackOutcome(err)
		c.observer.FallbackFetch(FallbackEvent{Upstream: name, Source: source, Kind: "manifest", Outcome: outcome})
		if err == nil {
			m.Digest = d
			c.log.InfoContext(ctx, "fetched manifest from fallback", slog.String("upstream", name), slog.String("fallback", source),
				slog.String("repo", repo), slog.String("fallback_repo", fallbackRepo), slog.String("digest", d.String()))
			return m, nil
		}

		if outcome == FallbackMismatch {
			mismatch = true
			c.log.WarnContext(ctx, "fallback sent a manifest that does not match its digest; skipped", slog.String("upstream", name),
				slog.String("fallback", source), slog.String("repo", fallbackRepo), slog.String("digest", d.String()), slog.Any("err", err))
		}
		failures = append(failures, fmt.Sprintf("%s: %v", source, err))
	}

	err := fmt.Errorf("no fallback served manifest %s: %s", d, strings.Join(failures, "; "))
	if mismatch {
		err = fmt.Errorf("%w: %w", ErrDigestMismatch, err)
	}
	return upstream.Manifest{}, err
}

// fallbackOutcome classifies the result of one fallback fetch.
func fallbackOutcome(err error) string {
	switch {
	case err == nil:
		return FallbackOK
	case errors.Is(err, ErrDigestMismatch), upstream.KindOf(err) == upstream.KindInvalid:
		return FallbackMismatch
	case upstream.KindOf(err) == upstream.KindNotFound, upstream.KindOf(err) == upstream.KindDenied:
		// A registry returns 401 for a repository it does not have, as
		// Docker Hub does.
		return FallbackNotFound
	default:
		return FallbackError
	}
}

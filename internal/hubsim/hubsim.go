// Package hubsim is an in-process stand-in for Docker Hub: the registry
// (registry-1.docker.io), its token service (auth.docker.io) and the CDN that
// blob downloads redirect to. Tests and the benchmark harness start it on
// loopback addresses to play the upstream of a mirror.
//
// It imitates the documented behaviour that a pull-through cache depends on.
// That is the bearer-token flow with per-repository pull scopes, and 401 (not
// 404) for repositories that do not exist. It counts the pull rate limit per
// client address or per account and sends the ratelimit-* headers and the
// 429 bodies of the pull limit and the abuse limit. It negotiates manifest
// media types by Accept, redirects blobs to presigned URLs and serves single
// ranges. On top of that it injects faults (see Fault) and the quirks of
// other registries and proxies (see Quirks).
//
// The pull count follows Docker's older, mechanical definition: every
// successful manifest GET (by tag or by digest) is one pull and HEAD requests
// are free. That is an upper bound of what Docker Hub charges today, where a
// version check is free and a multi-arch pull counts once per platform.
package hubsim

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// Defaults that match Docker Hub's documented anonymous limit (100 pulls per
// 6 hours per IPv4 address or IPv6 /64), the free Personal limit (200 per
// 6 hours) and the 300-second expires_in of auth.docker.io tokens.
const (
	DefaultLimit        = 100
	DefaultAccountLimit = 200
	DefaultWindow       = 6 * time.Hour
	DefaultTokenTTL     = 300 * time.Second

	// DefaultRedirectTTL is how long a presigned CDN URL stays valid.
	DefaultRedirectTTL = 10 * time.Minute

	// Service is the service name the token service issues tokens for and
	// the registry names in its challenges.
	Service = "registry.docker.io"
)

// Options configures a Hub. The zero value is a Docker Hub with anonymous
// access only, default limits, the token service on the registry's own
// listener and blobs served without redirect.
type Options struct {
	// Limit is the number of anonymous pulls per Window per identity.
	// Zero means DefaultLimit.
	Limit int

	// Window is the rate-limit window, sent in seconds as the ";w=" parameter.
	// Zero means DefaultWindow.
	Window time.Duration

	// Accounts maps a username to its password and limit. Requests to the
	// token service with HTTP Basic auth are checked against it.
	Accounts map[string]Account

	// NoRateLimitHeaders makes the hub act like Docker Hub for a paid
	// account: no ratelimit-* headers, and pulls are never refused.
	// Stats still count them.
	NoRateLimitHeaders bool

	// Clock is the time source for token expiry, rate-limit windows and CDN
	// URL expiry. Nil means time.Now.
	Clock func() time.Time

	// TokenTTL is the token lifetime sent as expires_in. Zero means
	// DefaultTokenTTL.
	TokenTTL time.Duration

	// RedirectTTL is how long a CDN URL from a blob redirect stays valid.
	// Zero means DefaultRedirectTTL.
	RedirectTTL time.Duration

	// TokenAddr and CDNAddr are listen addresses for a separate token
	// service and blob CDN, for example "127.0.0.3:0" and "127.0.0.2:0".
	// An empty TokenAddr serves /token on the registry's own listener. An
	// empty CDNAddr serves blob bytes directly from the registry without a
	// redirect.
	TokenAddr, CDNAddr string

	// Logf, when set, receives one line per request and one per injected
	// fault, for example t.Logf.
	Logf func(format string, args ...any)
}

// Account is a Docker Hub user that can log in to the token service.
type Account struct {
	Password string

	// Limit is the number of pulls per window. Zero means DefaultAccountLimit.
	Limit int

	// Unlimited makes the account act like a paid plan: no ratelimit-*
	// headers for its pulls and no pull limit.
	Unlimited bool
}

// Hub is a running or startable Docker Hub stand-in. All methods are safe
// for concurrent use.
type Hub struct {
	opts Options

	content *store
	limiter *rateLimiter
	tokens  *tokenStore
	faults  *faultSet
	stats   *statsRecorder
	quirks  *quirkState

	// signingKey signs CDN URLs so that a tampered or foreign URL fails.
	signingKey []byte

	// closing is closed by Close, to release black-holed requests.
	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	services map[ServiceName]*service
}

// New returns a Hub with the given options and no content. Call Start to
// listen, or use Handler with httptest.
func New(opts Options) *Hub {
	if opts.Limit <= 0 {
		opts.Limit = DefaultLimit
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.RedirectTTL <= 0 {
		opts.RedirectTTL = DefaultRedirectTTL
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}

	key := make([]byte, 32)
	rand.Read(key)

	h := &Hub{
		opts:       opts,
		content:    newStore(),
		tokens:     newTokenStore(),
		faults:     &faultSet{},
		stats:      newStatsRecorder(),
		quirks:     &quirkState{},
		signingKey: key,
		closing:    make(chan struct{}),
		services:   map[ServiceName]*service{},
	}
	h.limiter = newRateLimiter(h.opts.Window, h.opts.Clock)
	return h
}

// now returns the hub's current time from the injected clock.
func (h *Hub) now() time.Time {
	return h.opts.Clock()
}

// logf writes one log line when Options.Logf is set. It writes nothing
// after Close, because handlers may still be ending then, and t.Logf panics
// once the test that owns it has completed.
func (h *Hub) logf(format string, args ...any) {
	if h.opts.Logf == nil {
		return
	}
	select {
	case <-h.closing:
		return
	default:
	}
	h.opts.Logf("hubsim: "+format, args...)
}

// PutBlob stores data as a blob that every repository of the hub can serve,
// and returns its sha256 digest. Docker Hub links blobs per repository;
// hubsim shares them, which no pull can tell apart.
func (h *Hub) PutBlob(data []byte) digest.Digest {
	return h.content.putBlob(data)
}

// PutManifest stores a manifest in repo, creating the repository if needed,
// and points tag at it unless tag is empty. It returns the manifest digest.
func (h *Hub) PutManifest(repo, tag, mediaType string, body []byte) digest.Digest {
	return h.content.putManifest(repo, tag, mediaType, body)
}

// MoveTag points an existing or new tag of repo at a manifest already stored
// in repo.
func (h *Hub) MoveTag(repo, tag string, dgst digest.Digest) error {
	if err := h.content.moveTag(repo, tag, dgst); err != nil {
		return fmt.Errorf("move tag %s:%s to %s: %w", repo, tag, dgst, err)
	}
	return nil
}

// DeleteTag removes tag from repo. Manifests stay reachable by digest, as on
// Docker Hub after a tag is deleted. It reports whether the tag existed.
func (h *Hub) DeleteTag(repo, tag string) bool {
	return h.content.deleteTag(repo, tag)
}

// DeleteRepo removes a repository with its tags and manifests. Later token
// requests for it grant no access, so the registry responds 401, as Docker Hub
// does for repositories that do not exist. It reports whether repo existed.
func (h *Hub) DeleteRepo(repo string) bool {
	return h.content.deleteRepo(repo)
}

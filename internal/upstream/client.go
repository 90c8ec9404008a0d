package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const userAgent = "pullcache"

// Registry is a pull-only client for one upstream registry. It is safe for
// concurrent use.
type Registry struct {
	name   string
	base   *url.URL
	policy addressPolicy
	client *http.Client
	opts   Options
	log    *slog.Logger

	// flights coalesces pings and token fetches, so a burst of requests for
	// one repository costs one token request.
	flights singleflight.Group

	authMu    sync.Mutex
	challenge challenge
	tokens    map[string]cachedToken // by scope

	// gate holds every request while the abuse limit lasts.
	gate backoffGate

	rateMu        sync.Mutex
	rateLimit     RateLimit
	rateLimitSeen bool
}

// New validates o and returns a Registry. It does no network I/O.
func New(o Options) (*Registry, error) {
	base, err := parseBaseURL(o.URL)
	if err != nil {
		return nil, err
	}
	o.setDefaults()

	r := &Registry{
		name:   o.Name,
		base:   base,
		policy: addressPolicy{allowLoopback: isLoopbackHost(base.Hostname())},
		opts:   o,
		log:    o.Logger.With("upstream", o.Name),
		tokens: make(map[string]cachedToken),
	}

	if err := r.policy.checkURL(base); err != nil {
		return nil, fmt.Errorf("upstream %s: invalid URL %q: %w", o.Name, o.URL, err)
	}

	transport := o.Transport
	if transport == nil {
		transport = newTransport(r.policy, hostPort(base), o.ConnectTimeout)
	}

	r.client = &http.Client{
		Transport:     &authTransport{base: transport},
		CheckRedirect: r.checkRedirect,
	}

	return r, nil
}

// Name returns the configured upstream name.
func (r *Registry) Name() string { return r.name }

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse upstream URL %q: %w", raw, err)
	}

	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("upstream URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q: missing host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("upstream URL %q: credentials belong in the username and password settings, not the URL", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream URL %q: query and fragment are not allowed", raw)
	}

	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""

	return u, nil
}

// newTransport returns the default transport. Compression is disabled
// because a registry that compresses a blob on the wire would otherwise hand
// back bytes whose digest is not the blob's.
func newTransport(policy addressPolicy, upstreamAddr string, connectTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:         newDialContext(policy, upstreamAddr, connectTimeout),
		TLSHandshakeTimeout: connectTimeout,
		ForceAttemptHTTP2:   true,
		DisableCompression:  true,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		// NOTE: no proxy support. Proxy-from-environment would dial the
		// proxy, whose address the dial-time policy would then check
		// instead of the registry's.
	}
}

// url builds an absolute URL for a registry API path such as /v2/.
func (r *Registry) url(path, rawQuery string) *url.URL {
	u := *r.base
	u.Path = r.base.Path + path
	u.RawQuery = rawQuery

	return &u
}

// isRegistryURL reports whether u is on the upstream itself rather than on
// a host it redirected to.
func (r *Registry) isRegistryURL(u *url.URL) bool {
	return u.Scheme == r.base.Scheme && strings.EqualFold(hostPort(u), hostPort(r.base))
}

func (r *Registry) now() time.Time { return r.opts.Clock() }

// flight runs fn once for all concurrent callers with the same key. fn runs
// on a context detached from the caller's, so one caller leaving does not
// fail the others. That context ends after ConnectTimeout plus
// IdleReadTimeout, so a stuck flight cannot block later callers. Each
// caller still returns ctx.Err() as soon as its own ctx ends.
func (r *Registry) flight(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	results := r.flights.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ConnectTimeout+r.opts.IdleReadTimeout)
		defer cancel()

		v, err := fn(fctx)
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			err = &Error{Upstream: r.name, Kind: KindUnavailable, Err: fmt.Errorf("%s: %w", key, err)}
		}

		return v, err
	})

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-results:
		return res.Val, res.Err
	}
}

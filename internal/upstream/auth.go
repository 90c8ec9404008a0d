package upstream

// The challenge and token flow is written here rather than taken from
// go-containerregistry v0.22.1 (pkg/v1/remote/transport), because that
// transport does not fit this client:
//   - it ignores expires_in and keeps one token until a 401, so a token is
//     never refreshed ahead of expiry;
//   - it holds one token per transport, and building a transport per
//     repository costs a ping each time;
//   - its realm check rejects private and loopback realms, which private
//     registries and tests need, and it has no dial-time address check;
//   - its errors do not tell the token service refusing credentials apart
//     from the registry denying a repository.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

type authScheme int

const (
	schemeUnknown authScheme = iota // not pinged yet
	schemeNone                      // /v2/ returned no challenge
	schemeBasic
	schemeBearer
)

// challenge is the scheme and parameters the registry requested in
// WWW-Authenticate.
type challenge struct {
	scheme  authScheme
	realm   *url.URL // bearer only
	service string   // bearer only
}

func (c challenge) equal(o challenge) bool {
	if c.scheme != o.scheme || c.service != o.service {
		return false
	}
	if c.realm == nil || o.realm == nil {
		return c.realm == o.realm
	}

	return c.realm.String() == o.realm.String()
}

// credential is the Authorization chosen for one request.
type credential struct {
	scheme authScheme
	header *hostAuth // nil when nothing is sent
	token  string    // bearer only
	fresh  bool      // the token was fetched for this request
	user   string    // basic only: the username in header
	pass   string    // basic only: the password in header
}

// currentChallenge returns the registry's challenge, pinging /v2/ once when
// it is not known yet.
func (r *Registry) currentChallenge(ctx context.Context) (challenge, error) {
	r.authMu.Lock()
	ch := r.challenge
	r.authMu.Unlock()

	if ch.scheme != schemeUnknown {
		return ch, nil
	}

	v, err := r.flight(ctx, "ping", r.ping)
	if err != nil {
		return challenge{}, err
	}

	return v.(challenge), nil
}

func (r *Registry) ping(ctx context.Context) (any, error) {
	resp, err := r.do(ctx, exchange{kind: requestPing, method: http.MethodGet, url: r.url("/v2/", "")})
	if err != nil {
		return nil, err
	}

	ch := challenge{scheme: schemeNone}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		closeQuietly(resp.Body)

		parsed, ok, err := r.parseChallenge(resp.Header)
		if err != nil {
			return nil, err
		}
		if ok {
			ch = parsed
		}

	// Some registries serve no /v2/ endpoint but do serve API paths, so a
	// 404 here is no reason to fail every request.
	case resp.StatusCode < 300, resp.StatusCode == http.StatusNotFound:
		closeQuietly(resp.Body)

	default:
		return nil, r.statusError(resp)
	}

	r.setChallenge(ch)

	return ch, nil
}

// setChallenge stores ch. Tokens from another realm or service are dropped.
func (r *Registry) setChallenge(ch challenge) {
	r.authMu.Lock()
	defer r.authMu.Unlock()

	if !r.challenge.equal(ch) {
		r.tokens = make(map[string]cachedToken)
	}
	r.challenge = ch
}

// authorize picks the Authorization for a request with the given scope.
func (r *Registry) authorize(ctx context.Context, ch challenge, scope string) (credential, error) {
	switch ch.scheme {
	case schemeBasic:
		user, pass, err := r.credentials(ctx)
		if err != nil {
			return credential{}, err
		}
		if user == "" && pass == "" {
			return credential{scheme: schemeBasic}, nil
		}

		return credential{scheme: schemeBasic, header: newHostAuth(r.base, basicAuthValue(user, pass)), user: user, pass: pass}, nil

	case schemeBearer:
		token, fresh, err := r.token(ctx, ch, scope)
		if err != nil {
			return credential{}, err
		}

		return credential{
			scheme: schemeBearer,
			header: newHostAuth(r.base, "Bearer "+token),
			token:  token,
			fresh:  fresh,
		}, nil

	default:
		return credential{scheme: ch.scheme}, nil
	}
}

// handleUnauthorized reports whether a registry 401 is worth one retry. It
// is when the challenge changed (for example /v2/ was open but the
// repository is not), or when a cached token was rejected and a new one may
// work. A 401 to a token fetched for this very request means the repository
// is denied, and Docker Hub returns that for names that do not exist too.
// A second token would not change it.
func (r *Registry) handleUnauthorized(h http.Header, scope string, cred credential) (bool, error) {
	parsed, ok, err := r.parseChallenge(h)
	if err != nil {
		return false, err
	}

	r.authMu.Lock()
	current := r.challenge
	r.authMu.Unlock()

	if ok && !parsed.equal(current) {
		r.setChallenge(parsed)
		return true, nil
	}

	if cred.scheme == schemeBearer && !cred.fresh {
		r.dropToken(scope, cred.token)
		return true, nil
	}

	// A Basic-auth registry's 401 to the credentials sent rejects them.
	if cred.scheme == schemeBasic && cred.header != nil && r.opts.CredentialsRejected != nil {
		r.opts.CredentialsRejected(cred.user, cred.pass)
		return true, nil
	}

	return false, nil
}

// reportRejected passes user and pass to Options.CredentialsRejected when
// err rejects them, and reports whether the provider now returns other
// credentials to try instead.
func (r *Registry) reportRejected(ctx context.Context, err error, user, pass string) bool {
	var e *Error
	if r.opts.CredentialsRejected == nil || !errors.As(err, &e) || e.Kind != KindCredentialsRejected {
		return false
	}
	r.opts.CredentialsRejected(user, pass)

	nextUser, nextPass, nextErr := r.credentials(ctx)

	return nextErr == nil && (nextUser != user || nextPass != pass)
}

// credentials calls Options.Credentials. A failure to resolve them is a
// local outage (a secret store that is down), not a rejection.
func (r *Registry) credentials(ctx context.Context) (string, string, error) {
	user, pass, err := r.opts.Credentials(ctx)
	if err == nil {
		return user, pass, nil
	}

	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}

	return "", "", &Error{Upstream: r.name, Kind: KindUnavailable, Err: fmt.Errorf("resolve credentials: %w", err)}
}

func basicAuthValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// authKey is the context key under which a request carries its hostAuth.
type authKey struct{}

// hostAuth is an Authorization value bound to the scheme and host that
// issued the challenge.
type hostAuth struct {
	scheme string
	host   string // host:port
	value  string
}

func newHostAuth(u *url.URL, value string) *hostAuth {
	return &hostAuth{scheme: u.Scheme, host: hostPort(u), value: value}
}

func (a hostAuth) matches(u *url.URL) bool {
	return u.Scheme == a.scheme && strings.EqualFold(hostPort(u), a.host)
}

// authTransport sets Authorization per request, inside the redirect loop of
// http.Client. http.Client keeps the header on redirects within the original
// domain and its subdomains. Adding it here sends it only to the scheme and
// host:port that issued the challenge, so a CDN on a subdomain never
// receives it. It is never sent on a redirect hop either, because a registry
// redirects a blob to a presigned URL that carries its own signature, even
// when the Location is on the registry's own host. Object stores reject such
// a request when it also carries Authorization.
type authTransport struct {
	base http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a, ok := req.Context().Value(authKey{}).(hostAuth)
	if !ok || !a.matches(req.URL) || req.Response != nil {
		return t.base.RoundTrip(req)
	}

	authed := req.Clone(req.Context())
	authed.Header.Set("Authorization", a.value)

	return t.base.RoundTrip(authed)
}

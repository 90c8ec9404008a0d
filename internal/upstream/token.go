package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

const (
	// defaultTokenLifetime applies when the token response has no
	// expires_in, the value the Docker token specification sets.
	defaultTokenLifetime = 60 * time.Second

	// tokenExpiryMargin retires a token this long before it expires, so a
	// request sent just before expiry does not arrive just after it.
	tokenExpiryMargin = 5 * time.Second
)

type cachedToken struct {
	value   string
	expires time.Time
	user    string // who fetched it; "" for anonymous
}

// tokenResponse is the token service's JSON body. Some services send
// access_token (the OAuth 2 name) instead of token.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// token returns a bearer token for scope, from the cache while it is valid.
// fresh is true when it was fetched during this call.
func (r *Registry) token(ctx context.Context, ch challenge, scope string) (value string, fresh bool, err error) {
	if value, ok := r.cachedToken(ctx, scope); ok {
		return value, false, nil
	}

	v, err := r.flight(ctx, "token "+scope, func(fctx context.Context) (any, error) {
		// A caller that missed the cache just before a concurrent fetch
		// stored its token starts a new flight after that one ended. It
		// takes the stored token instead of fetching another.
		if value, ok := r.cachedToken(fctx, scope); ok {
			return fetchedToken{value: value}, nil
		}
		value, err := r.fetchToken(fctx, ch, scope)
		return fetchedToken{value: value, fresh: true}, err
	})
	if err != nil {
		return "", false, err
	}

	t := v.(fetchedToken)
	return t.value, t.fresh, nil
}

// fetchedToken is the result of a token flight.
type fetchedToken struct {
	value string
	fresh bool // fetched by this flight rather than read from the cache
}

// cachedToken returns the stored token for scope while it is valid and was
// fetched as the current user. A token fetched as another user (anonymous
// after a rejection, say) is not reused once the credentials change.
func (r *Registry) cachedToken(ctx context.Context, scope string) (string, bool) {
	r.authMu.Lock()
	cached, ok := r.tokens[scope]
	r.authMu.Unlock()

	if !ok || !r.now().Before(cached.expires) {
		return "", false
	}
	if user, _, err := r.opts.Credentials(ctx); err == nil && user != cached.user {
		return "", false
	}
	return cached.value, true
}

// dropToken deletes the cached token for scope if it is still the one the
// registry rejected. A newer one from a concurrent refresh is kept.
func (r *Registry) dropToken(scope, value string) {
	r.authMu.Lock()
	defer r.authMu.Unlock()

	if r.tokens[scope].value == value {
		delete(r.tokens, scope)
	}
}

// fetchToken gets a token with the current credentials. When the token
// service rejects them and the provider then returns others (anonymous, or
// a rotated secret), it tries once more with those.
func (r *Registry) fetchToken(ctx context.Context, ch challenge, scope string) (string, error) {
	user, pass, err := r.credentials(ctx)
	if err != nil {
		return "", err
	}

	value, err := r.fetchTokenAs(ctx, ch, scope, user, pass)
	if err != nil && r.reportRejected(ctx, err, user, pass) {
		user, pass, err = r.credentials(ctx)
		if err != nil {
			return "", err
		}
		return r.fetchTokenAs(ctx, ch, scope, user, pass)
	}

	return value, err
}

func (r *Registry) fetchTokenAs(ctx context.Context, ch challenge, scope, user, pass string) (string, error) {
	if user == IdentityTokenUser {
		return r.fetchTokenOAuth(ctx, ch, scope, pass)
	}

	u := *ch.realm
	q := u.Query()
	if ch.service != "" {
		q.Set("service", ch.service)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	u.RawQuery = q.Encode()

	var auth *hostAuth
	if user != "" || pass != "" {
		auth = newHostAuth(&u, basicAuthValue(user, pass))
	}

	issued := r.now()
	resp, err := r.do(ctx, exchange{
		kind:   requestToken,
		method: http.MethodGet,
		url:    &u,
		header: http.Header{"Accept": {"application/json"}},
		auth:   auth,
	})
	if err != nil {
		return "", r.tokenError(err, u.Host)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return "", r.tokenStatusError(resp, auth != nil, u.Host)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBodySize+1))
	if err != nil {
		return "", r.tokenError(err, u.Host)
	}
	if len(body) > maxTokenBodySize {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: resp.StatusCode,
			Err: fmt.Errorf("token response from %s is larger than %d bytes", u.Host, maxTokenBodySize)}
	}

	value, lifetime, err := parseTokenResponse(body)
	if err != nil {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: resp.StatusCode,
			Err: fmt.Errorf("token response from %s: %w", u.Host, err)}
	}

	r.storeToken(ch, scope, cachedToken{value: value, expires: issued.Add(lifetime), user: user})

	return value, nil
}

// storeToken caches t for scope. A challenge that changed during the fetch
// has already cleared the cache, and a token from the old realm must not be
// put back in it.
func (r *Registry) storeToken(ch challenge, scope string, t cachedToken) {
	r.authMu.Lock()
	defer r.authMu.Unlock()

	if r.challenge.equal(ch) {
		r.tokens[scope] = t
	}
}

func parseTokenResponse(body []byte) (string, time.Duration, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, fmt.Errorf("decode JSON: %w", err)
	}

	value := tr.Token
	if value == "" {
		value = tr.AccessToken
	}
	if value == "" {
		return "", 0, errors.New("no token or access_token field")
	}

	lifetime := defaultTokenLifetime
	if tr.ExpiresIn > 0 {
		lifetime = time.Duration(tr.ExpiresIn) * time.Second
	}
	if lifetime > 2*tokenExpiryMargin {
		lifetime -= tokenExpiryMargin
	}

	return value, lifetime, nil
}

// tokenError adds the token service's host to a network or body error, so
// an outage of the token service is distinguishable from one of the registry.
func (r *Registry) tokenError(err error, host string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}

	e.Err = fmt.Errorf("token service %s: %w", host, e.Err)

	return e
}

// tokenStatusError classifies a token service status. A 401 or 403 to the
// credentials we sent rejects those credentials, and to an anonymous
// request it denies the scope. Any other status except 429 means the token
// service is not working, whatever the registry itself would return.
func (r *Registry) tokenStatusError(resp *http.Response, credentialsSent bool, host string) error {
	e := r.statusError(resp)
	e.Err = fmt.Errorf("token service %s", host)

	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		e.Kind = KindDenied
		if credentialsSent {
			e.Kind = KindCredentialsRejected
		}
	case e.Status == http.StatusTooManyRequests:
		// Keep the 429 classification.
	default:
		e.Kind = KindUnavailable
	}

	return e
}

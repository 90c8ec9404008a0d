package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// IdentityTokenUser is the username that marks the password as an identity
// token (an OAuth 2 refresh token), as the Docker config file and the
// credential-helper protocol write it.
const IdentityTokenUser = "<token>"

// fetchTokenOAuth exchanges an identity token for a registry token with the
// OAuth 2 refresh_token grant, a form POST to the realm. The Docker token
// specification defines it, and Docker Hub and containerd use it; the GET
// form of the token request cannot carry an identity token.
func (r *Registry) fetchTokenOAuth(ctx context.Context, ch challenge, scope, refreshToken string) (string, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {userAgent},
	}
	if ch.service != "" {
		form.Set("service", ch.service)
	}
	if scope != "" {
		form.Set("scope", scope)
	}

	realm := *ch.realm
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, realm.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Err: fmt.Errorf("build token request for %s: %w", realm.Host, err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	x := exchange{kind: requestToken, method: http.MethodPost, url: &realm}
	issued := r.now()
	start := time.Now()
	resp, err := r.client.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	} else {
		redactURLError(err)
	}
	r.observe(ctx, x, status, time.Since(start), err)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &Error{Upstream: r.name, Kind: KindUnavailable, Err: fmt.Errorf("token service %s: %w", realm.Host, err)}
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return "", r.tokenStatusError(resp, true, realm.Host)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBodySize+1))
	if err != nil {
		return "", &Error{Upstream: r.name, Kind: KindUnavailable, Err: fmt.Errorf("token service %s: %w", realm.Host, err)}
	}
	if len(body) > maxTokenBodySize {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: resp.StatusCode,
			Err: fmt.Errorf("token response from %s is larger than %d bytes", realm.Host, maxTokenBodySize)}
	}
	value, lifetime, err := parseTokenResponse(body)
	if err != nil {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: resp.StatusCode,
			Err: fmt.Errorf("token response from %s: %w", realm.Host, err)}
	}

	r.storeToken(ch, scope, cachedToken{value: value, expires: issued.Add(lifetime), user: IdentityTokenUser})
	return value, nil
}

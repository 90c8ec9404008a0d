package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// request is one registry API call, before authentication.
type request struct {
	kind   string // ResponseInfo.Kind
	method string
	path   string // from /v2/ on
	query  string // raw query, without "?"
	accept string
	scope  string // token scope, such as repository:library/alpine:pull
}

// exchange is one HTTP request to any host (registry, token service), with
// the redirects the client follows for it.
type exchange struct {
	kind   string
	method string
	url    *url.URL
	header http.Header
	auth   *hostAuth // nil: no Authorization header
}

// send makes an authenticated registry request and returns the response
// when its status is 200, retrying as the retry policy says. Any other
// outcome is an *Error, or ctx.Err() when ctx ends. The caller closes the
// body.
func (r *Registry) send(ctx context.Context, req request) (*http.Response, error) {
	return r.withRetries(ctx, req, r.sendAttempt)
}

// sendAttempt is one try of send.
func (r *Registry) sendAttempt(ctx context.Context, req request) (*http.Response, error) {
	cred, resp, err := r.sendOnce(ctx, req)
	if err != nil {
		return nil, err
	}

	if resp.StatusCode == http.StatusUnauthorized && r.isRegistryURL(resp.Request.URL) {
		retry, err := r.handleUnauthorized(resp.Header, req.scope, cred)
		if err != nil {
			closeQuietly(resp.Body)
			return nil, err
		}

		if retry {
			closeQuietly(resp.Body)

			cred, resp, err = r.sendOnce(ctx, req)
			if err != nil {
				return nil, err
			}
		}
	}

	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}

	e := r.statusError(resp)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	switch {
	// A CDN that refuses a signed URL (expired, say) is a transient
	// failure of the download, not a denial of the repository.
	case !r.isRegistryURL(resp.Request.URL) && e.Kind == KindDenied:
		e.Kind = KindUnavailable

	// A Basic-auth registry has no token service, so its 401 to the
	// credentials we sent is the rejection of those credentials.
	case e.Status == http.StatusUnauthorized && cred.scheme == schemeBasic && cred.header != nil:
		e.Kind = KindCredentialsRejected
	}

	return nil, e
}

// sendOnce authorizes req from the current challenge and sends it.
func (r *Registry) sendOnce(ctx context.Context, req request) (credential, *http.Response, error) {
	ch, err := r.currentChallenge(ctx)
	if err != nil {
		return credential{}, nil, err
	}

	cred, err := r.authorize(ctx, ch, req.scope)
	if err != nil {
		return credential{}, nil, err
	}

	header := http.Header{}
	if req.accept != "" {
		header.Set("Accept", req.accept)
	}

	resp, err := r.do(ctx, exchange{
		kind:   req.kind,
		method: req.method,
		url:    r.url(req.path, req.query),
		header: header,
		auth:   cred.header,
	})

	return cred, resp, err
}

// do performs one exchange. Network failures become *Error (or ctx.Err());
// any HTTP status is returned to the caller with the body wrapped in a
// responseBody.
func (r *Registry) do(ctx context.Context, x exchange) (*http.Response, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	sendCtx := reqCtx
	if x.auth != nil {
		sendCtx = context.WithValue(reqCtx, authKey{}, *x.auth)
	}

	req, err := http.NewRequestWithContext(sendCtx, x.method, x.url.String(), nil)
	if err != nil {
		cancel(context.Canceled)
		return nil, &Error{Upstream: r.name, Kind: KindInvalid, Err: fmt.Errorf("build request for %s: %w", x.url.Path, err)}
	}

	for k, v := range x.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")

	dog := startWatchdog(r.opts.IdleReadTimeout, cancel)
	start := time.Now()
	resp, err := r.client.Do(req)
	elapsed := time.Since(start)

	status := 0
	if err == nil {
		status = resp.StatusCode
	} else {
		redactURLError(err)
	}
	r.observe(ctx, x, status, elapsed, err)

	if err != nil {
		dog.stop()
		cancel(context.Canceled)

		return nil, r.transportError(ctx, reqCtx, err)
	}

	// The headers are progress: the body gets a full idle period.
	dog.kick()
	r.recordRateLimit(resp.Header)
	body := r.newResponseBody(ctx, reqCtx, cancel, dog, resp)
	body.method, body.kind = x.method, x.kind
	resp.Body = body

	return resp, nil
}

// checkRedirect validates every redirect target before it is dialled. The
// Authorization header is not on the request that http.Client copies, so no
// redirect carries it; authTransport adds it only for the registry's host.
func (r *Registry) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return errTooManyRedirects
	}

	return r.policy.checkURL(req.URL)
}

var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", maxRedirects)

func (r *Registry) transportError(ctx, reqCtx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}

	e := &Error{Upstream: r.name, Kind: KindUnavailable, Err: err}

	var blocked *blockedAddressError
	switch {
	case timedOut(reqCtx):
		e.Err = fmt.Errorf("no response headers within %s: %w", r.opts.IdleReadTimeout, errIdleTimeout)
	case errors.As(err, &blocked):
		e.Kind = KindInvalid
	}

	return e
}

func (r *Registry) observe(ctx context.Context, x exchange, status int, elapsed time.Duration, err error) {
	if r.opts.OnResponse != nil {
		r.opts.OnResponse(ResponseInfo{Method: x.method, Kind: x.kind, Status: status, Duration: elapsed})
	}

	attrs := []slog.Attr{
		slog.String("method", x.method),
		slog.String("kind", x.kind),
		slog.String("host", x.url.Host),
		slog.String("path", x.url.Path),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
	}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}

	r.log.LogAttrs(ctx, slog.LevelDebug, "upstream request", attrs...)
}

// redactURLError drops the query from the URL in a *url.Error, because a
// redirect URL can carry a signature that must not reach logs or errors.
func redactURLError(err error) {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		return
	}

	u, parseErr := url.Parse(urlErr.URL)
	if parseErr != nil {
		urlErr.URL = "(unparsable URL)"
		return
	}
	u.RawQuery = ""
	u.User = nil
	urlErr.URL = u.String()
}

// closeQuietly drains a little of an unused body so the connection can be
// reused, then closes it.
func closeQuietly(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/upstream"
)

// apiError is an error sent to the client with an OCI error body. Handlers return it
// and writeError is the one place that writes it and logs it.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Err        error // cause, logged but not sent
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Err }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError sends an error response. A HEAD response has the status and headers but
// no body, as HTTP requires.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.toAPIError(r, err)

	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", slog.String("request_id", requestID(r)),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", e.Status),
		slog.String("code", e.Code), slog.Any("err", e))

	if e.RetryAfter > 0 {
		seconds := int64((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(seconds, 10))
	}
	if e.Code == "" {
		w.WriteHeader(e.Status)
		return
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.Code, Message: e.Message}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// toAPIError maps cache and upstream failures to the error table of the
// architecture document.
func (s *Server) toAPIError(r *http.Request, err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	target := routeFrom(r)
	what := "content"
	if target != nil {
		what = target.describe()
	}

	var suspended *cache.SuspendedError
	var upErr *upstream.Error
	switch {
	case errors.Is(err, context.Canceled):
		return &apiError{Status: 499, Code: "", Err: err}
	case errors.Is(err, cache.ErrManifestUnknown):
		return &apiError{Status: http.StatusNotFound, Code: "MANIFEST_UNKNOWN", Message: fmt.Sprintf("%s not found upstream", what), Err: err}
	case errors.Is(err, cache.ErrBlobUnknown):
		return &apiError{Status: http.StatusNotFound, Code: "BLOB_UNKNOWN", Message: fmt.Sprintf("%s not found upstream", what), Err: err}
	case errors.Is(err, cache.ErrNameUnknown):
		return &apiError{Status: http.StatusNotFound, Code: "NAME_UNKNOWN", Message: fmt.Sprintf("%s not found upstream", what), Err: err}
	case errors.Is(err, cache.ErrQueueFull):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE", RetryAfter: time.Second,
			Message: "too many upstream fetches in progress; retry shortly or raise limits.max_upstream_fetches", Err: err}
	case errors.Is(err, cache.ErrDigestMismatch):
		return &apiError{Status: http.StatusBadGateway, Code: "UNAVAILABLE", Message: fmt.Sprintf("upstream sent %s with the wrong digest; nothing was stored, retry later", what), Err: err}
	case errors.As(err, &suspended):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE", RetryAfter: time.Until(suspended.Until),
			Message: fmt.Sprintf("upstream %s failed recently and %s is not stored; retry later", suspended.Upstream, what), Err: err}
	case errors.As(err, &upErr):
		return upstreamAPIError(upErr, what)
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "UNKNOWN", Message: "internal error; see the server log for request " + requestID(r), Err: err}
}

func upstreamAPIError(upErr *upstream.Error, what string) *apiError {
	e := &apiError{Err: upErr, RetryAfter: upErr.RetryAfter}
	switch upErr.Kind {
	case upstream.KindNotFound:
		e.Status, e.Code = http.StatusNotFound, "NAME_UNKNOWN"
		e.Message = fmt.Sprintf("%s not found upstream %s", what, upErr.Upstream)
	case upstream.KindNotAcceptable:
		e.Status, e.Code = http.StatusNotFound, "MANIFEST_UNKNOWN"
		e.Message = fmt.Sprintf("upstream %s has %s only in a media type this request does not accept", upErr.Upstream, what)
	case upstream.KindDenied, upstream.KindCredentialsRejected:
		e.Status, e.Code = http.StatusNotFound, "NAME_UNKNOWN"
		e.Message = fmt.Sprintf("upstream %s denied access to %s, or it does not exist; check the name, or the credentials in upstreams[].username and password", upErr.Upstream, what)
	case upstream.KindQuota, upstream.KindAbuseLimit, upstream.KindTooManyRequests:
		e.Status, e.Code = http.StatusTooManyRequests, "TOOMANYREQUESTS"
		e.Message = fmt.Sprintf("upstream %s rate limit reached (%s) and %s is not stored; retry later or configure credentials for the upstream", upErr.Upstream, upErr.Kind, what)
	case upstream.KindInvalid:
		e.Status, e.Code = http.StatusBadGateway, "UNAVAILABLE"
		e.Message = fmt.Sprintf("upstream %s sent an invalid response for %s, such as a body that does not match its digest; nothing was stored, retry later", upErr.Upstream, what)
	case upstream.KindTooLarge:
		e.Status, e.Code = http.StatusBadGateway, "MANIFEST_INVALID"
		e.Message = fmt.Sprintf("upstream %s sent a manifest for %s larger than limits.max_manifest_size", upErr.Upstream, what)
	default:
		cause := "no response"
		if upErr.Status != 0 {
			cause = fmt.Sprintf("HTTP %d", upErr.Status)
		}
		e.Status, e.Code = http.StatusServiceUnavailable, "UNAVAILABLE"
		e.Message = fmt.Sprintf("upstream %s is unavailable (%s) and %s is not stored; retry later", upErr.Upstream, cause, what)
	}
	return e
}

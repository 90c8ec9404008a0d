package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// maxMessageLength caps Error.Message, which ends up in logs and in
	// error bodies sent to clients.
	maxMessageLength = 200

	// maxAbuseBodyLength is the longest 429 body still taken for Docker
	// Hub's abuse limit, whose body is a short plain line such as
	// "Too Many Requests (HAP429)". The pull-quota 429 is a JSON error
	// with a long message and a link.
	maxAbuseBodyLength = 256
)

// statusError reads a capped error body, closes it and classifies the
// response. Callers refine the kind where they know more (token service,
// Basic auth).
func (r *Registry) statusError(resp *http.Response) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodySize))
	_ = resp.Body.Close()

	code, message := parseErrorBody(body)

	return &Error{
		Upstream:   r.name,
		Kind:       classifyStatus(resp.StatusCode, body, resp.Header),
		Status:     resp.StatusCode,
		Code:       code,
		Message:    oneLine(message, maxMessageLength),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), r.now()),
	}
}

func classifyStatus(status int, body []byte, h http.Header) Kind {
	switch {
	case status == http.StatusNotFound:
		// distribution and Docker Hub return 404 MANIFEST_UNKNOWN "... but
		// accept header does not support ..." when the manifest exists in a
		// media type the request did not accept.
		if bytes.Contains(bytes.ToLower(body), []byte("accept header")) {
			return KindNotAcceptable
		}
		return KindNotFound
	case status == http.StatusNotAcceptable:
		return KindNotAcceptable
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return KindDenied
	case status == http.StatusTooManyRequests:
		return classifyTooManyRequests(body, h)
	case status == http.StatusRequestTimeout, status >= 500:
		return KindUnavailable
	// Every request expects 200, and redirects with a Location are
	// followed, so another 2xx or 3xx is a response the client cannot use.
	case status < 400:
		return KindInvalid
	default:
		return KindUnknown
	}
}

// classifyTooManyRequests separates Docker Hub's pull quota from its abuse
// limit: the quota 429 carries the TOOMANYREQUESTS error code (or
// ratelimit-remaining: 0), the abuse limit a short plain body. An empty
// body fits neither and is left as a plain 429.
func classifyTooManyRequests(body []byte, h http.Header) Kind {
	if bytes.Contains(bytes.ToUpper(body), []byte("TOOMANYREQUESTS")) {
		return KindQuota
	}

	if remaining, _, ok := parseRateLimitValue(headerValue(h, "ratelimit-remaining")); ok && remaining == 0 {
		return KindQuota
	}

	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && len(trimmed) <= maxAbuseBodyLength && !looksStructured(trimmed) {
		return KindAbuseLimit
	}

	return KindTooManyRequests
}

// looksStructured reports a JSON or HTML body, which is not the plain-text
// body of the abuse limit.
func looksStructured(b []byte) bool {
	switch b[0] {
	case '{', '[', '<':
		return true
	}

	return false
}

// errorBody covers the OCI error body and the shapes token services use.
type errorBody struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Details          string `json:"details"`
	Detail           string `json:"detail"`
	Message          string `json:"message"`
	ErrorDescription string `json:"error_description"`
}

// parseErrorBody returns the first OCI error code and its message, or the
// body itself as the message when it is not an OCI error.
func parseErrorBody(body []byte) (code, message string) {
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		return "", string(body)
	}

	if len(eb.Errors) > 0 {
		return eb.Errors[0].Code, eb.Errors[0].Message
	}

	for _, m := range []string{eb.Details, eb.Detail, eb.Message, eb.ErrorDescription} {
		if m != "" {
			return "", m
		}
	}

	return "", string(body)
}

// oneLine folds whitespace runs to single spaces and cuts s to max bytes on
// a rune boundary.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}

	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}

	return s[:cut] + "…"
}

// parseRetryAfter reads Retry-After in either form RFC 9110 allows: delay
// seconds or an HTTP date. It returns 0 when absent, invalid or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}

	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}

	when, err := http.ParseTime(v)
	if err != nil {
		return 0
	}

	if d := when.Sub(now); d > 0 {
		return d.Round(time.Second)
	}

	return 0
}

// KindOf returns the Kind of the *Error in err's chain, or KindUnknown.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}

	return KindUnknown
}

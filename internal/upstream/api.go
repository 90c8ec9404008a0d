// Package upstream is a pull-only client for one OCI / Docker registry:
// token and Basic auth, Accept negotiation, blob redirects, timeouts and
// the rate-limit headers Docker Hub sends.
package upstream

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// Descriptor is the media type, digest and size that a manifest or blob
// HEAD (or GET) reports.
// Digest is empty when the registry sent no Docker-Content-Digest on a HEAD.
type Descriptor struct {
	MediaType string
	Digest    digest.Digest
	Size      int64
}

// Manifest is a manifest (or index, or referrers response) read whole.
// Digest is computed from Body, never taken on trust from a header.
type Manifest struct {
	Descriptor
	Body []byte
}

// RateLimit is the last rate-limit state an upstream reported in its
// ratelimit-limit, ratelimit-remaining and docker-ratelimit-source headers.
type RateLimit struct {
	Limit     int           // pulls allowed per Window
	Remaining int           // pulls left in the current window
	Window    time.Duration // from the ";w=SECONDS" parameter
	Source    string        // docker-ratelimit-source: an address or an account id
	Seen      time.Time     // when the headers were read
}

// Kind classifies an upstream failure for the cache and the error table.
type Kind int

const (
	KindUnknown Kind = iota
	// KindNotFound: 404 for a manifest, blob or repository.
	KindNotFound
	// KindDenied: 401/403 for one repository after auth succeeded (Docker
	// Hub also returns this for repositories that do not exist).
	KindDenied
	// KindCredentialsRejected: the token service or a Basic-auth registry
	// refused the configured credentials.
	KindCredentialsRejected
	// KindQuota: 429 with a TOOMANYREQUESTS body, or remaining 0.
	KindQuota
	// KindAbuseLimit: 429 with a short plain body (per-address abuse limit).
	KindAbuseLimit
	// KindTooManyRequests: any other 429.
	KindTooManyRequests
	// KindUnavailable: 5xx, timeout, refused or dropped connection, token
	// service down.
	KindUnavailable
	// KindTooLarge: a manifest over the configured maximum size.
	KindTooLarge
	// KindNotAcceptable: the registry had the manifest but not in a media
	// type the request accepted.
	KindNotAcceptable
	// KindInvalid: the registry sent something malformed (bad digest, bad
	// Content-Length, body that does not match the requested digest).
	KindInvalid
)

var kindNames = [...]string{"unknown", "not_found", "denied", "credentials_rejected", "quota", "abuse_limit", "too_many_requests", "unavailable", "too_large", "not_acceptable", "invalid"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is every failure the client returns for a request it made.
type Error struct {
	Upstream   string // configured upstream name, such as docker.io
	Kind       Kind
	Status     int           // HTTP status, 0 when no response arrived
	Code       string        // first OCI error code in the body, if any
	Message    string        // upstream's message, capped and single-line
	RetryAfter time.Duration // from Retry-After (seconds or HTTP date), 0 if absent
	Err        error         // cause, such as a network error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("upstream %s: %s", e.Upstream, e.Kind)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			msg += " " + e.Code
		}
		msg += ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

package cache

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrManifestUnknown: upstream has no such manifest and none is stored.
	ErrManifestUnknown = errors.New("manifest unknown")
	// ErrBlobUnknown: upstream has no such blob and none is stored.
	ErrBlobUnknown = errors.New("blob unknown")
	// ErrUnknownUpstream: the request named an upstream that is not configured.
	ErrUnknownUpstream = errors.New("upstream not configured")
	// ErrQueueFull: every upstream transfer slot stayed busy for the
	// configured queue wait.
	ErrQueueFull = errors.New("too many upstream fetches in progress")
	// ErrDigestMismatch: upstream sent bytes that do not match the digest.
	ErrDigestMismatch = errors.New("upstream content does not match its digest")
	// ErrUpstreamSuspended: upstream failed recently and is not asked again
	// until its back-off ends.
	ErrUpstreamSuspended = errors.New("upstream unavailable, waiting before the next attempt")
)

// SuspendedError is returned for a request that needs an upstream whose
// back-off (after it failed) has not ended.
type SuspendedError struct {
	Upstream string
	Until    time.Time
}

func (e *SuspendedError) Error() string {
	return fmt.Sprintf("upstream %s: %s, next attempt after %s", e.Upstream, ErrUpstreamSuspended, e.Until.Format(time.RFC3339))
}

func (e *SuspendedError) Is(target error) bool { return target == ErrUpstreamSuspended }

// ErrNameUnknown: upstream has no such repository.
var ErrNameUnknown = errors.New("repository name unknown")

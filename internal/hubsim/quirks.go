package hubsim

import (
	"sync"
)

// Quirks are deviations from Docker Hub that other registries, or proxies
// in front of them, show. Docker Hub itself has none of them; they are off
// by default.
type Quirks struct {
	// ManifestHeadWithoutDigest sends manifest HEAD responses without
	// Docker-Content-Digest and Content-Type, as some proxies in front of
	// registries did, which breaks clients that resolve tags with HEAD.
	ManifestHeadWithoutDigest bool

	// ManifestWithoutDigest sends manifest GET and HEAD responses without
	// Docker-Content-Digest but with an ETag, as ECR and some Nexus setups
	// do. The ETag still carries the digest, and If-None-Match still works.
	ManifestWithoutDigest bool

	// GzipBlobs sends blob bodies with Content-Encoding: gzip and no
	// Content-Length when the request's Accept-Encoding allows gzip. Range
	// requests still get unencoded bytes.
	GzipBlobs bool

	// RelativeRedirect responds to blob GETs with a 307 whose Location is a
	// relative path on the registry's own host, as Google Artifact Registry
	// does, instead of an absolute CDN URL. It works with or without
	// Options.CDNAddr.
	RelativeRedirect bool
}

// quirkState holds the current Quirks.
type quirkState struct {
	mu     sync.Mutex
	quirks Quirks
}

// SetQuirks replaces the active quirks. The zero Quirks is Docker Hub.
func (h *Hub) SetQuirks(q Quirks) {
	h.quirks.mu.Lock()
	defer h.quirks.mu.Unlock()
	h.quirks.quirks = q
}

// Quirks returns the active quirks.
func (h *Hub) Quirks() Quirks {
	h.quirks.mu.Lock()
	defer h.quirks.mu.Unlock()
	return h.quirks.quirks
}

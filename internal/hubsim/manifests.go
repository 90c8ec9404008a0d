package hubsim

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's manifest media types. The OCI ones come from image-spec.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// AllManifestTypes is an Accept value that names the four manifest types a
// modern client accepts.
const AllManifestTypes = v1.MediaTypeImageIndex + ", " + v1.MediaTypeImageManifest + ", " +
	MediaTypeDockerManifestList + ", " + MediaTypeDockerManifest

// serveManifest serves GET and HEAD /v2/<repo>/manifests/<tag or digest>.
// A successful GET, or a GET that gets 304, costs the identity one pull. A
// HEAD costs nothing and still gets 200 when the quota is spent.
func (h *Hub) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	h.stats.update(func(s *Stats) {
		if r.Method == http.MethodHead {
			s.ManifestHeads++
			s.ManifestHeadsByRepo[repo]++
			return
		}
		s.ManifestGets++
		s.ManifestGetsByRepo[repo]++
	})

	id, ok := h.authorize(w, r, repo, "pull")
	if !ok {
		return
	}
	if h.applyFault(w, r, stageManifest, repo, id) {
		return
	}

	entry, err := h.content.manifest(repo, ref)
	if err != nil {
		detail := "unknown tag=" + ref
		if _, parseErr := digest.Parse(ref); parseErr == nil {
			detail = "unknown digest=" + ref
		}
		writeError(w, http.StatusNotFound, codeManifestUnknown, "manifest unknown", detail)
		return
	}
	if message := negotiate(entry.mediaType, acceptedTypes(r)); message != "" {
		writeError(w, http.StatusNotFound, codeManifestUnknown, message, nil)
		return
	}

	if r.Method == http.MethodHead {
		h.setRateLimitHeaders(w, id, h.limiter.remaining(id))
		h.setManifestHeaders(w, entry, true)
		w.WriteHeader(http.StatusOK)
		return
	}

	// NOTE: hubsim charges the pull only after the manifest is found, so a
	// GET of an unknown tag gets 404 even with the quota spent. Docker
	// Hub's order here is not documented.
	remaining, ok := h.limiter.take(id)
	if !ok {
		h.stats.update(func(s *Stats) { s.RateLimited++ })
		h.writeQuotaExceeded(w, id)
		return
	}
	h.stats.update(func(s *Stats) { s.Pulls[id.source]++ })
	h.setRateLimitHeaders(w, id, remaining)

	if etagMatches(r.Header.Values("If-None-Match"), entry.digest) {
		w.Header().Set("Etag", `"`+entry.digest.String()+`"`)
		w.WriteHeader(http.StatusNotModified)
		return
	}

	h.setManifestHeaders(w, entry, false)
	w.WriteHeader(http.StatusOK)
	fault := h.takeBodyFault(r, stageManifest, repo)
	h.copyBody(w, r, bytes.NewReader(entry.body), fault, int64(len(entry.body)))
}

// setManifestHeaders sets Content-Type, Docker-Content-Digest,
// Content-Length and ETag, leaving out what the active quirks drop.
func (h *Hub) setManifestHeaders(w http.ResponseWriter, entry *manifestEntry, head bool) {
	quirks := h.Quirks()
	omitDigest := quirks.ManifestWithoutDigest || (head && quirks.ManifestHeadWithoutDigest)

	if !(head && quirks.ManifestHeadWithoutDigest) {
		w.Header().Set("Content-Type", entry.mediaType)
	}
	if !omitDigest {
		w.Header().Set("Docker-Content-Digest", entry.digest.String())
	}
	w.Header().Set("Content-Length", itoa(int64(len(entry.body))))
	w.Header().Set("Etag", `"`+entry.digest.String()+`"`)
}

// acceptedTypes returns the media types named in every Accept header of r,
// whether the client sent several headers or one comma-separated list.
// Parameters such as q= are dropped, as distribution does.
func acceptedTypes(r *http.Request) map[string]bool {
	types := map[string]bool{}
	for _, value := range r.Header.Values("Accept") {
		for _, item := range strings.Split(value, ",") {
			mediaType, _, _ := strings.Cut(item, ";")
			mediaType = strings.ToLower(strings.TrimSpace(mediaType))
			if mediaType != "" {
				types[mediaType] = true
			}
		}
	}
	return types
}

// negotiate returns the MANIFEST_UNKNOWN message for a stored manifest of
// mediaType that the request does not accept, or "" when it may be sent.
// The OCI messages are those of distribution, which Docker Hub runs. A
// request without Accept accepts none of the four types; wildcards are not
// honoured, as in distribution.
func negotiate(mediaType string, accepted map[string]bool) string {
	if accepted[mediaType] {
		return ""
	}

	switch mediaType {
	case v1.MediaTypeImageIndex:
		return "OCI index found, but accept header does not support OCI indexes"
	case v1.MediaTypeImageManifest:
		return "OCI manifest found, but accept header does not support OCI manifests"
	case MediaTypeDockerManifestList:
		// NOTE: distribution would serve the linux/amd64 child here, or
		// convert it to schema 1; hubsim returns 404 instead.
		return "manifest list found, but accept header does not support manifest lists"
	case MediaTypeDockerManifest:
		// NOTE: distribution would convert to schema 1 here; hubsim returns
		// 404 instead, since Docker Hub no longer serves schema 1.
		return "schema 2 manifest found, but accept header does not support schema 2 manifests"
	}
	return ""
}

// etagMatches reports whether an If-None-Match header names dgst, quoted or
// bare, or is "*".
func etagMatches(values []string, dgst digest.Digest) bool {
	for _, value := range values {
		for _, tag := range strings.Split(value, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || strings.Trim(tag, `"`) == dgst.String() {
				return true
			}
		}
	}
	return false
}

package hubsim

import (
	"net/http"
	"strings"
)

// route is a parsed /v2/<name>/... path.
type route struct {
	kind string // "manifests", "blobs", "uploads", "tags", "referrers"
	repo string
	ref  string // tag or digest; empty for tags and uploads
}

// parseRoute splits a /v2/ path after the prefix. Repository names contain
// slashes, so the last route marker decides where the name ends.
func parseRoute(rest string) (route, bool) {
	if name, found := strings.CutSuffix(rest, "/tags/list"); found {
		return route{kind: "tags", repo: name}, name != ""
	}
	if i := strings.Index(rest, "/blobs/uploads"); i > 0 {
		return route{kind: "uploads", repo: rest[:i]}, true
	}

	for _, kind := range []string{"manifests", "blobs", "referrers"} {
		marker := "/" + kind + "/"
		i := strings.LastIndex(rest, marker)
		if i <= 0 {
			continue
		}
		ref := rest[i+len(marker):]
		if ref == "" || strings.Contains(ref, "/") {
			return route{}, false
		}
		return route{kind: kind, repo: rest[:i], ref: ref}, true
	}
	return route{}, false
}

// serveRegistry is registry-1.docker.io: the /v2/ API, plus /token when the
// token service has no listener of its own, plus the relative-redirect
// download path.
func (h *Hub) serveRegistry(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")

	path := r.URL.Path
	switch {
	case path == "/token" && h.opts.TokenAddr == "":
		h.serveToken(w, r)
	case strings.HasPrefix(path, relativeDownloadPrefix):
		h.serveCDN(w, r)
	case path == "/v2/" || path == "/v2":
		h.servePing(w, r)
	case path == "/v2/_catalog":
		h.serveCatalog(w, r)
	case strings.HasPrefix(path, "/v2/"):
		h.serveRepositoryRoute(w, r, strings.TrimPrefix(path, "/v2/"))
	default:
		writeError(w, http.StatusNotFound, codeNameUnknown, "page not found", nil)
	}
}

func (h *Hub) serveRepositoryRoute(w http.ResponseWriter, r *http.Request, rest string) {
	rt, ok := parseRoute(rest)
	if !ok {
		writeError(w, http.StatusNotFound, codeNameUnknown, "page not found", nil)
		return
	}

	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case rt.kind == "manifests" && read:
		h.serveManifest(w, r, rt.repo, rt.ref)
	case rt.kind == "blobs" && read:
		h.serveBlob(w, r, rt.repo, rt.ref)
	case rt.kind == "tags" && r.Method == http.MethodGet:
		h.serveTags(w, r, rt.repo)
	case rt.kind == "referrers" && r.Method == http.MethodGet:
		h.serveReferrers(w, r, rt.repo, rt.ref)
	case isWrite(r.Method):
		// Pushes and deletes need a push scope, which the token service
		// never grants here, so they end in 401 as on Docker Hub without
		// write access to the repository.
		h.authorize(w, r, rt.repo, "push")
	default:
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "the operation is unsupported", nil)
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// servePing serves GET /v2/. It returns 401 with the challenge without a
// valid token, and 200 {} with one.
func (h *Hub) servePing(w http.ResponseWriter, r *http.Request) {
	h.stats.update(func(s *Stats) { s.Pings++ })

	if h.applyFault(w, r, stageOther, "", identity{}) {
		return
	}
	if _, ok := h.authorize(w, r, "", ""); !ok {
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// serveCatalog rejects GET /v2/_catalog with 401 UNAUTHORIZED, because
// Docker Hub's token service never grants the registry:catalog:* scope.
func (h *Hub) serveCatalog(w http.ResponseWriter, r *http.Request) {
	errorCode := ""
	if _, ok := bearerToken(r); ok {
		errorCode = challengeInsufficientScope
	}
	h.challenge(w, r, "registry:catalog:*", errorCode, "authentication required", nil)
}

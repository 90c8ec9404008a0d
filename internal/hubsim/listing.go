package hubsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// serveTags serves GET /v2/<repo>/tags/list with the tags in lexical
// order. n limits the page and last starts after that tag. A page cut short
// by n carries a Link header to the next one, as the OCI distribution spec requires.
func (h *Hub) serveTags(w http.ResponseWriter, r *http.Request, repo string) {
	h.stats.update(func(s *Stats) { s.TagLists++ })

	id, ok := h.authorize(w, r, repo, "pull")
	if !ok {
		return
	}
	if h.applyFault(w, r, stageOther, repo, id) {
		return
	}

	tags, err := h.content.tags(repo)
	if err != nil {
		writeError(w, http.StatusNotFound, codeNameUnknown, "repository name not known to registry", map[string]string{"name": repo})
		return
	}

	query := r.URL.Query()
	if last := query.Get("last"); last != "" {
		i := sort.SearchStrings(tags, last)
		if i < len(tags) && tags[i] == last {
			i++
		}
		tags = tags[i:]
	}

	if param := query.Get("n"); param != "" {
		n, err := strconv.Atoi(param)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, codePaginationNumber, "invalid number of results requested", map[string]string{"n": param})
			return
		}
		if n < len(tags) {
			tags = tags[:n]
			if n > 0 {
				next := url.Values{"last": {tags[n-1]}, "n": {param}}
				w.Header().Set("Link", `</v2/`+repo+`/tags/list?`+next.Encode()+`>; rel="next"`)
			}
		}
	}

	writeJSON(w, http.StatusOK, map[string]any{"name": repo, "tags": tags})
}

// serveReferrers serves GET /v2/<repo>/referrers/<digest> with an OCI
// index of the repository's manifests whose subject is digest, filtered by
// the artifactType query parameter when given.
func (h *Hub) serveReferrers(w http.ResponseWriter, r *http.Request, repo, ref string) {
	h.stats.update(func(s *Stats) { s.ReferrersGets++ })

	id, ok := h.authorize(w, r, repo, "pull")
	if !ok {
		return
	}
	if h.applyFault(w, r, stageOther, repo, id) {
		return
	}

	dgst, err := digest.Parse(ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, "invalid digest", map[string]string{"digest": ref})
		return
	}
	found, err := h.content.referrers(repo, dgst)
	if err != nil {
		writeError(w, http.StatusNotFound, codeNameUnknown, "repository name not known to registry", map[string]string{"name": repo})
		return
	}

	artifactType := r.URL.Query().Get("artifactType")
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}

	index := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{},
	}
	for _, entry := range found {
		if artifactType != "" && entry.artifactType != artifactType {
			continue
		}
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType:    entry.mediaType,
			Digest:       entry.digest,
			Size:         int64(len(entry.body)),
			ArtifactType: entry.artifactType,
			Annotations:  entry.annotations,
		})
	}

	body, err := json.Marshal(index)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", "encode referrers index: "+err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", v1.MediaTypeImageIndex)
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

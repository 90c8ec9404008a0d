package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestPushRejected(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	layer := m.std.Alpine.Layers[0].Digest
	requests := []struct{ method, path string }{
		{http.MethodPut, manifestPath("library/alpine", "3.20")},
		{http.MethodDelete, manifestPath("library/alpine", "3.20")},
		{http.MethodDelete, manifestPath("library/alpine", m.std.Alpine.Digest.String())},
		{http.MethodDelete, blobPath("library/alpine", layer)},
		{http.MethodPost, "/v2/library/alpine/blobs/uploads/"},
		{http.MethodPatch, "/v2/library/alpine/blobs/uploads/0f3c6d1e"},
		{http.MethodPut, "/v2/library/alpine/blobs/uploads/0f3c6d1e?digest=" + url.QueryEscape(layer.String())},
		{http.MethodGet, "/v2/library/alpine/blobs/uploads/0f3c6d1e"},
	}

	for _, req := range requests {
		r := m.do(req.method, req.path, nil)
		expectError(t, req.method+" "+req.path, r, http.StatusMethodNotAllowed, "UNSUPPORTED")
	}
	if got := hubRequests(m.hub); got != 0 {
		t.Errorf("hub received %d requests for push and delete, want 0", got)
	}
}

func TestNameTraversalRejected(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	requests := []struct {
		path string
		code string
	}{
		{"/v2/../../etc/manifests/latest", "NAME_INVALID"},
		{"/v2/library/../../etc/manifests/latest", "NAME_INVALID"},
		{"/v2/library/alpine/../../../etc/passwd/manifests/latest", "NAME_INVALID"},
		{"/v2/%2e%2e/%2e%2e/etc/manifests/latest", "NAME_INVALID"},
		{"/v2/..%2f..%2fetc/manifests/latest", "NAME_INVALID"},
		{"/v2/../../etc/blobs/" + m.std.Alpine.Layers[0].Digest.String(), "NAME_INVALID"},
		{"/v2/alpine/manifests/3.20?ns=" + url.QueryEscape("../../etc"), "NAME_INVALID"},
		{"/v2/library/alpine/manifests/..", "TAG_INVALID"},
		{"/v2/library/alpine/manifests/sha256:..", "DIGEST_INVALID"},
	}

	for _, req := range requests {
		r := m.get(req.path, acceptAll())
		expectError(t, "GET "+req.path, r, http.StatusBadRequest, req.code)
	}
	if got := hubRequests(m.hub); got != 0 {
		t.Errorf("hub received %d requests for invalid names, want 0", got)
	}
	if repos := catalogOf(t, m); len(repos) != 0 {
		t.Errorf("catalog lists %v after requests with invalid names only, want nothing stored", repos)
	}
}

func TestUnconfiguredRegistry(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	paths := []string{
		manifestPath("org/app", "1") + "?ns=quay.io",
		manifestPath("quay.io/org/app", "1"),
		blobPath("ghcr.io/owner/app", m.std.Alpine.Layers[0].Digest),
		manifestPath("app", "1") + "?ns=" + url.QueryEscape("localhost:5000"),
		"/v2/localhost/app/tags/list",
	}

	for _, path := range paths {
		r := m.get(path, acceptAll())
		expectError(t, "GET "+path, r, http.StatusNotFound, "NAME_UNKNOWN")
		if head := m.head(path, acceptAll()); head.status != http.StatusNotFound {
			t.Errorf("HEAD %s: status %d, want 404", path, head.status)
		}
	}
	if got := hubRequests(m.hub); got != 0 {
		t.Errorf("hub received %d requests for registries that are not configured, want 0", got)
	}
}

// catalogOf returns the repositories /v2/_catalog lists.
func catalogOf(t *testing.T, m *mirror) []string {
	t.Helper()
	r := m.get("/v2/_catalog", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v2/_catalog: status %d (body %q)", r.status, r.body)
	}
	var catalog struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(r.body, &catalog); err != nil {
		t.Fatalf("decode catalog %q: %v", r.body, err)
	}
	return catalog.Repositories
}

func TestCatalogListsStored(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	if repos := catalogOf(t, m); len(repos) != 0 {
		t.Errorf("catalog of an empty store is %v, want empty", repos)
	}

	m.pullImage("alpine", m.std.Alpine)
	m.pullImage(hubsim.MovingRepo, m.std.Moving)
	hubBefore := hubRequests(m.hub)

	repos := catalogOf(t, m)
	if want := []string{"library/alpine", "library/moving"}; !slices.Equal(repos, want) {
		t.Errorf("catalog is %v, want %v", repos, want)
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("catalog sent the hub %d requests, want 0: it lists the store", got)
	}

	page := m.get("/v2/_catalog?n=1", nil)
	var first struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(page.body, &first); err != nil {
		t.Fatalf("decode catalog page %q: %v", page.body, err)
	}
	if !slices.Equal(first.Repositories, []string{"library/alpine"}) {
		t.Errorf("catalog page n=1 is %v, want [library/alpine]", first.Repositories)
	}
	if link := page.header.Get("Link"); !strings.Contains(link, "last=library%2Falpine") || !strings.Contains(link, `rel="next"`) {
		t.Errorf("catalog page n=1: Link %q, want a next link after library/alpine", link)
	}
}

func TestTagsListPassesThrough(t *testing.T) {
	m := newMirror(t, mirrorConfig{})

	for i := 1; i <= 2; i++ {
		r := m.get("/v2/"+hubsim.MovingRepo+"/tags/list", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET tags list: status %d (body %q)", r.status, r.body)
		}
		var list struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatalf("decode tags list %q: %v", r.body, err)
		}
		if !slices.Equal(list.Tags, []string{"v1", "v2"}) {
			t.Errorf("request %d: tags %v, want [v1 v2] as upstream lists them", i, list.Tags)
		}
		if got := m.hub.Stats().TagLists; got != i {
			t.Errorf("request %d: hub served %d tag lists, want %d: tag lists pass through", i, got, i)
		}
	}

	short := m.get("/v2/moving/tags/list?n=1", nil)
	if short.status != http.StatusOK {
		t.Errorf("GET moving tags list with n=1: status %d, want 200", short.status)
	}
	if !strings.Contains(string(short.body), `"v1"`) || strings.Contains(string(short.body), `"v2"`) {
		t.Errorf("GET moving tags list with n=1: body %q, want v1 only", short.body)
	}
	link := short.header.Get("Link")
	if !strings.HasPrefix(link, "</v2/moving/tags/list?") || !strings.Contains(link, "last=v1") {
		t.Errorf("GET moving tags list with n=1: Link %q, want the next page on the mirror's own path after v1", link)
	}
}

func TestReferrersFiltered(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	subject := m.std.MultiArch.Images[0].Digest
	path := "/v2/" + hubsim.MultiArchRepo + "/referrers/" + subject.String()

	decode := func(what string, r response) v1.Index {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d (body %q)", what, r.status, r.body)
		}
		if got := r.header.Get("Content-Type"); got != v1.MediaTypeImageIndex {
			t.Errorf("%s: Content-Type %q, want %s", what, got, v1.MediaTypeImageIndex)
		}
		var index v1.Index
		if err := json.Unmarshal(r.body, &index); err != nil {
			t.Fatalf("%s: decode index %q: %v", what, r.body, err)
		}
		return index
	}

	all := m.get(path, nil)
	index := decode("unfiltered", all)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != m.std.SBOM.Digest {
		t.Errorf("unfiltered: referrers %v, want the seeded SBOM %s", index.Manifests, m.std.SBOM.Digest)
	} else if index.Manifests[0].ArtifactType != hubsim.SBOMArtifactType {
		t.Errorf("unfiltered: artifactType %q, want %s", index.Manifests[0].ArtifactType, hubsim.SBOMArtifactType)
	}
	if got := all.header.Get("OCI-Filters-Applied"); got != "" {
		t.Errorf("unfiltered: OCI-Filters-Applied %q, want none", got)
	}

	hubBefore := hubRequests(m.hub)
	matching := m.get(path+"?artifactType="+url.QueryEscape(hubsim.SBOMArtifactType), nil)
	if index := decode("filtered by the SBOM type", matching); len(index.Manifests) != 1 {
		t.Errorf("filtered by the SBOM type: %d referrers, want 1", len(index.Manifests))
	}
	if got := matching.header.Get("OCI-Filters-Applied"); got != "artifactType" {
		t.Errorf("filtered by the SBOM type: OCI-Filters-Applied %q, want artifactType", got)
	}

	other := m.get(path+"?artifactType="+url.QueryEscape("application/vnd.example.signature.v1+json"), nil)
	if index := decode("filtered by another type", other); len(index.Manifests) != 0 {
		t.Errorf("filtered by another type: %d referrers, want 0", len(index.Manifests))
	}
	if got := other.header.Get("OCI-Filters-Applied"); got != "artifactType" {
		t.Errorf("filtered by another type: OCI-Filters-Applied %q, want artifactType", got)
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("filtered requests within the tag TTL sent the hub %d requests, want 0: the stored list is filtered", got)
	}

	none := m.get("/v2/"+hubsim.MultiArchRepo+"/referrers/"+m.std.MultiArch.Images[1].Digest.String(), nil)
	if index := decode("subject without referrers", none); len(index.Manifests) != 0 {
		t.Errorf("subject without referrers: %d referrers, want 0", len(index.Manifests))
	}
}

func TestErrorMessageNamesTarget(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	missing := sha256Digest([]byte("a blob the hub never stored"))
	requests := []struct {
		path   string
		status int
		code   string
		names  string
	}{
		{manifestPath("library/alpine", "no-such-tag"), http.StatusNotFound, "MANIFEST_UNKNOWN", "library/alpine"},
		{blobPath("library/alpine", m.std.Alpine.Layers[0].Digest) + "x", http.StatusBadRequest, "DIGEST_INVALID", ""},
		{blobPath("library/alpine", missing), http.StatusNotFound, "BLOB_UNKNOWN", "library/alpine"},
	}

	for _, req := range requests {
		r := m.get(req.path, acceptAll())
		expectError(t, "GET "+req.path, r, req.status, req.code)
		if req.names == "" {
			continue
		}
		if _, message := ociError(t, r); !strings.Contains(message, req.names) {
			t.Errorf("GET %s: message %q does not name %s, so the client cannot tell what was not found", req.path, message, req.names)
		}
	}
}

func TestResponseHeadersEverywhere(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	m.pullImage("alpine", m.std.Alpine)
	layer := m.std.Alpine.Layers[0]

	// do checks Docker-Distribution-API-Version and X-Request-Id on every
	// response; this table covers each endpoint and each kind of error.
	requests := []struct {
		method, path string
		header       http.Header
		status       int
	}{
		{http.MethodGet, "/v2/", nil, http.StatusOK},
		{http.MethodGet, "/v2", nil, http.StatusOK},
		{http.MethodGet, "/v2/_catalog", nil, http.StatusOK},
		{http.MethodGet, manifestPath("alpine", "3.20"), acceptAll(), http.StatusOK},
		{http.MethodHead, manifestPath("alpine", "3.20"), acceptAll(), http.StatusOK},
		{http.MethodGet, blobPath("alpine", layer.Digest), nil, http.StatusOK},
		{http.MethodGet, blobPath("alpine", layer.Digest), header("Range", "bytes=0-0"), http.StatusPartialContent},
		{http.MethodGet, blobPath("alpine", layer.Digest), header("Range", fmt.Sprintf("bytes=%d-", layer.Size)), http.StatusRequestedRangeNotSatisfiable},
		{http.MethodGet, "/v2/alpine/tags/list", nil, http.StatusOK},
		{http.MethodGet, manifestPath("alpine", "no-such-tag"), acceptAll(), http.StatusNotFound},
		{http.MethodGet, manifestPath("Alpine", "3.20"), acceptAll(), http.StatusBadRequest},
		{http.MethodGet, manifestPath("quay.io/org/app", "1"), acceptAll(), http.StatusNotFound},
		{http.MethodPut, manifestPath("alpine", "3.20"), nil, http.StatusMethodNotAllowed},
		{http.MethodGet, "/metrics", nil, http.StatusNotFound},
	}

	ids := map[string]bool{}
	for _, req := range requests {
		r := m.do(req.method, req.path, req.header)
		if r.status != req.status {
			t.Errorf("%s %s: status %d, want %d", req.method, req.path, r.status, req.status)
		}
		id := r.header.Get("X-Request-Id")
		if ids[id] {
			t.Errorf("%s %s: X-Request-Id %q repeats an earlier response's; each request needs its own", req.method, req.path, id)
		}
		ids[id] = true
	}
}

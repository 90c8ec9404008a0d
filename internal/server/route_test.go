package server

import (
	"errors"
	"net/http"
	"testing"
)

func testServer() *Server {
	return New(Options{Upstreams: []Upstream{
		{Name: "docker.io", Default: true, DockerHub: true},
		{Name: "ghcr.io"},
		{Name: "127.0.0.1:5001"},
	}})
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path     string
		endpoint endpoint
		upstream string
		repo     string
		ref      string
		ns       string
	}{
		{"/v2/", endpointPing, "", "", "", ""},
		{"/v2/_catalog", endpointCatalog, "", "", "", ""},
		{"/v2/alpine/manifests/3.20", endpointManifest, "docker.io", "library/alpine", "3.20", ""},
		{"/v2/library/alpine/manifests/3.20", endpointManifest, "docker.io", "library/alpine", "3.20", ""},
		{"/v2/alpine/manifests/3.20?ns=ghcr.io", endpointManifest, "ghcr.io", "alpine", "3.20", "ghcr.io"},
		{"/v2/alpine/manifests/3.20?ns=docker.io", endpointManifest, "docker.io", "library/alpine", "3.20", "docker.io"},
		{"/v2/ghcr.io/owner/app/manifests/1", endpointManifest, "ghcr.io", "owner/app", "1", ""},
		{"/v2/alpine/manifests/3.20?ns=GHCR.io", endpointManifest, "ghcr.io", "alpine", "3.20", "GHCR.io"},
		{"/v2/GHCR.io/owner/app/manifests/1", endpointManifest, "ghcr.io", "owner/app", "1", ""},
		{"/v2/ghcr.io/owner/app/manifests/1?ns=ghcr.io", endpointManifest, "ghcr.io", "owner/app", "1", "ghcr.io"},
		{"/v2/docker.io/alpine/manifests/3.20?ns=docker.io", endpointManifest, "docker.io", "library/alpine", "3.20", "docker.io"},
		{"/v2/ghcr.io/owner/app/manifests/1?ns=docker.io", endpointManifest, "docker.io", "ghcr.io/owner/app", "1", "docker.io"},
		{"/v2/127.0.0.1:5001/app/blobs/sha256:" + zeros, endpointBlob, "127.0.0.1:5001", "app", "sha256:" + zeros, ""},
		{"/v2/org/manifests/manifests/latest", endpointManifest, "docker.io", "org/manifests", "latest", ""},
		{"/v2/org/app/tags/list", endpointTags, "docker.io", "org/app", "", ""},
		{"/v2/org/app/referrers/sha256:" + zeros, endpointReferrers, "docker.io", "org/app", "sha256:" + zeros, ""},
		{"/v2/org/app/blobs/uploads/", endpointBlobUpload, "docker.io", "org/app", "", ""},
	}
	s := testServer()
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "http://mirror"+tt.path, nil)
		rt, err := s.parseRoute(r)
		if err != nil {
			t.Errorf("parseRoute(%s): %v", tt.path, err)
			continue
		}
		if rt.endpoint != tt.endpoint || rt.upstream != tt.upstream || rt.repo != tt.repo || rt.ref != tt.ref || rt.namespace != tt.ns {
			t.Errorf("parseRoute(%s) = endpoint %d upstream %q repo %q ref %q ns %q; want %d %q %q %q %q",
				tt.path, rt.endpoint, rt.upstream, rt.repo, rt.ref, rt.namespace, tt.endpoint, tt.upstream, tt.repo, tt.ref, tt.ns)
		}
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

func TestParseRouteRejects(t *testing.T) {
	tests := []struct {
		path   string
		status int
		code   string
	}{
		{"/v2/../../etc/manifests/latest", http.StatusBadRequest, "NAME_INVALID"},
		{"/v2/Upper/manifests/latest", http.StatusBadRequest, "NAME_INVALID"},
		{"/v2/a//b/manifests/latest", http.StatusBadRequest, "NAME_INVALID"},
		{"/v2/app/manifests/-bad", http.StatusBadRequest, "TAG_INVALID"},
		{"/v2/app/manifests/sha256:1234", http.StatusBadRequest, "DIGEST_INVALID"},
		{"/v2/app/blobs/latest", http.StatusBadRequest, "DIGEST_INVALID"},
		{"/v2/app/blobs/md5:" + zeros[:32], http.StatusBadRequest, "DIGEST_INVALID"},
		{"/v2/app/manifests/latest?ns=bad%20host", http.StatusBadRequest, "NAME_INVALID"},
		{"/v2/app/manifests/latest?ns=quay.io", http.StatusNotFound, "NAME_UNKNOWN"},
		{"/v2/quay.io/org/app/manifests/latest", http.StatusNotFound, "NAME_UNKNOWN"},
		{"/v2/app/nothing", http.StatusNotFound, "NAME_UNKNOWN"},
	}
	s := testServer()
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "http://mirror"+tt.path, nil)
		_, err := s.parseRoute(r)
		var e *apiError
		if !errors.As(err, &e) {
			t.Errorf("parseRoute(%s) err = %v, want an API error", tt.path, err)
			continue
		}
		if e.Status != tt.status || e.Code != tt.code {
			t.Errorf("parseRoute(%s) = %d %s, want %d %s", tt.path, e.Status, e.Code, tt.status, tt.code)
		}
	}
}

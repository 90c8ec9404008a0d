package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseRange checks that any Range header yields a range inside the
// blob or a whole-blob or unsatisfiable result, never one past the end.
func FuzzParseRange(f *testing.F) {
	for _, seed := range []string{"bytes=0-1", "bytes=-5", "bytes=7-", "bytes=0-1,2-3", "bytes=9-2", "bytes=--1"} {
		f.Add(seed, int64(10))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			return
		}
		rng, result := parseRange(header, size)
		if result != rangePartial {
			return
		}
		if rng.start < 0 || rng.end >= size || rng.start > rng.end {
			t.Fatalf("parseRange(%q, %d) = %+v, outside the blob", header, size, rng)
		}
	})
}

// FuzzParseRoute checks that whatever the path, a route that parses names
// a configured upstream and a repository of the OCI grammar, which keeps
// request paths from escaping the store's key layout.
func FuzzParseRoute(f *testing.F) {
	for _, seed := range []string{"/v2/alpine/manifests/3.20", "/v2/../../etc/manifests/x", "/v2/ghcr.io/a/b/blobs/sha256:" + zeros, "/v2/a/tags/list?ns=ghcr.io"} {
		f.Add(seed)
	}
	s := testServer()
	f.Fuzz(func(t *testing.T, path string) {
		u, err := url.Parse("http://mirror" + path)
		if err != nil {
			return
		}
		r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}
		rt, err := s.parseRoute(r)
		if err != nil || rt.endpoint == endpointPing || rt.endpoint == endpointCatalog {
			return
		}
		if _, ok := s.upstreams[rt.upstream]; !ok {
			t.Fatalf("path %q routed to unconfigured upstream %q", path, rt.upstream)
		}
		if !validRepositoryName(rt.repo) || strings.Contains(rt.repo, "..") {
			t.Fatalf("path %q gave invalid repository %q", path, rt.repo)
		}
		if rt.endpoint == endpointManifest && rt.digest == "" && !validTag(rt.ref) {
			t.Fatalf("path %q gave invalid tag %q", path, rt.ref)
		}
	})
}
